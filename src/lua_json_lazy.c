/*
 * lua_json_lazy.c - lazy views of JSON text (see lua_json.h): the value
 * json_decode would build, made one container at a time, when a script
 * first reaches it.
 *
 * A container is made a level at a time: its table gets every member
 * that is a string, number, boolean or null at once; a member that is an
 * array or object is left out of the table and noted, with where its text
 * starts, in the table's state (a second table, under a private key of
 * the first), and the table gets a metatable whose __index makes such a
 * member, a level again, when it is first read, and puts it in place.
 * __newindex, __len and __pairs, and the raw functions a script has
 * (next, rawget, rawset, rawlen, getmetatable, setmetatable, and the
 * debug library's two; the host puts lua_json_raw.c's versions in their
 * place), first make every member still missing, one level deep
 * (json_touch). Then the table is what json_decode would have built: it
 * loses its state, and its metatable becomes the array metatable or
 * none. The same happens when __index makes the last missing member.
 *
 * The text is checked in full before anything is made (json_scan.c), so
 * a view never fails later; it is held, a Lua string, by the states that
 * need it. It uses the Lua C API, the decoder's scalars
 * (lua_json_decode.c) and json_scan.c; it never touches lua-cjson, curl
 * or the loop.
 */
#include <stdio.h>

#include <lauxlib.h>

#include "lua_json.h"
#include "lua_json_decode.h"

/* Members gathered on the Lua stack before a container's table is made at
 * their count; past this it is made at this size and grows. */
#define GATHER 32
/* Stack slots beyond the gathered members: the table and its state, the
 * key and value being read, and what the decoder's strings push. */
#define ROOM 10

/* The private key of a table not yet whole, under which it keeps its
 * state: a table of the text (ST_TEXT), what null reads as (ST_NULL; nil
 * for the default) and how many members are still to make (ST_LEFT), and
 * of the byte offset of each missing member's text, under its key for an
 * object and under ST_BASE + i for element i of an array. */
static const char state_key = 's';
#define ST_TEXT 1
#define ST_NULL 2
#define ST_LEFT 3
#define ST_BASE 3
/* Registry keys of the metatables of arrays and objects not yet whole. */
static const char lazy_array_key = 'A', lazy_object_key = 'O';

/* A container being made. */
struct lazy {
  struct jp jp;        /* the text, what null reads as, the error buffer */
  int text_idx;        /* stack index of the text, a string */
  int validate;        /* 1: members that are containers are checked as
                          they are stepped over; 0: the text was checked */
};

/* The level being filled: stack slots of its table and its state (0: no
 * state yet), and the count of members noted in the state. */
struct level {
  int t, st, array;
  lua_Integer left;
};

static void push_lazy_mt(lua_State *L, int array);

/* A member of the level, its value (or a placeholder, for a container
 * starting at kid) at stack index v and, in an object, its key at k; i:
 * its position, in an array. A repeated key keeps its last value, as in
 * json_decode: a container noted for it before is forgotten, a value set
 * for it before is taken out. */
static void put(struct lazy *lz, struct level *lv, lua_Integer i, int k,
                int v, const char *kid)
{
  lua_State *L = lz->jp.L;
  if(kid && !lv->st) {
    lua_createtable(L, ST_BASE, 4);
    lua_replace(L, lv->t + 1);
    lv->st = lv->t + 1;
  }
  if(lv->array) {
    if(kid) {
      lua_pushinteger(L, kid - lz->jp.start);
      lua_rawseti(L, lv->st, ST_BASE + i);
      lv->left++;
    }
    else {
      lua_pushvalue(L, v);
      lua_rawseti(L, lv->t, i);
    }
    return;
  }
  if(lv->st) {
    lua_pushvalue(L, k);
    if(lua_rawget(L, lv->st) != LUA_TNIL)
      lv->left--;
    lua_pop(L, 1);
    lua_pushvalue(L, k);
    if(kid) {
      lua_pushinteger(L, kid - lz->jp.start);
      lv->left++;
    }
    else
      lua_pushnil(L);
    lua_rawset(L, lv->st);
  }
  lua_pushvalue(L, k);
  if(kid)
    lua_pushnil(L);
  else
    lua_pushvalue(L, v);
  lua_rawset(L, lv->t);
}

/* The n members gathered above the level's two slots get their table, at
 * their count (kids[j]: where member j + 1 starts, when a container), and
 * leave the stack. */
