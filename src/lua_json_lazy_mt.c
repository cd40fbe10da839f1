/*
 * lua_json_lazy_mt.c - the metatables of a lazy JSON view's tables not yet
 * whole (see lua_json_lazy.c): __index makes a missing member when it is
 * first read, __newindex forgets one a script sets first; __len and
 * __pairs (lua_json_raw.c) make the table whole.
 *
 * The two metatables, of arrays and of objects, are made once and kept
 * in the registry; __index and resp:json() also hold them as upvalues,
 * so that a level they make takes its own from there, not the registry
 * (an array made whole still gets json.array_mt from the registry).
 */
#include <lauxlib.h>

#include "lua_json.h"
#include "lua_json_decode.h"
#include "lua_json_lazy_internal.h"

/* Registry keys of the metatables of arrays and objects not yet whole. */
static const char lazy_array_key = 'A', lazy_object_key = 'O';

/* The index i of the key at k in the array whose state is s, 1 <= i <=
 * s->n (a float too, if it has that value); 0 for any other key. */
static lua_Integer element_index(lua_State *L, int k, const struct state *s)
{
  int isint;
  lua_Integer i;
  if(lua_type(L, k) != LUA_TNUMBER)
    return 0;
  i = lua_tointegerx(L, k, &isint);
  return isint && i >= 1 && i <= s->n ? i : 0;
}

/* Where the text of the missing member of the key at k starts, in the
 * table whose state s is at si, or NULL when none is missing under
 * that key. For an object, leaves the table of offsets at si + 1 (even
 * for NULL). */
static const char *missing(lua_State *L, int si, struct state *s, int k)
{
  lua_Integer i;
  if(s->array)
    return (i = element_index(L, k, s)) ? s->at[i - 1] : NULL;
  lua_getiuservalue(L, si, UV_KEYS);
  if(lua_type(L, k) != LUA_TSTRING)
    return NULL;
  lua_pushvalue(L, k);
  lua_rawget(L, si + 1);
  i = lua_tointeger(L, -1);         /* never 0: the object's '{' is first */
  lua_pop(L, 1);
  return i ? s->text + i : NULL;
}

/* The missing member of the key at k, in the table at t whose state s is
 * at si, is in place: it is forgotten. */
static void forget(lua_State *L, int t, int si, struct state *s, int k)
{
  if(s->array)
    s->at[element_index(L, k, s) - 1] = NULL;
  else {
    lua_pushvalue(L, k);
    lua_pushnil(L);
    lua_rawset(L, si + 1);
  }
  lazy_made_one(L, t, s);
}

/* __index(t, k): a missing member made and put in place; nil for a key
 * that is not a member. Upvalues: the lazy array and object metatables. */
static int lazy_index(lua_State *L)
{
  struct state *s;
  const char *p;
  if(lua_gettop(L) != 2)            /* called as a function */
    lua_settop(L, 2);
  if(lua_rawgetp(L, 1, &lazy_state_key) != LUA_TUSERDATA) /* 3 */
    return 0;
  s = lua_touserdata(L, 3);
  if(s->array) {                    /* the index found once */
    lua_Integer i = element_index(L, 2, s);
    if(!i || !s->at[i - 1])
      return 0;
    lazy_place_element(L, 1, 3, s, i, 1);
    return 1;
  }
  if(!(p = missing(L, 3, s, 2)))                           /* 4 */
    return 0;
  lazy_place_member(L, 1, 3, s, 4, 2, p, 1);
  return 1;
}

/* Raises msg as the VM would for the Lua code that called the
 * metamethod: with its position in front. */
static int where_error(lua_State *L, const char *msg)
{
  luaL_where(L, 1);
  lua_pushstring(L, msg);
  lua_concat(L, 2);
  return lua_error(L);
}

/* __newindex(t, k, v): set, as in any table; a member not yet made is
 * forgotten. */
static int lazy_newindex(lua_State *L)
{
  struct state *s;
  lua_settop(L, 3);
  /* a plain table's message, where the assignment was */
  if(lua_isnil(L, 2))
    return where_error(L, "table index is nil");
  if(lua_type(L, 2) == LUA_TNUMBER && !lua_isinteger(L, 2) &&
     lua_tonumber(L, 2) != lua_tonumber(L, 2))
    return where_error(L, "table index is NaN");
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_rawset(L, 1);
  if(lua_rawgetp(L, 1, &lazy_state_key) != LUA_TUSERDATA) /* 4 */
    return 0;
  s = lua_touserdata(L, 4);
  if(missing(L, 4, s, 2))
    forget(L, 1, 4, s, 2);
  return 0;
}

/* Both made at once: __index, one closure, holds both as upvalues. */
void json_push_lazy_mts(lua_State *L)
{
  static const luaL_Reg meta[] = {
    {"__newindex", lazy_newindex},
    {"__len", json_lazy_len},
    {"__pairs", json_lazy_pairs},
    {NULL, NULL}
  };
  if(lua_rawgetp(L, LUA_REGISTRYINDEX, &lazy_array_key) == LUA_TTABLE) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lazy_object_key);
    return;
  }
  lua_pop(L, 1);
  lua_createtable(L, 0, 5);
  luaL_setfuncs(L, meta, 0);
  lua_pushliteral(L, JSON_ARRAY_MT);      /* so that type errors name it */
  lua_setfield(L, -2, "__name");
  lua_createtable(L, 0, 4);
  luaL_setfuncs(L, meta, 0);
  lua_pushvalue(L, -2);
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, lazy_index, 2);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");
  lua_setfield(L, -3, "__index");
  lua_pushvalue(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &lazy_array_key);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &lazy_object_key);
}

/* lua_json_lazy_internal.h says what it does. */
void lazy_push_mt(lua_State *L, int array, int mts)
{
  if(mts)
    lua_pushvalue(L, lua_upvalueindex(mts + !array));
  else if(lua_rawgetp(L, LUA_REGISTRYINDEX,
                      array ? &lazy_array_key : &lazy_object_key) !=
          LUA_TTABLE) {
    lua_pop(L, 1);
    json_push_lazy_mts(L);
    lua_remove(L, array ? -1 : -2);
  }
}

