/*
 * lua_json_lazy.c - lazy views of JSON text (see lua_json.h): the value
 * json_decode would build, made one container at a time, when a script
 * first reaches it.
 *
 * A container is made a level at a time: its table gets every member
 * that is a string, number, boolean or null at once; a member that is an
 * array or object is left out of the table and noted, with where its text
 * starts, in the table's state (a userdata under a private key of the
 * table: struct state), and the table gets a metatable whose __index
 * makes such a member, a level again, when it is first read, and puts it
 * in place (lua_json_lazy_mt.c). An array notes its members in the state
 * itself, by index, so that a list of records costs one small block and
 * no table entry per record; an object notes them in a table, by key.
 * __len and __pairs, and the raw functions a script has (next, pairs,
 * rawget, rawset, rawlen, getmetatable, setmetatable, and the debug
 * library's two; the host puts lua_json_raw.c's versions in their
 * place), first make every member still missing, one level deep
 * (json_touch); __newindex sets as in any table, and forgets a member
 * not yet made that it replaces. Once nothing is missing the table is
 * what json_decode would have built: it loses its state, and its
 * metatable becomes the array metatable or none.
 *
 * The text is checked in full before anything is made (json_scan.c), so
 * a view never fails later; it is held, a Lua string, by the states that
 * need it. It uses the Lua C API, the decoder's scalars
 * (lua_json_decode.c), json_scan.c and the metamethods of
 * lua_json_lazy_mt.c; it never touches lua-cjson, curl or the loop.
 */
#include <string.h>

#include <lauxlib.h>

#include "lua_json.h"
#include "lua_json_decode.h"
#include "lua_json_lazy_internal.h"

/* Members gathered on the Lua stack before a container's table is made at
 * their count; past this it is made at this size and grows. The stack is
 * asked for room for FEW pairs first, and for GATHER when they do not
 * fit: a task's stack is small (growing it costs a copy), and most levels
 * are too, or are arrays of containers, which take no slot. */
#define GATHER 32
#define FEW 4
/* Stack slots beyond the gathered members: the table and its state, the
 * key and value being read, and what the decoder's strings push. */
#define ROOM 10
/* Levels from this nesting down are decoded whole when first reached. */
#define LAZY_DEPTH 8

const char lazy_state_key = 's';

/* A container being made. */
struct lazy {
  struct jp jp;        /* the text, what null reads as, the error buffer */
  int text_idx;        /* stack index of the text, a string, or 0: it
                          is the user value of the state at state_idx */
  int state_idx;
  int validate;        /* 1: members that are containers are checked as
                          they are stepped over; 0: the text was checked */
  int depth;           /* the nesting of the level being made */
  int mts;             /* 0, or the upvalue of the running C function
                          that holds the lazy array metatable, the object
                          one's next: then the registry is not asked */
};

/* The level being filled: stack slots of its table (t) and of what notes
 * its missing members (t + 1: an array's state, an object's table of
 * offsets; nil until one is missing), and their count. */
struct level {
  int t, array;
  struct state *s;     /* an array's state, once it has one */
  lua_Integer left;
};

/* Pushes a new state of n slots, copied from at, or all NULL when at is
 * NULL, with the user values the level needs. */
static struct state *new_state(struct lazy *lz, lua_Integer n, int array,
                               const char *const *at)
{
  size_t size = (size_t)n * sizeof(const char *);
  struct state *s = lua_newuserdatauv(lz->jp.L, sizeof(*s) + size,
                                      lz->jp.null_idx ? UV_NULL
                                      : array ? UV_TEXT : UV_KEYS);
  memset(s, 0, sizeof(*s) + (at ? 0 : size));
  if(at)
    memcpy(s->at, at, size);
  s->n = n;
  s->array = array;
  return s;
}

/* Element i of the array being filled starts at kid: noted in its state,
 * which is made, or grown to twice its size, when it has no slot for i. */
static void note_element(struct lazy *lz, struct level *lv, lua_Integer i,
                         const char *kid)
{
  lua_State *L = lz->jp.L;
  if(!lv->s || i > lv->s->n) {
    lua_Integer n = lv->s ? 2 * lv->s->n : GATHER;
    struct state *s = new_state(lz, n < i ? i : n, 1, NULL);
    if(lv->s)
      memcpy(s->at, lv->s->at, (size_t)lv->s->n * sizeof(const char *));
    lua_replace(L, lv->t + 1);
    lv->s = s;
  }
  lv->s->at[i - 1] = kid;
  lv->left++;
}

