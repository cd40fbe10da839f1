/*
 * lua_plain.h - the request table of a plain call (http.get(url, opts)
 * and the other verbs with no body, query, session or expect), checked
 * and built in one step for retryrun.http; any other call, and every
 * call with a bad option, takes retryrun.http's general path, which
 * raises the error.
 *
 * Reads the script's tables without changing them and runs no
 * metamethod; uses lua_policy.h and lua_task.h to read a policy's hooks
 * and the running task's wrapper, and never calls the engine.
 */
#ifndef RETRYRUN_LUA_PLAIN_H
#define RETRYRUN_LUA_PLAIN_H

#include <lua.h>

/* Adds plain_request to the table at the top (retryrun.core); the
 * Policy metatable must exist. */
void lplain_register(lua_State *L);

#endif