static void make_table(struct lazy *lz, struct level *lv, int n,
                       const char *const *kids)
{
  lua_State *L = lz->jp.L;
  int j, nkids = 0, first = lv->t + 2;
  for(j = 0; j < n; j++)
    nkids += kids[j] != NULL;
  if(lv->array)
    lua_createtable(L, n, nkids > 0);
  else
    lua_createtable(L, 0, n - nkids + (nkids > 0));
  lua_replace(L, lv->t);
  if(nkids) {
    lua_createtable(L, ST_BASE + (lv->array && nkids == n ? n : 0),
                    lv->array && nkids == n ? 0 : nkids);
    lua_replace(L, lv->t + 1);
    lv->st = lv->t + 1;
  }
  for(j = 0; j < n; j++) {
    if(lv->array)
      put(lz, lv, j + 1, 0, first + j, kids[j]);
    else
      put(lz, lv, 0, first + 2 * j, first + 2 * j + 1, kids[j]);
  }
  lua_settop(L, lv->t + 1);
}

/* p is at '[' or '{': pushes its table, a level made (see the top), and
 * returns the byte after it; or, only when validating, returns NULL
 * through json_fail, leaving the stack to the caller to put back. */
static const char *make_level(struct lazy *lz, const char *p)
{
  struct jp *jp = &lz->jp;
  lua_State *L = jp->L;
  const char *end = jp->end, *kids[GATHER];
  struct level lv;
  char close = *p == '[' ? ']' : '}';
  lua_Integer n = 0;
  int gathering = 1;

  luaL_checkstack(L, 2 * GATHER + ROOM, "decoding JSON");
  lv.array = *p == '[';
  lv.t = lua_gettop(L) + 1;
  lv.st = 0;
  lv.left = 0;
  lua_pushnil(L);                   /* the table */
  lua_pushnil(L);                   /* its state, when a member needs it */
  p = json_skip_ws(p + 1, end);
  if(p < end && *p == close) {
    make_table(lz, &lv, 0, NULL);
    p++;
    goto done;
  }
  for(;;) {
    const char *kid = NULL;
    if(!lv.array) {
      if(p >= end || *p != '"')
        return json_fail(jp, p, n ? "expected '\"'" : "expected '\"' or '}'");
      if(!(p = json_parse_scalar(jp, p)))
        return NULL;
      p = json_skip_ws(p, end);
      if(p >= end || *p != ':')
        return json_fail(jp, p, "expected ':'");
      p = json_skip_ws(p + 1, end);
    }
    if(p < end && (*p == '[' || *p == '{')) {
      struct json_fail f;
      kid = p;
      lua_pushboolean(L, 0);        /* its place until it is made */
      if(!lz->validate)
        p = json_skip(p, end);
      else if(!(p = json_scan_value(p, end, 1, &f)))
        return json_fail(jp, f.at, f.what);
    }
    else {
      if(!(p = json_parse_scalar(jp, p)))
        return NULL;
      if(!lv.array && !jp->null_idx &&
         lua_type(L, -1) == LUA_TLIGHTUSERDATA) {
        lua_pop(L, 1);              /* null in an object: absent */
        lua_pushnil(L);
      }
    }
    n++;
    if(!gathering) {
      int top = lua_gettop(L);
      put(lz, &lv, n, top - 1, top, kid);
      lua_settop(L, lv.t + 1);
    }
    else {
      kids[n - 1] = kid;
      if(n == GATHER) {
        make_table(lz, &lv, GATHER, kids);
        gathering = 0;
      }
    }
    p = json_skip_ws(p, end);
    if(p < end && *p == ',') {
      p = json_skip_ws(p + 1, end);
      continue;
    }
    if(p < end && *p == close)
      break;
    return json_fail(jp, p, lv.array ? "expected ',' or ']'"
                                     : "expected ',' or '}'");
  }
  if(gathering)
    make_table(lz, &lv, (int)n, kids);
  p++;
done:
  if(lv.left) {
    lua_pushvalue(L, lz->text_idx);
    lua_rawseti(L, lv.st, ST_TEXT);
    if(jp->null_idx) {
      lua_pushvalue(L, jp->null_idx);
      lua_rawseti(L, lv.st, ST_NULL);
    }
    lua_pushinteger(L, lv.left);
    lua_rawseti(L, lv.st, ST_LEFT);
    lua_pushvalue(L, lv.st);
    lua_rawsetp(L, lv.t, &state_key);
    push_lazy_mt(L, lv.array);
    lua_setmetatable(L, lv.t);
  }
  else if(lv.array) {
    json_push_array_mt(L);
    lua_setmetatable(L, lv.t);
  }
  lua_settop(L, lv.t);
  return p;
}