/* A member of the object being filled, key at stack index k and value (a
 * placeholder, for a container starting at kid) at v. A repeated key
 * keeps its last value, as in json_decode: a container noted for it
 * before is forgotten, a value set for it before is taken out. */
static void put_member(struct lazy *lz, struct level *lv, int k, int v,
                       const char *kid)
{
  lua_State *L = lz->jp.L;
  int offs = lv->t + 1;
  if(kid && lua_isnil(L, offs)) {
    lua_createtable(L, 0, 4);
    lua_replace(L, offs);
  }
  if(!lua_isnil(L, offs)) {
    lua_pushvalue(L, k);
    if(lua_rawget(L, offs) != LUA_TNIL)
      lv->left--;
    lua_pop(L, 1);
    lua_pushvalue(L, k);
    if(kid) {
      lua_pushinteger(L, kid - lz->jp.start);
      lv->left++;
    }
    else
      lua_pushnil(L);
    lua_rawset(L, offs);
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
 * leave the stack. An element of an array that is a container has no
 * slot there; a member of an object has two, its key and its value or a
 * placeholder. An array's values are set from the top of the stack down,
 * each taken off it; an object's in their order, so that a repeated key
 * keeps its last value and the table is the one json_decode makes. */
static void make_table(struct lazy *lz, struct level *lv, int n,
                       const char *const *kids, int nkids)
{
  lua_State *L = lz->jp.L;
  int j, first = lv->t + 2;
  if(lv->array) {
    lua_createtable(L, n, nkids > 0);
    lua_replace(L, lv->t);
    if(nkids) {                     /* a list of records: copied */
      lv->s = new_state(lz, n, 1, nkids == n ? kids : NULL);
      lua_replace(L, lv->t + 1);
      lv->left = nkids;
    }
    if(nkids < n)
      for(j = n - 1; j >= 0; j--) {
        if(kids[j])
          lv->s->at[j] = kids[j];
        else
          lua_rawseti(L, lv->t, j + 1);
      }
    return;
  }
  lua_createtable(L, 0, n - nkids + (nkids > 0));
  lua_replace(L, lv->t);
  for(j = 0; j < n; j++) {
    if(nkids)
      put_member(lz, lv, first + 2 * j, first + 2 * j + 1, kids[j]);
    else if(j < n - 1) {            /* nothing noted: a plain set */
      lua_pushvalue(L, first + 2 * j);
      lua_pushvalue(L, first + 2 * j + 1);
      lua_rawset(L, lv->t);
    }
    else
      lua_rawset(L, lv->t);         /* the last pair, at the top */
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
  int gathering = 1, slots = 0, room = 2 * FEW, nkids = 0;

  luaL_checkstack(L, 2 * FEW + ROOM, "decoding JSON");
  lv.array = *p == '[';
  lv.t = lua_gettop(L) + 1;
  lv.s = NULL;
  lv.left = 0;
  p = json_skip_ws(p + 1, end);
  if(lv.array && lz->validate && (*p == '[' || *p == '{')) {
    /* a list of records: its elements that are containers checked and
     * noted in one call, and, when they are all or GATHER of them, its
     * table and state made at once; the loop below takes the rest */
    struct json_fail f;
    if(!(p = json_scan_elements(p, end, kids, GATHER, &nkids, &f)))
      return json_fail(jp, f.at, f.what);
    n = nkids;
    if(*p != ']' && *p != ',')
      return json_fail(jp, p, "expected ',' or ']'");
    if(*p == ']' || n == GATHER) {
      lua_createtable(L, nkids, 1);
      lv.s = new_state(lz, nkids, 1, kids);
      lv.left = nkids;
      gathering = 0;
      slots = -ROOM;
    }
    else {
      lua_pushnil(L);               /* the table, made below */
      lua_pushnil(L);
    }
    if(*p++ == ']')
      goto done;
    p = json_skip_ws(p, end);
  }
  else {
    lua_pushnil(L);                 /* the table */
    lua_pushnil(L);                 /* what notes its missing members */
    if(p < end && *p == close) {
      make_table(lz, &lv, 0, NULL, 0);
      p++;
      goto done;
    }
  }
  for(;;) {
    const char *kid = NULL;
    if(slots + 2 > room) {          /* the gathered members' slots */
      luaL_checkstack(L, 2 * GATHER + ROOM - slots, "decoding JSON");
      room = 2 * GATHER;
    }
    if(!lv.array) {
      if(p >= end || *p != '"')
        return json_fail(jp, p, n ? "expected '\"'" : "expected '\"' or '}'");
      if(!(p = json_parse_string(jp, p)))
        return NULL;
      p = json_skip_ws(p, end);
      if(p >= end || *p != ':')
        return json_fail(jp, p, "expected ':'");
      p = json_skip_ws(p + 1, end);
    }
    if(p < end && (*p == '[' || *p == '{')) {
      struct json_fail f;
      kid = p;
      if(!lz->validate)
        p = json_skip(p, end);
      else if(!(p = json_scan_value(p, end, 1, &f)))
        return json_fail(jp, f.at, f.what);
      if(!lv.array)
        lua_pushboolean(L, 0);      /* its place until it is made */
    }
    else {
      int null = *p == 'n';         /* the text ends in a NUL */
      if(!(p = *p == '"' ? json_parse_string(jp, p)
                         : json_parse_scalar(jp, p)))
        return NULL;
      if(null && !lv.array && !jp->null_idx) {
        lua_pop(L, 1);              /* null in an object: absent */
        lua_pushnil(L);
      }
    }
    n++;
    if(gathering) {
      kids[n - 1] = kid;
      nkids += kid != NULL;
      slots += lv.array ? !kid : 2;
      if(n == GATHER) {
        make_table(lz, &lv, GATHER, kids, nkids);
        gathering = 0;
        slots = -ROOM;              /* never more room asked */
      }
    }
    else if(!lv.array) {
      int top = lua_gettop(L);
      put_member(lz, &lv, top - 1, top, kid);
      lua_settop(L, lv.t + 1);
    }
    else if(kid)
      note_element(lz, &lv, n, kid);
    else
      lua_rawseti(L, lv.t, n);
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
    make_table(lz, &lv, (int)n, kids, nkids);
  p++;
done:
  if(lv.left) {
    struct state *s = lv.s;
    if(!lv.array) {                 /* the table of offsets goes in one */
      s = new_state(lz, 0, 0, NULL);
      lua_insert(L, lv.t + 1);
      lua_setiuservalue(L, lv.t + 1, UV_KEYS);
    }
    s->left = lv.left;
    s->depth = lz->depth;
    s->text = jp->start;
    s->len = (size_t)(jp->end - jp->start);
    s->null = jp->null_idx != 0;
    if(lz->text_idx)
      lua_pushvalue(L, lz->text_idx);
    else
      lua_getiuservalue(L, lz->state_idx, UV_TEXT);
    lua_setiuservalue(L, lv.t + 1, UV_TEXT);
    if(jp->null_idx) {
      lua_pushvalue(L, jp->null_idx);
      lua_setiuservalue(L, lv.t + 1, UV_NULL);
    }
    lua_rawsetp(L, lv.t, &lazy_state_key);         /* the top, lv.t + 1 */
    lazy_push_mt(L, lv.array, lz->mts);
    lua_setmetatable(L, lv.t);
    return p;
  }
  lua_settop(L, lv.t);
  if(lv.array) {
    json_push_array_mt(L);
    lua_setmetatable(L, lv.t);
  }
  return p;
}

/* Sets lz up to make levels of the len bytes of text at s. */
static void init_lazy(struct lazy *lz, lua_State *L, const char *s,
                      size_t len, int null_idx, char *err, size_t errlen)
{
  lz->jp.L = L;
  lz->jp.start = s;
  lz->jp.end = s + len;
  lz->jp.depth = lz->jp.cache_base = lz->jp.mt_slot = lz->jp.stack_ok = 0;
  lz->jp.null_idx = null_idx;
  lz->jp.err = err;
  lz->jp.errlen = errlen;
  lz->text_idx = lz->state_idx = lz->validate = lz->depth = lz->mts = 0;
}

/* lazy_make_member (lua_json_lazy_internal.h): decoded whole from
 * LAZY_DEPTH down, where a level more would step over the rest of its
 * text once again (a view read down a deep nesting would cost its depth
 * times its size). The text is read where the state's user value holds
 * it; it is pushed only for a level that needs it in a state of its
 * own. */
void lazy_make_member(lua_State *L, int si, const struct state *s,
                      const char *p, int mts)
{
  struct lazy lz;
  char err[128];
  int null_idx = 0;

  if(s->null) {
    lua_getiuservalue(L, si, UV_NULL);
    null_idx = lua_gettop(L);
  }
  init_lazy(&lz, L, s->text, s->len, null_idx, err, sizeof(err));
  lz.state_idx = si;
  lz.depth = s->depth + 1;
  lz.mts = mts;
  /* the text was checked: only a number Lua cannot read in this locale
   * fails */
  if(lz.depth >= LAZY_DEPTH) {
    if(json_decode(L, p, (size_t)(json_skip(p, lz.jp.end) - p), lz.jp.null_idx,
                   err, sizeof(err)))
      luaL_error(L, "json: %s", err);
  }
  else if(!make_level(&lz, p))
    luaL_error(L, "json: %s", err);
  if(lz.jp.null_idx)
    lua_remove(L, lz.jp.null_idx);
}

/* lua_json_lazy_internal.h says what it does. */
void lazy_made_one(lua_State *L, int t, struct state *s)
{
  int array = s->array;
  if(--s->left)
    return;
  lua_pushnil(L);
  lua_rawsetp(L, t, &lazy_state_key);
  if(array)
    json_push_array_mt(L);
  else
    lua_pushnil(L);
  lua_setmetatable(L, t);
}

/* lua_json_lazy_internal.h says what these two do. Making a member
 * allocates, so the collector may run finalizers meanwhile, and one may
 * read the same member: then the one it made is in place and counted,
 * and stays. */
void lazy_place_element(lua_State *L, int t, int si, struct state *s,
                        lua_Integer i, int mts)
{
  lazy_make_member(L, si, s, s->at[i - 1], mts);
  if(!s->at[i - 1]) {               /* made meanwhile */
    lua_pop(L, 1);
    lua_rawgeti(L, t, i);
    return;
  }
  lua_pushvalue(L, -1);
  lua_rawseti(L, t, i);
  s->at[i - 1] = NULL;
  lazy_made_one(L, t, s);
}

void lazy_place_member(lua_State *L, int t, int si, struct state *s,
                       int offs, int k, const char *p, int mts)
{
  lazy_make_member(L, si, s, p, mts);
  lua_pushvalue(L, k);
  if(lua_rawget(L, offs) == LUA_TNIL) {     /* made meanwhile */
    lua_pop(L, 2);
    lua_pushvalue(L, k);
    lua_rawget(L, t);
    return;
  }
  lua_pop(L, 1);
  lua_pushvalue(L, k);
  lua_pushvalue(L, -2);
  lua_rawset(L, t);
  lua_pushvalue(L, k);
  lua_pushnil(L);
  lua_rawset(L, offs);              /* allowed while traversing offs */
  lazy_made_one(L, t, s);
}

/* Makes every member of the table at t still missing, from its state at
 * si; then finishes it. Each is forgotten once it is in place, so that an
 * error part way (out of memory) leaves a table that is still right. */
static void complete(lua_State *L, int t, int si)
{
  struct state *s = lua_touserdata(L, si);
  int top;
  luaL_checkstack(L, 7, "decoding JSON");
  if(s->array) {
    lua_Integer i;
    for(i = 1; i <= s->n && s->left; i++)
      if(s->at[i - 1]) {
        lazy_place_element(L, t, si, s, i, 0);
        lua_pop(L, 1);
      }
    return;
  }
  top = lua_gettop(L);
  lua_getiuservalue(L, si, UV_KEYS);                      /* top + 1 */
  lua_pushnil(L);
  while(s->left && lua_next(L, top + 1)) {     /* key, offset: + 2, + 3 */
    lazy_place_member(L, t, si, s, top + 1, top + 2,
                      s->text + lua_tointeger(L, top + 3), 0);
    lua_settop(L, top + 2);
  }
  lua_settop(L, top);
}

void json_touch(lua_State *L, int idx)
{
  /* a table with a state has a lazy metatable: most have none */
  if(lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx))
    return;
  lua_pop(L, 1);
  idx = lua_absindex(L, idx);
  if(lua_rawgetp(L, idx, &lazy_state_key) == LUA_TUSERDATA)
    complete(L, idx, lua_gettop(L));
  lua_pop(L, 1);
}

/* ---- views ------------------------------------------------------------- */

int json_decode_lazy(lua_State *L, int text_idx, int null_idx, int mts,
                     char *err, size_t errlen)
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
  init_lazy(&lz, L, s, len, null_idx ? lua_absindex(L, null_idx) : 0, err,
            errlen);
  lz.text_idx = text_idx;
  lz.validate = 1;
  lz.mts = mts;
  if((p = make_level(&lz, p))) {
    p = json_skip_ws(p, lz.jp.end);
    if(p == lz.jp.end)
      return 0;
    json_fail(&lz.jp, p, "expected end of input");
  }
  lua_settop(L, top);
  return -1;
}

lua_Integer json_lazy_unmade(lua_State *L, int idx)
{
  lua_Integer n = 0;
  if(lua_rawgetp(L, idx, &lazy_state_key) == LUA_TUSERDATA)
    n = ((const struct state *)lua_touserdata(L, -1))->left;
  lua_pop(L, 1);
  return n;
}
