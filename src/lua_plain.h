/*
 * lua_plain.h - a plain call (http.get(url, opts) and the other verbs
 * with no body, query, session or expect) made in one step for
 * retryrun.http: its options checked and its request table built in one
 * pass, then handed to core.request. Any other call, and every call with
 * a bad option, takes retryrun.http's general path, which raises the
 * error.
 *
 * Reads the script's tables without changing them and runs no
 * metamethod; checks the request with lua_check.h's field checks (and
 * marks it checked for core.request), uses lua_policy.h and lua_task.h
 * to read a policy's hooks and the running task's wrapper, and reaches
 * the engine only through core.request.
 */
#ifndef RETRYRUN_LUA_PLAIN_H
#define RETRYRUN_LUA_PLAIN_H

#include <lua.h>

/* Adds plain_call to the table at the top (retryrun.core), which must
 * hold request already; the Policy metatable must exist. */
void lplain_register(lua_State *L);

#endif
