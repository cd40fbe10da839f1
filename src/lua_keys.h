/*
 * lua_keys.h - core.idempotent(method) and core.uuid() (lua_keys.c).
 */
#ifndef RETRYRUN_LUA_KEYS_H
#define RETRYRUN_LUA_KEYS_H

#include <lua.h>

/* Adds idempotent and uuid to the table on top (retryrun.core). */
void lkeys_register(lua_State *L);

#endif
