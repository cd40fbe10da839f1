/*
 * lua_json_decode.c - a strict JSON decoder that builds Lua values directly
 * (see lua_json.h for the mapping and the choices): json_decode.
 *
 * One pass of recursive descent over the input, pushing as it goes. It uses
 * only the Lua C API; it never touches lua-cjson, curl, the loop or the
 * input (read only). It allocates nothing itself: a string without escapes
 * is pushed straight from the input, an escaped one is decoded into a
 * luaL_Buffer (Lua's memory; lua_json_unescape.c), so a Lua error raised
 * part way (out of memory) leaks nothing, and a malformed input only has
 * to put the stack back where it was.
 *
 * Where the time goes is Lua's: making tables and interning strings. So a
 * table is made at its final size, never grown key by key (a container
 * gathers its first values on the stack, or takes the size of the sibling
 * before it: an array of records repeats its shape), and a repeated object
 * key is pushed from a cache of stack slots instead of interned again.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_json.h"
#include "lua_json_decode.h"

/* Values (array elements, or key-value pairs) a container keeps on the Lua
 * stack before it makes its table; past this it makes the table at this
 * size and lets Lua grow it. Bounds the stack one level uses. */
#define GATHER 32

/* Stack slots a container needs beyond its gathered values: the key and
 * the value being read, and what luaL_Buffer (a box, its metatable) and
 * lua_stringtonumber push while they work. */
#define ROOM 8

#define STR_(x) #x
#define STR(x) STR_(x)

/* Writes "<what> at byte N" into the error buffer; returns NULL. */
const char *json_fail(struct jp *jp, const char *at, const char *what)
{
  if(jp->errlen)
    snprintf(jp->err, jp->errlen, "%s at byte %zu%s", what,
             (size_t)(at - jp->start) + 1,
             at >= jp->end ? " (end of input)" : "");
  return NULL;
}

/* Makes room for n more values above base (the top) on the Lua stack;
 * asks Lua only when the room reserved before does not reach. What
 * lua_checkstack grants stays: it raises the frame's ceiling, below which
 * the collector never shrinks the stack. */
static inline void reserve(struct jp *jp, int base, int n)
{
  if(base + n > jp->stack_ok) {
    luaL_checkstack(jp->L, n + 4 * GATHER, "decoding JSON");
    jp->stack_ok = base + n + 4 * GATHER;
  }
}

/* p is at the opening quote; pushes the string. */
static inline const char *parse_string(struct jp *jp, const char *p)
{
  const char *s = p + 1, *q = scan_plain(s, jp->end);
  if(LIKELY(q < jp->end && *q == '"')) {
    lua_pushlstring(jp->L, s, (size_t)(q - s));
    return q + 1;
  }
  return json_parse_string_escaped(jp, p, q);
}

/* An object key: as parse_string, through the key cache. The bytes read
 * for the slot, s[0], s[len / 2] and s[len - 1], are the quotes when the
 * key is empty. */
static inline const char *parse_key(struct jp *jp, const char *p)
{
  const char *s = p + 1, *q = scan_plain(s, jp->end);
  struct key_entry *e;
  size_t len;
  unsigned h;

  if(UNLIKELY(q >= jp->end || *q != '"'))
    return json_parse_string_escaped(jp, p, q);
  len = (size_t)(q - s);
  if(UNLIKELY(len > KEY_CACHE_MAXLEN)) {
    lua_pushlstring(jp->L, s, len);
    return q + 1;
  }
  h = ((unsigned)len * 7 + (unsigned char)s[0] * 3 +
       (unsigned char)s[len / 2] * 5 + (unsigned char)s[(ptrdiff_t)len - 1]) &
      (KEY_CACHE - 1);
  e = &jp->keys[h];
  if(e->s && e->len == len && memcmp(e->s, s, len) == 0) {
    lua_pushvalue(jp->L, jp->cache_base + (int)h);
  }
  else {
    lua_pushlstring(jp->L, s, len);
    lua_copy(jp->L, -1, jp->cache_base + (int)h);
    e->s = s;
    e->len = len;
  }
  return q + 1;
}

