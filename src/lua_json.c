/*
 * lua_json.c - the C side of require "retryrun.json": the array metatable
 * the decoder (lua_json_decode.c) gives every array and the encoder
 * (lua_json_encode.c) looks for, and the retryrun.core functions over the
 * two (see lua_json.h).
 *
 * It uses only the Lua C API; its one piece of state is the array
 * metatable's registry entry. It never parses or writes JSON itself.
 */
#include <lauxlib.h>

#include "lua_json.h"

/* core.json_decode(s) -> value; raises the message for malformed JSON. */
static int ljson_decode(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char err[128];

  if(json_decode(L, s, len, err, sizeof(err))) {
    lua_pushstring(L, err);
    return lua_error(L);
  }
  return 1;
}

/* core.json_encode(v) -> string; raises the encoder's message, with the
 * caller's position. */
static int ljson_encode(lua_State *L)
{
  char err[320];

  luaL_checkany(L, 1);
  lua_settop(L, 1);
  if(json_encode(L, 1, err, sizeof(err)))
    return luaL_error(L, "%s", err);
  return 1;
}

/* The registry key of the array metatable. */
static const char array_mt_key = 'a';

void json_push_array_mt(lua_State *L)
{
  if(lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key) == LUA_TTABLE)
    return;
  lua_pop(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, JSON_ARRAY_MT);
  lua_setfield(L, -2, "__name");
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &array_mt_key);
}

void ljson_register(lua_State *L)
{
  static const luaL_Reg fns[] = {
    {"json_decode", ljson_decode},
    {"json_encode", ljson_encode},
    {NULL, NULL}
  };
  luaL_setfuncs(L, fns, 0);
  json_push_array_mt(L);
  lua_setfield(L, -2, "json_array_mt");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "json_null");
}
