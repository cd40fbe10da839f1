/*
 * lua_rate.h - the `rate` field of run.limits{}: client-side rate limits
 * per host, read from the script into ratelimit.c's rules.
 */
#ifndef RETRYRUN_LUA_RATE_H
#define RETRYRUN_LUA_RATE_H

#include <lua.h>

struct ratelimit;

/* Reads the rate field at idx: a rate for every host ("50/s"), a table
 * of them by key ({["api.example.com"] = "50/s", ["*"] = "adaptive"}),
 * or false for none. Sets *rl to the new rules (NULL for false) and
 * returns 1; returns 0 when the field is nil. Raises a bad-argument error
 * for argument `arg` of the calling function, having freed what it made,
 * when a key or rate is malformed or memory runs out. */
int lrate_read(lua_State *L, int idx, int arg, struct ratelimit **rl);

/* Replaces the run's rules with rl (which may be NULL), freeing the old
 * ones and every bucket they kept. */
void lrate_install(lua_State *L, struct ratelimit *rl);

/* Adds rate to the table at the top (retryrun.core): core.rate(url) ->
 * the requests a second a request to url is held to now, or nil. */
void lrate_register(lua_State *L);

#endif
