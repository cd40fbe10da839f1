/*
 * lua_plain.h - a plain call (http.get(url, opts) and the other verbs
 * with no body, query, session or expect) made in one step for
 * retryrun.http: its options checked and its request table built in one
 * pass, then started as core.request would start it. Any other call,
 * and every call with a bad option, takes retryrun.http's general path,
 * which raises the error.
 *
 * Reads the script's tables without changing them and runs no
 * metamethod; checks the request with lua_check.h's field checks (and
 * needs no other check), uses lua_policy.h and lua_task.h to read a
 * policy's hooks and the running task's wrapper, and reaches the engine
 * only through lcall_plain (lua_call.h), the start of core.request once
 * its checks have passed.
 */
#ifndef RETRYRUN_LUA_PLAIN_H
#define RETRYRUN_LUA_PLAIN_H

#include <lua.h>

/* Adds plain_call to the table at the top (retryrun.core); the
 * metatables luax_keys takes must exist. */
void lplain_register(lua_State *L);

#endif
