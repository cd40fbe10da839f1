/*
 * lua_redact.h - redaction (redact.h) for the Lua bindings: pushing a
 * message with its secrets hidden, the secret values of a request table,
 * and retryrun.core.redact / redact_names for scripts.
 */
#ifndef RETRYRUN_LUA_REDACT_H
#define RETRYRUN_LUA_REDACT_H

#include <lua.h>

#include "redact.h"

/* Pushes text with every URL in it redacted and the values in vals (may
 * be NULL) hidden. Raises a memory error if it must, leaking nothing of
 * its own (vals stays the caller's to free). */
void lredact_push(lua_State *L, const char *text, size_t len,
                  const struct redact_values *vals);

/* Pushes url redacted with the secrets of the request table at req (0
 * for none), as lredact_at does. A call's URL, wherever it is shown
 * (give-ups, hook events, -v, --log, reports, the summary's endpoints,
 * polls), is pushed by this with the call's request: its secret headers'
 * values are hidden in its URL too. */
void lredact_push_url(lua_State *L, const char *url, int req);

/* Pushes the message of the error value at idx, redacted, and returns
 * it: a string or number as it is, a table's message field (a GiveUp's),
 * else what type the value is. Reads raw, so no metamethod runs: safe where
 * nothing may yield. */
const char *lredact_push_error(lua_State *L, int idx);

/* Pushes text as lredact_push does, with the secret values of the
 * request table at req ({url=, headers=, body=, multipart=}; 0 for none)
 * hidden: all of them, however many. */
void lredact_push_req(lua_State *L, const char *text, size_t len, int req);

/* s (a name a script gave, already redacted alone) with the secret
 * values of the request table at req hidden too, written in buf (size
 * bytes; REDACTED if memory runs out), or s itself when there is nothing
 * to hide. Pushes nothing: safe while a luaL_Buffer is open. */
const char *lredact_str(lua_State *L, const char *s, int req, char *buf,
                        size_t size);

/* Replaces the string at idx with its redacted form: URLs, and the
 * secrets of the request table at req (0 for none). */
void lredact_at(lua_State *L, int idx, int req);

/* Adds redact and redact_names to the table at the top (retryrun.core). */
void lredact_register(lua_State *L);

#endif
