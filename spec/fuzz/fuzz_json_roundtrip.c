/*
 * fuzz_json_roundtrip.c - libFuzzer target for the encoder against the
 * decoder (src/lua_json_encode.c, src/lua_json.c): whatever the decoder
 * accepts, the encoder writes as text that decodes to the same value (the
 * same types, math.type, bits of every float, strings and array marks),
 * and writing that again gives the same bytes; a lazy view of the input
 * (json_decode_lazy) is written as the same bytes too. The encoder may
 * refuse
 * only what JSON text can hold but a Lua value cannot go back as: an
 * infinity (from 1e400) or a string that is not UTF-8 (the decoder copies
 * bytes >= 0x80 unchecked).
 *
 * One lua_State for the whole run; every call is protected, and a Lua
 * error (only out of memory may raise) ends the run as a failure.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_json.h"

struct input {
  const char *s;
  size_t len;
};

/* 1 when the values at a and b (absolute indices) are the same JSON value:
 * what a round trip must keep. */
static int same(lua_State *L, int a, int b)
{
  int t = lua_type(L, a);
  if(t != lua_type(L, b))
    return 0;
  switch(t) {
  case LUA_TNUMBER:
    if(lua_isinteger(L, a) != lua_isinteger(L, b))
      return 0;
    if(lua_isinteger(L, a))
      return lua_tointeger(L, a) == lua_tointeger(L, b);
    else {
      lua_Number x = lua_tonumber(L, a), y = lua_tonumber(L, b);
      return memcmp(&x, &y, sizeof(x)) == 0;
    }
  case LUA_TSTRING: {
    size_t n, m;
    const char *s = lua_tolstring(L, a, &n), *q = lua_tolstring(L, b, &m);
    return n == m && memcmp(s, q, n) == 0;
  }
  case LUA_TTABLE: {
    int ma = lua_getmetatable(L, a), mb, ok = 1;
    size_t na = 0, nb = 0;
    if(ma)
      lua_pop(L, 1);
    mb = lua_getmetatable(L, b);
    if(mb)
      lua_pop(L, 1);
    if(ma != mb)
      return 0;
    luaL_checkstack(L, 4, "comparing");
    lua_pushnil(L);
    while(ok && lua_next(L, a)) {
      int v = lua_gettop(L);
      na++;
      lua_pushvalue(L, v - 1);
      lua_rawget(L, b);
      ok = same(L, v, v + 1);
      lua_pop(L, 2);
    }
    if(!ok) {
      lua_pop(L, 1);
      return 0;
    }
    lua_pushnil(L);
    while(lua_next(L, b)) {
      nb++;
      lua_pop(L, 1);
    }
    return na == nb;
  }
  default:
    return lua_rawequal(L, a, b);
  }
}

static int roundtrip(lua_State *L)
{
  const struct input *in = lua_touserdata(L, 1);
  char err[256];
  size_t n1, n2;
  const char *s1, *s2;

  lua_settop(L, 0);
  lua_pushlightuserdata(L, NULL);   /* 1: null reads as json.null, so that
                                       the text comes back the same */
  if(json_decode(L, in->s, in->len, 1, err, sizeof(err)))
    return 0;                                        /* 2: the value */
  if(json_encode(L, 2, err, sizeof(err))) {
    if(strncmp(err, "json: cannot encode inf at ", 27) &&
       strncmp(err, "json: cannot encode -inf at ", 28) &&
       strncmp(err, "json: invalid UTF-8 in a ", 25))
      return luaL_error(L, "a decoded value was refused: %s", err);
    return 0;
  }
  s1 = lua_tolstring(L, 3, &n1);                     /* 3: its text */
  if(json_decode(L, s1, n1, 1, err, sizeof(err)))
    return luaL_error(L, "the encoder wrote what the decoder refuses (%s): "
                      "%.200s", err, s1);
  if(!same(L, 2, 4))                                 /* 4: decoded again */
    return luaL_error(L, "decoded again, the value differs: %.200s", s1);
  if(json_encode(L, 4, err, sizeof(err)))
    return luaL_error(L, "encoding again failed: %s", err);
  s2 = lua_tolstring(L, 5, &n2);
  if(n1 != n2 || memcmp(s1, s2, n1))
    return luaL_error(L, "encoded again, the text differs: %.200s | %.200s",
                      s1, s2);
  lua_pushlstring(L, in->s, in->len);                /* 6: the input */
  if(json_decode_lazy(L, 6, 1, 0, err, sizeof(err))) /* 7: its view */
    return luaL_error(L, "the lazy view refused what the decoder read: %s",
                      err);
  if(json_encode(L, 7, err, sizeof(err)))
    return luaL_error(L, "encoding the lazy view failed: %s", err);
  s2 = lua_tolstring(L, 8, &n2);
  if(n1 != n2 || memcmp(s1, s2, n1))
    return luaL_error(L, "the lazy view is written otherwise: %.200s | "
                      "%.200s", s1, s2);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static lua_State *L;
  struct input in = {(const char *)data, size};

  if(!L && !(L = luaL_newstate()))
    abort();
  lua_settop(L, 0);
  lua_pushcfunction(L, roundtrip);
  lua_pushlightuserdata(L, &in);
  if(lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_json_roundtrip: %s\n", lua_tostring(L, -1));
    abort();
  }
  /* the garbage freed now, not in a later input: libFuzzer runs a leak
   * check after every input that mallocs more than it frees */
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
