/*
 * lua_json_raw.c - the base library's raw functions (next, rawget,
 * rawset, rawlen, getmetatable, setmetatable) and the debug library's
 * getmetatable and setmetatable, each as the standard one but making a
 * lazy JSON view's table whole first (json_touch, lua_json_lazy.c), so
 * that no script sees a table of a view before it is whole, and pairs,
 * which hands out that next. The host puts them in place of the standard
 * ones (retryrun.stdlib); their messages are the standard ones'.
 *
 * Also the __len and __pairs of those tables, and core.json_unmade. It
 * uses only the Lua C API, json_touch and json_lazy_unmade; it has no
 * state.
 */
#include <lauxlib.h>

#include "lua_json.h"
#include "lua_json_decode.h"

/* next over a table json_touch made whole: the base library's. */
static int plain_next(lua_State *L)
{
  lua_settop(L, 2);
  if(lua_next(L, 1))
    return 2;
  lua_pushnil(L);
  return 1;
}

/* __len and __pairs of a view's table not yet whole (lua_json_lazy.c). */
int json_lazy_len(lua_State *L)
{
  json_touch(L, 1);
  lua_pushinteger(L, (lua_Integer)lua_rawlen(L, 1));
  return 1;
}

int json_lazy_pairs(lua_State *L)
{
  json_touch(L, 1);
  lua_pushcfunction(L, plain_next);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

static int lnext(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  json_touch(L, 1);
  return plain_next(L);
}

static int pairs_k(lua_State *L, int status, lua_KContext ctx)
{
  (void)L;
  (void)status;
  (void)ctx;
  return 3;
}

/* pairs as the base library's, but handing out the next above, so that
 * pairs({}) gives no way round it. */
static int lpairs(lua_State *L)
{
  luaL_checkany(L, 1);
  if(luaL_getmetafield(L, 1, "__pairs") == LUA_TNIL) {
    lua_pushcfunction(L, lnext);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
  }
  else {
    lua_pushvalue(L, 1);
    lua_callk(L, 1, 3, 0, pairs_k);
  }
  return 3;
}

static int lrawget(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  json_touch(L, 1);
  lua_settop(L, 2);
  lua_rawget(L, 1);
  return 1;
}

static int lrawset(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  json_touch(L, 1);
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

static int lrawlen(lua_State *L)
{
  int t = lua_type(L, 1);
  luaL_argexpected(L, t == LUA_TTABLE || t == LUA_TSTRING, 1,
                   "table or string");
  json_touch(L, 1);
  lua_pushinteger(L, (lua_Integer)lua_rawlen(L, 1));
  return 1;
}

static int lgetmetatable(lua_State *L)
{
  luaL_checkany(L, 1);
  json_touch(L, 1);
  if(!lua_getmetatable(L, 1)) {
    lua_pushnil(L);
    return 1;
  }
  luaL_getmetafield(L, 1, "__metatable");
  return 1;
}

static int lsetmetatable(lua_State *L)
{
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  json_touch(L, 1);
  if(luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
    return luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

static int ldebug_getmetatable(lua_State *L)
{
  luaL_checkany(L, 1);
  json_touch(L, 1);
  if(!lua_getmetatable(L, 1))
    lua_pushnil(L);
  return 1;
}

static int ldebug_setmetatable(lua_State *L)
{
  int t = lua_type(L, 2);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  json_touch(L, 1);
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

/* core.json_unmade(v) (lua_json.h). */
int ljson_unmade(lua_State *L)
{
  lua_pushinteger(L, lua_type(L, 1) == LUA_TTABLE ? json_lazy_unmade(L, 1)
                                                  : 0);
  return 1;
}

void ljson_lazy_register(lua_State *L)
{
  static const luaL_Reg base[] = {
    {"next", lnext},
    {"pairs", lpairs},
    {"rawget", lrawget},
    {"rawset", lrawset},
    {"rawlen", lrawlen},
    {"getmetatable", lgetmetatable},
    {"setmetatable", lsetmetatable},
    {NULL, NULL}
  };
  static const luaL_Reg debug[] = {
    {"getmetatable", ldebug_getmetatable},
    {"setmetatable", ldebug_setmetatable},
    {NULL, NULL}
  };
  luaL_newlib(L, base);
  lua_setfield(L, -2, "json_base");
  luaL_newlib(L, debug);
  lua_setfield(L, -2, "json_debug");
  lua_pushcfunction(L, ljson_unmade);
  lua_setfield(L, -2, "json_unmade");
}