/* Pushes the member starting at byte off of the state at st's text, a
 * level made. */
static void make_member(lua_State *L, int st, lua_Integer off)
{
  struct lazy lz;
  char err[128];
  size_t len;
  const char *s;
  int top = lua_gettop(L);

  lua_rawgeti(L, st, ST_TEXT);
  s = lua_tolstring(L, -1, &len);
  lz.text_idx = top + 1;
  lz.validate = 0;
  lz.jp.L = L;
  lz.jp.start = s;
  lz.jp.end = s + len;
  lz.jp.depth = 0;
  lz.jp.cache_base = 0;
  lz.jp.mt_slot = 0;
  lz.jp.null_idx = lua_rawgeti(L, st, ST_NULL) == LUA_TNIL ? 0 : top + 2;
  lz.jp.stack_ok = 0;
  lz.jp.err = err;
  lz.jp.errlen = sizeof(err);
  /* the text was checked: only a number Lua cannot read in this locale
   * fails */
  if(!make_level(&lz, s + off))
    luaL_error(L, "json: %s", err);
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
}

/* The table at t is whole: it loses its state and gets the metatable
 * json_decode gives it (an array has the lazy one of arrays till then). */
static void finish(lua_State *L, int t)
{
  int array;
  lua_getmetatable(L, t);
  push_lazy_mt(L, 1);
  array = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  lua_pushnil(L);
  lua_rawsetp(L, t, &state_key);
  if(array)
    json_push_array_mt(L);
  else
    lua_pushnil(L);
  lua_setmetatable(L, t);
}

/* Makes every member of the table at t still missing, from its state at
 * st; then finishes it. */
static void complete(lua_State *L, int t, int st)
{
  luaL_checkstack(L, 4, "decoding JSON");
  lua_pushnil(L);
  while(lua_next(L, st)) {
    int isint = lua_isinteger(L, -2);
    lua_Integer i = isint ? lua_tointeger(L, -2) : 0;
    if(!isint || i > ST_BASE) {
      make_member(L, st, lua_tointeger(L, -1));
      if(isint)
        lua_pushinteger(L, i - ST_BASE);
      else
        lua_pushvalue(L, -3);
      lua_insert(L, -2);
      lua_rawset(L, t);
    }
    lua_pop(L, 1);
  }
  finish(L, t);
}

void json_touch(lua_State *L, int idx)
{
  if(lua_type(L, idx) != LUA_TTABLE)
    return;
  idx = lua_absindex(L, idx);
  if(lua_rawgetp(L, idx, &state_key) == LUA_TTABLE)
    complete(L, idx, lua_gettop(L));
  lua_pop(L, 1);
}

/* ---- the metatables of tables not yet whole --------------------------- */

/* Pushes the key under which the state notes the member of key k (an
 * index): k itself, or ST_BASE + i for an integer i >= 1 (a float too, if
 * it has that value), or nil where no member can be (an integer below 1,
 * which would name the state's own fields). */
static void push_state_key(lua_State *L, int k)
{
  if(lua_type(L, k) == LUA_TNUMBER) {
    int isint;
    lua_Integer i = lua_tointegerx(L, k, &isint);
    if(isint) {
      if(i >= 1 && i <= LUA_MAXINTEGER - ST_BASE)
        lua_pushinteger(L, ST_BASE + i);
      else
        lua_pushnil(L);
      return;
    }
  }
  lua_pushvalue(L, k);
}

/* Takes the member noted under the key at sk out of the state at st of
 * the table at t, which is finished when it was the last. */
static void forget(lua_State *L, int t, int st, int sk)
{
  lua_Integer left;
  lua_pushvalue(L, sk);
  lua_pushnil(L);
  lua_rawset(L, st);
  lua_rawgeti(L, st, ST_LEFT);
  left = lua_tointeger(L, -1) - 1;
  lua_pop(L, 1);
  if(left) {
    lua_pushinteger(L, left);
    lua_rawseti(L, st, ST_LEFT);
  }
  else
    finish(L, t);
}

/* __index(t, k): a missing member made and put in place; nil for a key
 * that is not a member. */
