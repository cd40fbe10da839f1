/*
 * lua_json.c - the C side of require "retryrun.json": the array metatable
 * the decoder (lua_json_decode.c) gives every array and the encoder
 * (lua_json_encode.c) looks for, and the retryrun.core functions over the
 * two (see lua_json.h).
 *
 * It uses only the Lua C API; its state is two registry entries, the
 * array metatable and json.empty_array. It never parses or writes JSON
 * itself.
 */
#include <string.h>

#include <lauxlib.h>

#include "lua_json.h"

int json_options(lua_State *L, int arg, int *lazy)
{
  int t;
  if(lua_isnoneornil(L, arg))
    return 0;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while(lua_next(L, arg)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                  : NULL;
    if(!k || (strcmp(k, "null") && strcmp(k, "lazy"))) {
      if(k)
        lua_pushfstring(L, "unknown option '%s': the options are null "
                        "and lazy", k);
      else
        lua_pushfstring(L, "options take names, not a %s key: the "
                        "options are null and lazy", luaL_typename(L, -2));
      return luaL_argerror(L, arg, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
  t = lua_getfield(L, arg, "lazy");
  if(t == LUA_TBOOLEAN)
    *lazy = lua_toboolean(L, -1);
  else if(t != LUA_TNIL)
    return luaL_argerror(L, arg, lua_pushfstring(L, "lazy must be true or "
                         "false (got %s)", luaL_typename(L, -1)));
  lua_pop(L, 1);
  if(lua_getfield(L, arg, "null") == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  return lua_gettop(L);
}

/* core.json_decode(s [, {null = v, lazy = b}]) -> value, eager unless
 * lazy is true; raises the message for malformed JSON. */
static int ljson_decode(lua_State *L)
{
  char err[128];
  int lazy = 0, null_idx, rc;
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);

  null_idx = json_options(L, 2, &lazy);
  if(lazy)
    rc = json_decode_lazy(L, 1, null_idx, 0, err, sizeof(err));
  else
    rc = json_decode(L, s, len, null_idx, err, sizeof(err));
  if(rc) {
    lua_pushstring(L, err);
    return lua_error(L);
  }
  return 1;
}

/* core.json_encode(v) -> string; raises the encoder's message, with the
 * caller's position, and for a second argument (an option it does not
 * have). */
static int ljson_encode(lua_State *L)
{
  char err[320];

  luaL_checkany(L, 1);
  luaL_argcheck(L, lua_isnoneornil(L, 2), 2, "encode takes no options: "
                "keys are always sorted");
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

/* json.empty_array's __newindex. */
static int empty_array_newindex(lua_State *L)
{
  return luaL_error(L, "json.empty_array cannot change: json.array() "
                    "makes an array of your own");
}

/* The registry key of json.empty_array. */
static const char empty_array_key = 'e';

void json_push_empty_array(lua_State *L)
{
  if(lua_rawgetp(L, LUA_REGISTRYINDEX, &empty_array_key) == LUA_TTABLE)
    return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_createtable(L, 0, 3);
  lua_pushliteral(L, "retryrun.json.empty_array");
  lua_setfield(L, -2, "__name");
  lua_pushcfunction(L, empty_array_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);                 /* setmetatable cannot undo it */
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &empty_array_key);
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
  json_push_empty_array(L);
  lua_setfield(L, -2, "json_empty_array");
  ljson_lazy_register(L);
}
