/*
 * state.h - making and closing retryrun's Lua state: its allocator (the
 * pool of pool.h, or malloc where the pool is off) and its collector's
 * mode. Knows no retryrun module; host.c fills the state.
 */
#ifndef RETRYRUN_STATE_H
#define RETRYRUN_STATE_H

#include <lua.h>

/* A new Lua state, its collector generational (state.c says why), or
 * NULL when out of memory. With the pool, its allocator, and panic and
 * warn installed; without (POOL_ON 0), luaL_newstate's own three. Close
 * it with state_close. */
lua_State *state_new(lua_CFunction panic, lua_WarnFunction warn);

/* Closes L, then frees its pool. */
void state_close(lua_State *L);

#endif