/* A number with a fraction or an exponent, or an integer too large for a
 * lua_Integer: s[0..n) is valid JSON, so a valid Lua numeral too, and
 * lua_stringtonumber (strtod, whatever the locale's decimal point) reads
 * it from a terminated copy. Returns -1, pushing nothing, only where Lua
 * gives up: a numeral over 200 bytes under a locale whose decimal point
 * is not '.'. */
static NOINLINE int push_float(lua_State *L, const char *s, size_t n)
{
  char buf[64];
  if(n < sizeof(buf)) {
    memcpy(buf, s, n);
    buf[n] = '\0';
    return lua_stringtonumber(L, buf) ? 0 : -1;
  }
  lua_pushlstring(L, s, n);
  if(!lua_stringtonumber(L, lua_tostring(L, -1))) {
    lua_pop(L, 1);
    return -1;
  }
  lua_remove(L, -2);
  return 0;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at p; pushes it. */
static ALWAYS_INLINE const char *parse_number(struct jp *jp, const char *p)
{
  const char *s = p, *end = jp->end;
  int neg = 0, is_int = 1, overflow = 0;
  unsigned long long u = 0, limit;

  if(*p == '-') {
    neg = 1;
    p++;
  }
  limit = (unsigned long long)LUA_MAXINTEGER + (unsigned)neg;
  if(p < end && *p == '0') {
    p++;
  }
  else if(p < end && *p >= '1' && *p <= '9') {
    do {
      unsigned d = (unsigned)(*p - '0');
      if(u > (limit - d) / 10)
        overflow = 1;
      else
        u = u * 10 + d;
      p++;
    } while(p < end && *p >= '0' && *p <= '9');
  }
  else {
    return json_fail(jp, p, "expected a digit");
  }
  if(p < end && *p == '.') {
    is_int = 0;
    p++;
    if(p >= end || *p < '0' || *p > '9')
      return json_fail(jp, p, "expected a digit after '.'");
    while(p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if(p < end && (*p == 'e' || *p == 'E')) {
    is_int = 0;
    p++;
    if(p < end && (*p == '+' || *p == '-'))
      p++;
    if(p >= end || *p < '0' || *p > '9')
      return json_fail(jp, p, "expected a digit in the exponent");
    while(p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if(LIKELY(is_int && !overflow))
    lua_pushinteger(jp->L, neg ? (u ? -(lua_Integer)(u - 1) - 1 : 0)
                               : (lua_Integer)u);
  else if(push_float(jp->L, s, (size_t)(p - s)))
    return json_fail(jp, s, "number not readable in this locale");
  return p;
}

/* What the last array or object among siblings (the elements of one
 * array) held: the next one is made at that size at once, skipping the
 * gathering on the stack. An array of records repeats its shape. */
struct shape {
  int arr, obj;           /* 0: none yet, or empty */
};

#define SHAPE_MAX 1024    /* a larger sibling is no reason to presize more */

static const char *parse_array(struct jp *jp, const char *p,
                               struct shape *sh);
static const char *parse_object(struct jp *jp, const char *p,
                                struct shape *sh);

/* p is at the value's first byte (whitespace skipped); pushes the value
 * and returns the byte after it, or NULL. sh: its siblings' shape. */
static ALWAYS_INLINE const char *parse_value(struct jp *jp, const char *p,
                                             struct shape *sh)
{
  size_t left = (size_t)(jp->end - p);

  if(UNLIKELY(left == 0))
    return json_fail(jp, p, "expected a value");
  switch(*p) {
  case '"':
    return parse_string(jp, p);
  case '{':
    return parse_object(jp, p, sh);
  case '[':
    return parse_array(jp, p, sh);
  case '-': case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9':
    return parse_number(jp, p);
  case 't':
    if(left >= 4 && memcmp(p, "true", 4) == 0) {
      lua_pushboolean(jp->L, 1);
      return p + 4;
    }
    break;
  case 'f':
    if(left >= 5 && memcmp(p, "false", 5) == 0) {
      lua_pushboolean(jp->L, 0);
      return p + 5;
    }
    break;
  case 'n':
    if(left >= 4 && memcmp(p, "null", 4) == 0) {
      if(jp->null_idx)
        lua_pushvalue(jp->L, jp->null_idx);
      else
        lua_pushlightuserdata(jp->L, NULL);
      return p + 4;
    }
    break;
  }
  return json_fail(jp, p, "expected a value");
}

/* json_parse_scalar (lua_json_decode.h): parse_value, whose containers
 * its callers never pass it. */
const char *json_parse_scalar(struct jp *jp, const char *p)
{
  struct shape none = {0, 0};
  return parse_value(jp, p, &none);
}

const char *json_parse_string(struct jp *jp, const char *p)
{
  return parse_string(jp, p);
}

/* Pushes a new table of n array slots, marked as an array. */
static inline void new_array(struct jp *jp, int n)
{
  lua_createtable(jp->L, n, 0);
  lua_pushvalue(jp->L, jp->mt_slot);
  lua_setmetatable(jp->L, -2);
}

/* The n values above base become a sequence, left alone at base + 1. */
static void make_array(struct jp *jp, int base, int n)
{
  lua_State *L = jp->L;
  int i;
  new_array(jp, n);
  for(i = 1; i <= n; i++) {
    lua_pushvalue(L, base + i);
    lua_rawseti(L, -2, i);
  }
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
}

/* The n key-value pairs above base become a table, left alone at base + 1;
 * set in order, so the last of a duplicated key wins. */
static void make_object(lua_State *L, int base, int n)
{
  int i;
  lua_createtable(L, 0, n);
  for(i = 1; i <= 2 * n; i += 2) {
    lua_pushvalue(L, base + i);
    lua_pushvalue(L, base + i + 1);
    lua_rawset(L, -3);
  }
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
}

/* p is at '['; pushes the table. Its elements wait on the stack until
 * they are all there or GATHER of them, unless a sibling's shape gave the
 * size: then they go straight into the table (table = 1). */
static NOINLINE const char *parse_array(struct jp *jp, const char *p,
                                        struct shape *sh)
{
  lua_State *L = jp->L;
  const char *end = jp->end;
  struct shape inner = {0, 0};
  int base, n = 0, table = 0;

  if(++jp->depth > JSON_MAX_DEPTH)
    return json_fail(jp, p, "nesting deeper than " STR(JSON_MAX_DEPTH));
  base = lua_gettop(L);
  reserve(jp, base, GATHER + ROOM);
  p = json_skip_ws(p + 1, end);
  if(p < end && *p == ']') {
    new_array(jp, 0);
    sh->arr = 0;
    jp->depth--;
    return p + 1;
  }
  if(sh->arr) {
    new_array(jp, sh->arr);
    table = 1;
  }
  for(;;) {
    if(!(p = parse_value(jp, p, &inner)))
      return NULL;
    n++;
    if(table)
      lua_rawseti(L, base + 1, n);
    else if(n == GATHER) {
      make_array(jp, base, n);
      table = 1;
    }
    p = json_skip_ws(p, end);
    if(p < end && *p == ',') {
      p = json_skip_ws(p + 1, end);
      continue;
    }
    if(p < end && *p == ']')
      break;
    return json_fail(jp, p, "expected ',' or ']'");
  }
  if(!table)
    make_array(jp, base, n);
  sh->arr = n < SHAPE_MAX ? n : SHAPE_MAX;
  jp->depth--;
  return p + 1;
}

/* p is at '{'; pushes the table, as parse_array does. The values of its
 * fields are not siblings: each starts with no shape. A null member is
 * set to nil (so it is absent, and a repeated key's null removes the
 * earlier value) unless jp->null_idx names what null reads as. */
static NOINLINE const char *parse_object(struct jp *jp, const char *p,
                                         struct shape *sh)
{
  lua_State *L = jp->L;
  const char *end = jp->end;
  int base, n = 0, table = 0;

  if(++jp->depth > JSON_MAX_DEPTH)
    return json_fail(jp, p, "nesting deeper than " STR(JSON_MAX_DEPTH));
  base = lua_gettop(L);
  reserve(jp, base, 2 * GATHER + ROOM);
  p = json_skip_ws(p + 1, end);
  if(p < end && *p == '}') {
    lua_createtable(L, 0, 0);
    sh->obj = 0;
    jp->depth--;
    return p + 1;
  }
  if(sh->obj) {
    lua_createtable(L, 0, sh->obj);
    table = 1;
  }
  for(;;) {
    struct shape none = {0, 0};
    if(p >= end || *p != '"')
      return json_fail(jp, p, n ? "expected '\"'" : "expected '\"' or '}'");
    if(!(p = parse_key(jp, p)))
      return NULL;
    p = json_skip_ws(p, end);
    if(p >= end || *p != ':')
      return json_fail(jp, p, "expected ':'");
    if(!(p = parse_value(jp, json_skip_ws(p + 1, end), &none)))
      return NULL;
    if(!jp->null_idx && lua_type(L, -1) == LUA_TLIGHTUSERDATA) {
      lua_pop(L, 1);
      lua_pushnil(L);
    }
    n++;
    if(table)
      lua_rawset(L, base + 1);
    else if(n == GATHER) {
      make_object(L, base, n);
      table = 1;
    }
    p = json_skip_ws(p, end);
    if(p < end && *p == ',') {
      p = json_skip_ws(p + 1, end);
      continue;
    }
    if(p < end && *p == '}')
      break;
    return json_fail(jp, p, "expected ',' or '}'");
  }
  if(!table)
    make_object(L, base, n);
  sh->obj = n < SHAPE_MAX ? n : SHAPE_MAX;
  jp->depth--;
  return p + 1;
}

int json_decode(lua_State *L, const char *s, size_t len, int null_idx,
                char *err, size_t errlen)
{
  struct jp jp;
  struct shape top_shape = {0, 0};
  const char *p;
  int top = lua_gettop(L);

  jp.L = L;
  jp.start = s;
  jp.end = s + len;
  jp.depth = 0;
  jp.cache_base = 0;
  jp.mt_slot = 0;
  jp.null_idx = null_idx ? lua_absindex(L, null_idx) : 0;
  jp.err = err;
  jp.errlen = errlen;
  luaL_checkstack(L, KEY_CACHE + 1 + ROOM, "decoding JSON");
  jp.stack_ok = top + KEY_CACHE + 1 + ROOM;
  p = json_skip_ws(s, jp.end);
  if(p < jp.end && (*p == '{' || *p == '[')) {
    /* a container: the key cache's slots below it, nil, and the array
     * metatable */
    lua_settop(L, top + KEY_CACHE);
    jp.cache_base = top + 1;
    memset(jp.keys, 0, sizeof(jp.keys));
    json_push_array_mt(L);
    jp.mt_slot = top + KEY_CACHE + 1;
  }
  p = parse_value(&jp, p, &top_shape);
  if(p) {
    p = json_skip_ws(p, jp.end);
    if(p == jp.end) {
      if(jp.cache_base) {
        lua_replace(L, top + 1);
        lua_settop(L, top + 1);
      }
      else if(!jp.null_idx && lua_type(L, -1) == LUA_TLIGHTUSERDATA) {
        lua_pop(L, 1);            /* the whole text is null: nil */
        lua_pushnil(L);
      }
      return 0;
    }
    json_fail(&jp, p, "expected end of input");
  }
  lua_settop(L, top);
  return -1;
}