static int lazy_index(lua_State *L)
{
  lua_settop(L, 2);
  if(lua_rawgetp(L, 1, &state_key) != LUA_TTABLE)         /* 3 */
    return 0;
  push_state_key(L, 2);                                    /* 4 */
  lua_pushvalue(L, 4);
  if(lua_type(L, 4) == LUA_TNIL || lua_rawget(L, 3) != LUA_TNUMBER)
    return 0;
  make_member(L, 3, lua_tointeger(L, 5));                  /* 6 */
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 6);
  lua_rawset(L, 1);
  forget(L, 1, 3, 4);
  lua_settop(L, 6);
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
  if(lua_rawgetp(L, 1, &state_key) != LUA_TTABLE)         /* 4 */
    return 0;
  push_state_key(L, 2);                                    /* 5 */
  lua_pushvalue(L, 5);
  if(lua_type(L, 5) != LUA_TNIL && lua_rawget(L, 4) == LUA_TNUMBER)
    forget(L, 1, 4, 5);
  return 0;
}

static int lazy_len(lua_State *L)
{
  json_touch(L, 1);
  lua_pushinteger(L, (lua_Integer)lua_rawlen(L, 1));
  return 1;
}

/* next over a whole table: the base library's, for __pairs. */
static int plain_next(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  if(lua_next(L, 1))
    return 2;
  lua_pushnil(L);
  return 1;
}

static int lazy_pairs(lua_State *L)
{
  json_touch(L, 1);
  lua_pushcfunction(L, plain_next);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

static void push_lazy_mt(lua_State *L, int array)
{
  static const luaL_Reg meta[] = {
    {"__index", lazy_index},
    {"__newindex", lazy_newindex},
    {"__len", lazy_len},
    {"__pairs", lazy_pairs},
    {NULL, NULL}
  };
  const void *key = array ? &lazy_array_key : &lazy_object_key;
  if(lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE)
    return;
  lua_pop(L, 1);
  lua_createtable(L, 0, 5);
  luaL_setfuncs(L, meta, 0);
  if(array) {                     /* so that type errors name it */
    lua_pushliteral(L, JSON_ARRAY_MT);
    lua_setfield(L, -2, "__name");
  }
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

/* ---- views ------------------------------------------------------------- */

int json_decode_lazy(lua_State *L, int text_idx, int null_idx, char *err,
                     size_t errlen)
{
  struct lazy lz;
  const char *s, *p;
  size_t len;
  int top = lua_gettop(L);

  text_idx = lua_absindex(L, text_idx);
  s = lua_tolstring(L, text_idx, &len);
  p = json_skip_ws(s, s + len);
  if(p == s + len || (*p != '[' && *p != '{'))
    return json_decode(L, s, len, null_idx, err, errlen);
  lz.text_idx = text_idx;
  lz.jp.L = L;
  lz.jp.start = s;
  lz.jp.end = s + len;
  lz.jp.depth = 0;
  lz.jp.cache_base = 0;
  lz.jp.mt_slot = 0;
  lz.jp.null_idx = null_idx ? lua_absindex(L, null_idx) : 0;
  lz.jp.stack_ok = 0;
  lz.jp.err = err;
  lz.jp.errlen = errlen;
#ifdef JSON_LAZY_SCAN_FIRST
  {
    struct json_fail f;
    const char *q = json_scan_value(p, lz.jp.end, 0, &f);
    if(!q) {
      json_fail(&lz.jp, f.at, f.what);
      return -1;
    }
  }
  lz.validate = 0;
#else
  lz.validate = 1;
#endif
  if((p = make_level(&lz, p))) {
    p = json_skip_ws(p, lz.jp.end);
    if(p == lz.jp.end)
      return 0;
    json_fail(&lz.jp, p, "expected end of input");
  }
  lua_settop(L, top);
  return -1;
}

/* core.json_unmade(v) -> how many members of the table v are still to
 * make (0: whole, or not a view's), for specs that check a view is lazy. */
int ljson_unmade(lua_State *L)
{
  lua_Integer n = 0;
  if(lua_type(L, 1) == LUA_TTABLE &&
     lua_rawgetp(L, 1, &state_key) == LUA_TTABLE) {
    lua_rawgeti(L, -1, ST_LEFT);
    n = lua_tointeger(L, -1);
  }
  lua_pushinteger(L, n);
  return 1;
}
