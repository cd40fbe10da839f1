/*
 * fuzz_json_encode.c - libFuzzer target for json_encode
 * (src/lua_json_encode.c) on Lua values the decoder never makes: the
 * input is read as a small program that builds one value (integers and
 * floats from raw bits, NaN and inf included; strings of any bytes;
 * arrays, marked or not; objects; tables with sparse, negative, float or
 * boolean keys; tables inside themselves; functions; nesting
 * past the cap). Checked for every input: the encoder either writes text
 * that the decoder reads back to the same value and that encodes again
 * to the same bytes, or refuses with a message "json: ... at PATH" that
 * fits its buffer; the stack is left as the contract says.
 *
 * One lua_State for the whole run; every call is protected, and a Lua
 * error (only out of memory may raise) ends the run as a failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_json.h"

#define MAX_NODES 4000          /* values one input may build */
#define MAX_DEPTH 1100          /* past JSON_MAX_DEPTH, to reach the cap */

struct reader {
  const uint8_t *p, *end;
  int nodes;
  int top;                      /* the stack index below the first table
                                   built: tables are found above it */
};

static unsigned byte(struct reader *r)
{
  return r->p < r->end ? *r->p++ : 0;
}

static uint64_t bits64(struct reader *r)
{
  uint64_t v = 0;
  int i;
  for(i = 0; i < 8; i++)
    v = v << 8 | byte(r);
  return v;
}

static void push_bytes(lua_State *L, struct reader *r)
{
  size_t n = byte(r), left = (size_t)(r->end - r->p);
  if(n > left)
    n = left;
  lua_pushlstring(L, (const char *)r->p, n);
  r->p += n;
}

static int nothing(lua_State *L)
{
  (void)L;
  return 0;
}

/* Pushes one value built from the input, depth tables down; the tables
 * being filled wait on the stack above r->top, where a cycle finds them. */
static void build(lua_State *L, struct reader *r, int depth)
{
  unsigned op = byte(r) % 12, n, i;
  uint64_t u;
  double d;

  luaL_checkstack(L, 8, "building");
  if(++r->nodes > MAX_NODES || r->p >= r->end || depth >= MAX_DEPTH)
    op = op % 2 ? 0 : 2;
  switch(op) {
  case 0:
    lua_pushinteger(L, (lua_Integer)bits64(r));
    break;
  case 1:
    u = bits64(r);
    memcpy(&d, &u, sizeof(d));
    lua_pushnumber(L, d);
    break;
  case 2:
    push_bytes(L, r);
    break;
  case 3:
    lua_pushboolean(L, byte(r) & 1);
    break;
  case 4:
    lua_pushlightuserdata(L, NULL);
    break;
  case 5:                       /* an array, marked when the count is odd */
  case 6:
    n = byte(r) % 8;
    lua_createtable(L, (int)n, 0);
    if(op == 6) {
      json_push_array_mt(L);
      lua_setmetatable(L, -2);
    }
    for(i = 1; i <= n; i++) {
      build(L, r, depth + 1);
      lua_rawseti(L, -2, i);
    }
    break;
  case 7:                       /* an object */
    n = byte(r) % 8;
    lua_createtable(L, 0, (int)n);
    for(i = 0; i < n; i++) {
      push_bytes(L, r);
      build(L, r, depth + 1);
      lua_rawset(L, -3);
    }
    break;
  case 8:                       /* a table with keys of any kind */
    n = byte(r) % 6;
    lua_createtable(L, 0, 0);
    for(i = 0; i < n; i++) {
      switch(byte(r) % 4) {
      case 0: lua_pushinteger(L, (lua_Integer)(int8_t)byte(r)); break;
      case 1: lua_pushnumber(L, byte(r) + 0.5); break;
      case 2: lua_pushboolean(L, 1); break;
      default: push_bytes(L, r); break;
      }
      build(L, r, depth + 1);
      lua_rawset(L, -3);
    }
    break;
  case 9:                       /* a table being built: a cycle */
    if(lua_gettop(L) > r->top) {
      int k = r->top + 1 + (int)(byte(r) % (unsigned)(lua_gettop(L) - r->top));
      if(lua_type(L, k) == LUA_TTABLE) {
        lua_pushvalue(L, k);
        break;
      }
    }
    lua_pushinteger(L, 0);
    break;
  case 10:
    lua_pushcfunction(L, nothing);
    break;
  default:                      /* a chain straight down, past the cap */
    n = byte(r) * 8;
    lua_createtable(L, 0, 0);
    lua_pushvalue(L, -1);
    for(i = 0; i < n && depth + (int)i < MAX_DEPTH; i++) {
      lua_createtable(L, 1, 0);
      lua_pushvalue(L, -1);
      lua_rawseti(L, -3, 1);
      lua_remove(L, -2);
    }
    lua_pop(L, 1);
    break;
  }
}

/* 1 when a and b hold the same JSON value; marks are not compared: a
 * plain non-empty array comes back marked. */
static int same(lua_State *L, int a, int b)
{
  int t = lua_type(L, a);
  if(t != lua_type(L, b))
    return 0;
  if(t == LUA_TNUMBER) {
    lua_Number x, y;
    if(lua_isinteger(L, a) != lua_isinteger(L, b))
      return 0;
    if(lua_isinteger(L, a))
      return lua_tointeger(L, a) == lua_tointeger(L, b);
    x = lua_tonumber(L, a);
    y = lua_tonumber(L, b);
    return memcmp(&x, &y, sizeof(x)) == 0;
  }
  if(t == LUA_TTABLE) {
    size_t na = 0, nb = 0;
    int ok = 1;
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
  if(t == LUA_TSTRING) {
    size_t n, m;
    const char *s = lua_tolstring(L, a, &n), *q = lua_tolstring(L, b, &m);
    return n == m && memcmp(s, q, n) == 0;
  }
  return lua_rawequal(L, a, b);
}

static int encode_checked(lua_State *L)
{
  struct reader *r = lua_touserdata(L, 1);
  char err[256];
  size_t n1, n2;
  const char *s1, *s2;
  int v;

  lua_settop(L, 0);
  lua_pushlightuserdata(L, NULL);    /* 1: null reads as json.null */
  r->top = 0;
  build(L, r, 0);
  v = lua_gettop(L);
  memset(err, 'x', sizeof(err));
  if(json_encode(L, v, err, sizeof(err))) {
    if(lua_gettop(L) != v)
      return luaL_error(L, "refused, but the stack moved");
    if(!memchr(err, '\0', sizeof(err)) || strncmp(err, "json: ", 6) ||
       !strstr(err, " at "))
      return luaL_error(L, "a refusal without what and where: %.80s", err);
    return 0;
  }
  if(lua_gettop(L) != v + 1)
    return luaL_error(L, "encoded, but the stack moved");
  s1 = lua_tolstring(L, v + 1, &n1);
  if(json_decode(L, s1, n1, 1, err, sizeof(err)))
    return luaL_error(L, "the encoder wrote what the decoder refuses (%s): "
                      "%.200s", err, s1);
  if(!same(L, v, v + 2))
    return luaL_error(L, "decoded, the value differs: %.200s", s1);
  if(json_encode(L, v + 2, err, sizeof(err)))
    return luaL_error(L, "encoding the decoded value failed: %s", err);
  s2 = lua_tolstring(L, v + 3, &n2);
  if(n1 != n2 || memcmp(s1, s2, n1))
    return luaL_error(L, "encoded again, the text differs: %.200s | %.200s",
                      s1, s2);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static lua_State *L;
  struct reader r = {data, data + size, 0, 0};

  if(!L && !(L = luaL_newstate()))
    abort();
  lua_settop(L, 0);
  lua_pushcfunction(L, encode_checked);
  lua_pushlightuserdata(L, &r);
  if(lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_json_encode: %s\n", lua_tostring(L, -1));
    abort();
  }
  /* the garbage freed now, not in a later input: libFuzzer runs a leak
   * check after every input that mallocs more than it frees */
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
