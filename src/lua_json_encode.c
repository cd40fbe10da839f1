/*
 * lua_json_encode.c - the JSON encoder that matches the decoder in
 * lua_json_decode.c: a Lua value to JSON text (see lua_json.h for the
 * mapping and the errors).
 *
 * One recursive walk over the value. It uses only the Lua C API; it never
 * touches lua-cjson, curl or the loop, calls no metamethod and no Lua
 * code (so the value cannot change under it), and reads the value only,
 * but for making a lazy view's tables whole as it reaches them
 * (json_touch), which changes nothing a script can see.
 * Its scratch memory, the text being written and the keys of the objects
 * being sorted, is held in userdata in fixed slots of the Lua stack, and
 * replaced by a larger one as it grows: a memory error raised part way
 * leaks nothing, and an encoding error only has to put the stack back.
 * The path an error names is a chain of frames on the C stack, one a
 * level, which also holds the tables open, for finding cycles.
 */
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_json.h"
#include "luax.h"

/* Bytes of the text before its first growth. */
#define OUT_FIRST 256
/* Keys sorted before the first growth of their stack. */
#define KEYS_FIRST 32
/* Bytes of a path in a message; past this its start is cut to "...". */
#define PATH_MAX_SHOWN 160
/* Bytes of one key in a path; past this it is cut and ends in "...". */
#define KEY_MAX_SHOWN 32
/* Stack slots one level uses: the key and value being read, and a new
 * scratch userdata. */
#define ROOM 4

#define STR_(x) #x
#define STR(x) STR_(x)

/* An object key: its bytes, owned by the table being encoded. */
struct key {
  const char *s;
  size_t len;
};

/* How the value being encoded was reached: from its parent (up) by index
 * (> 0) or by key, and, when it is a table, that table. The top value's
 * frame has up NULL. */
struct frame {
  const struct frame *up;
  lua_Integer index;
  const char *key;
  size_t keylen;
  const void *table;
};

struct enc {
  lua_State *L;
  int mt_slot;             /* the array metatable */
  int out_slot;            /* the userdata holding out */
  int keys_slot;           /* the userdata holding keys, or nil */
  int empty_slot;          /* json.empty_array */
  char *out;
  size_t len, cap;
  struct key *keys;        /* a stack: each object's keys above its
                              parents' */
  size_t nkeys, keys_cap;
  int depth;               /* tables open */
  char *err;
  size_t errlen;
};

/* Replaces the userdata at slot, holding used bytes at *p, with one of at
 * least need bytes (doubling), copying the bytes over; updates *p and
 * *cap. Raises only out of memory. */
static void grow(lua_State *L, int slot, void **p, size_t used, size_t *cap,
                 size_t need, size_t first)
{
  size_t n = *cap ? *cap : first;
  void *q;
  while(n < need) {
    if(n > ((size_t)-1) / 2) {
      n = need;
      break;
    }
    n *= 2;
  }
  q = lua_newuserdatauv(L, n, 0);
  if(used)
    memcpy(q, *p, used);
  lua_replace(L, slot);
  *p = q;
  *cap = n;
}

/* Room for n more bytes of text; returns where they go. */
static char *out_room(struct enc *e, size_t n)
{
  if(e->cap - e->len < n) {
    void *p = e->out;
    if(n > ((size_t)-1) - e->len)
      luaL_error(e->L, "json: the text would be too long");
    grow(e->L, e->out_slot, &p, e->len, &e->cap, e->len + n, OUT_FIRST);
    e->out = p;
  }
  return e->out + e->len;
}

static void put(struct enc *e, const char *s, size_t n)
{
  memcpy(out_room(e, n), s, n);
  e->len += n;
}

static void push_key(struct enc *e, const char *s, size_t len)
{
  if(e->nkeys == e->keys_cap) {
    void *p = e->keys;
    size_t bytes = e->keys_cap * sizeof(struct key);
    grow(e->L, e->keys_slot, &p, bytes, &bytes,
         bytes + sizeof(struct key), KEYS_FIRST * sizeof(struct key));
    e->keys = p;
    e->keys_cap = bytes / sizeof(struct key);
  }
  e->keys[e->nkeys].s = s;
  e->keys[e->nkeys].len = len;
  e->nkeys++;
}

/* ---- messages ---------------------------------------------------------- */

static int is_ident(const char *s, size_t n)
{
  size_t i;
  if(n == 0 || (s[0] >= '0' && s[0] <= '9'))
    return 0;
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(!(c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' &&
                                                 (c | 0x20) <= 'z')))
      return 0;
  }
  return 1;
}

/* One step of a path into buf (at least KEY_MAX_SHOWN * 4 + 16 bytes):
 * "[3]", ".name" or ["a key"] with '"', '\\' and bytes outside printable
 * ASCII escaped (\xNN), cut at KEY_MAX_SHOWN bytes of the key. Returns
 * its length. */
static size_t render_step(const struct frame *f, char *buf, size_t size)
{
  size_t n = f->keylen < KEY_MAX_SHOWN ? f->keylen : KEY_MAX_SHOWN;
  const char *cut = n < f->keylen ? "..." : "";
  size_t o, i;

  if(!f->key)
    return (size_t)snprintf(buf, size, "[" LUA_INTEGER_FMT "]",
                            (LUAI_UACINT)f->index);
  if(is_ident(f->key, f->keylen))
    return (size_t)snprintf(buf, size, ".%.*s%s", (int)n, f->key, cut);
  o = (size_t)snprintf(buf, size, "[\"");
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)f->key[i];
    if(c == '"' || c == '\\')
      o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
    else if(c < 0x20 || c >= 0x7f)
      o += (size_t)snprintf(buf + o, size - o, "\\x%02X", c);
    else
      buf[o++] = (char)c;
  }
  o += (size_t)snprintf(buf + o, size - o, "%s\"]", cut);
  return o;
}

/* The path to f, as ".items[3].price", written from its end backwards
 * into out (size bytes); "the top level" for the top. When it is longer
 * than the room, its start becomes "...". */
static void render_path(const struct frame *f, char *out, size_t size)
{
  char path[PATH_MAX_SHOWN + 1], one[KEY_MAX_SHOWN * 4 + 16];
  size_t pos = PATH_MAX_SHOWN;

  path[pos] = '\0';
  for(; f && f->up; f = f->up) {
    size_t n = render_step(f, one, sizeof(one));
    if(n + 3 > pos) {
      pos -= 3;
      memcpy(path + pos, "...", 3);
      break;
    }
    pos -= n;
    memcpy(path + pos, one, n);
  }
  snprintf(out, size, "%s", pos == PATH_MAX_SHOWN ? "the top level"
                                                  : path + pos);
}

/* Writes "json: <what> at <path to f>" into the error buffer; returns -1. */
static int fail(struct enc *e, const struct frame *f, const char *fmt, ...)
{
  char what[128], path[PATH_MAX_SHOWN + 16];
  va_list ap;

  if(!e->errlen)
    return -1;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  render_path(f, path, sizeof(path));
  snprintf(e->err, e->errlen, "json: %s at %s", what, path);
  return -1;
}

/* ---- scalars ----------------------------------------------------------- */

static int put_integer(struct enc *e, lua_Integer v)
{
  char buf[32];
  int n = snprintf(buf, sizeof(buf), LUA_INTEGER_FMT, (LUAI_UACINT)v);
  put(e, buf, (size_t)n);
  return 0;
}

/* The fewest of 15, 16 or 17 significant digits that read back as v, with
 * the locale's decimal point made '.', and ".0" added to what would read
 * as an integer. */
static int put_float(struct enc *e, lua_Number v, const struct frame *f)
{
  char buf[48];
  char point = localeconv()->decimal_point[0];
  double d = (double)v;
  int prec, n = 0, i, plain = 1;

  if(isnan(d))
    return fail(e, f, "cannot encode NaN");
  if(isinf(d))
    return fail(e, f, d > 0 ? "cannot encode inf" : "cannot encode -inf");
  for(prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, sizeof(buf), "%.*g", prec, d);
    if(strtod(buf, NULL) == d)
      break;
  }
  for(i = 0; i < n; i++) {
    if(buf[i] == point && point != '\0')
      buf[i] = '.';
    if(buf[i] == '.' || buf[i] == 'e')
      plain = 0;
  }
  if(plain) {
    buf[n++] = '.';
    buf[n++] = '0';
  }
  put(e, buf, (size_t)n);
  return 0;
}

/* The length of the valid UTF-8 sequence starting at p (p < end, *p >=
 * 0x80), or 0 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
  unsigned c = p[0];
  unsigned lo = 0x80, hi = 0xBF;
  size_t n, i;

  if(c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if(c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if(c == 0xE0)
      lo = 0xA0;
    else if(c == 0xED)
      hi = 0x9F;
  }
  else if(c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if(c == 0xF0)
      lo = 0x90;
    else if(c == 0xF4)
      hi = 0x8F;
  }
  else
    return 0;
  if((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
    return 0;
  for(i = 2; i < n; i++)
    if(p[i] < 0x80 || p[i] > 0xBF)
      return 0;
  return n;
}

/* s[0..len) as a JSON string; what: "string" or "key", for the message. */
static int put_string(struct enc *e, const char *s, size_t len,
                      const struct frame *f, const char *what)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  const unsigned char *run = p;

  put(e, "\"", 1);
  while(p < end) {
    unsigned c = *p;
    char esc[6];
    size_t n = 2;
    if(c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      p++;
      continue;
    }
    if(c >= 0x80) {
      size_t k = utf8_seq(p, end);
      if(!k)
        return fail(e, f, "invalid UTF-8 in a %s (byte %zu)", what,
                    (size_t)(p - (const unsigned char *)s) + 1);
      p += k;
      continue;
    }
    put(e, (const char *)run, (size_t)(p - run));
    esc[0] = '\\';
    switch(c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      n = 6;
    }
    put(e, esc, n);
    run = ++p;
  }
  put(e, (const char *)run, (size_t)(p - run));
  put(e, "\"", 1);
  return 0;
}

/* ---- tables ------------------------------------------------------------ */

static int encode_value(struct enc *e, int idx, struct frame *f);

static int key_cmp(const void *a, const void *b)
{
  const struct key *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
  if(c)
    return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

/* The elements 1..n of the table at idx. */
static int encode_array(struct enc *e, int idx, struct frame *f,
                        lua_Integer n)
{
  lua_Integer i;
  put(e, "[", 1);
  for(i = 1; i <= n; i++) {
    struct frame child = {f, i, NULL, 0, NULL};
    if(i > 1)
      put(e, ",", 1);
    lua_rawgeti(e->L, idx, i);
    if(encode_value(e, lua_gettop(e->L), &child))
      return -1;
    lua_pop(e->L, 1);
  }
  put(e, "]", 1);
  return 0;
}

/* The members of the table at idx, whose keys are keys[k0 .. e->nkeys). */
static int encode_object(struct enc *e, int idx, struct frame *f, size_t k0)
{
  size_t n = e->nkeys - k0, i;
  qsort(e->keys + k0, n, sizeof(struct key), key_cmp);
  put(e, "{", 1);
  for(i = 0; i < n; i++) {
    /* e->keys moves when a nested object grows it: read it again */
    struct key k = e->keys[k0 + i];
    struct frame child = {f, 0, k.s, k.len, NULL};
    if(i > 0)
      put(e, ",", 1);
    if(put_string(e, k.s, k.len, &child, "key"))
      return -1;
    put(e, ":", 1);
    lua_pushlstring(e->L, k.s, k.len);
    lua_rawget(e->L, idx);
    if(encode_value(e, lua_gettop(e->L), &child))
      return -1;
    lua_pop(e->L, 1);
  }
  put(e, "}", 1);
  return 0;
}

/* The table at idx: an array or an object by its keys (see lua_json.h). */
static int encode_table(struct enc *e, int idx, struct frame *f)
{
  lua_State *L = e->L;
  const struct frame *up;
  size_t k0 = e->nkeys, nstr = 0;
  lua_Integer nint = 0, lo = LUA_MAXINTEGER, hi = LUA_MININTEGER;
  int marked = 0, rc, top = lua_gettop(L);

  if(e->depth >= JSON_MAX_DEPTH)
    return fail(e, f, "cannot encode nesting deeper than "
                STR(JSON_MAX_DEPTH));
  json_touch(L, idx);              /* a lazy view's table, made whole */
  f->table = lua_topointer(L, idx);
  for(up = f->up; up; up = up->up)
    if(up->table == f->table)
      return fail(e, f, "cannot encode a table that contains itself");
  luaL_checkstack(L, ROOM, "encoding JSON");
  if(lua_getmetatable(L, idx)) {
    marked = lua_rawequal(L, -1, e->mt_slot) ||
             lua_rawequal(L, idx, e->empty_slot);
    lua_pop(L, 1);
    if(luaL_getmetafield(L, idx, "__name") == LUA_TSTRING &&
       !strcmp(lua_tostring(L, -1), LUAX_RESPONSE_MT)) {
      lua_getfield(L, idx, "headers");  /* a Response's, made when read */
      lua_pop(L, 1);
    }
    lua_settop(L, top);
  }

  lua_pushnil(L);
  while(lua_next(L, idx)) {
    int kt = lua_type(L, -2);
    if(kt == LUA_TSTRING) {
      size_t len;
      const char *s = lua_tolstring(L, -2, &len);
      push_key(e, s, len);
      nstr++;
    }
    else if(lua_isinteger(L, -2)) {
      lua_Integer k = lua_tointeger(L, -2);
      nint++;
      if(k < lo)
        lo = k;
      if(k > hi)
        hi = k;
    }
    else if(kt == LUA_TLIGHTUSERDATA) {
      /* only C makes these: a private key of retryrun's, not data */
    }
    else {
      lua_pop(L, 2);
      e->nkeys = k0;
      return fail(e, f, "cannot encode a table with a %s key",
                  kt == LUA_TNUMBER ? "float" : lua_typename(L, kt));
    }
    lua_pop(L, 1);
  }

  if(nstr && (nint || marked)) {
    e->nkeys = k0;
    return fail(e, f, nint ? "cannot encode a table with both integer and "
                             "string keys"
                           : "cannot encode a table marked as an array "
                             "with string keys");
  }
  if(nint && (lo < 1 || hi != nint))
    return fail(e, f, "cannot encode a sparse array (key " LUA_INTEGER_FMT
                " among " LUA_INTEGER_FMT " integer keys; an array has keys "
                "1..n)", (LUAI_UACINT)(lo < 1 ? lo : hi), (LUAI_UACINT)nint);

  e->depth++;
  if(nint)
    rc = encode_array(e, idx, f, nint);
  else if(nstr)
    rc = encode_object(e, idx, f, k0);
  else {
    put(e, marked ? "[]" : "{}", 2);
    rc = 0;
  }
  e->depth--;
  e->nkeys = k0;
  return rc;
}

/* The value at idx (an absolute index). */
static int encode_value(struct enc *e, int idx, struct frame *f)
{
  lua_State *L = e->L;
  size_t len;
  const char *s;

  switch(lua_type(L, idx)) {
  case LUA_TNIL:
    put(e, "null", 4);
    return 0;
  case LUA_TBOOLEAN:
    if(lua_toboolean(L, idx))
      put(e, "true", 4);
    else
      put(e, "false", 5);
    return 0;
  case LUA_TNUMBER:
    if(lua_isinteger(L, idx))
      return put_integer(e, lua_tointeger(L, idx));
    return put_float(e, lua_tonumber(L, idx), f);
  case LUA_TSTRING:
    s = lua_tolstring(L, idx, &len);
    return put_string(e, s, len, f, "string");
  case LUA_TTABLE:
    return encode_table(e, idx, f);
  case LUA_TLIGHTUSERDATA:
    if(lua_touserdata(L, idx) == NULL) {
      put(e, "null", 4);
      return 0;
    }
    return fail(e, f, "cannot encode a light userdata other than "
                "json.null");
  default:
    return fail(e, f, "cannot encode a %s", luaL_typename(L, idx));
  }
}

int json_encode(lua_State *L, int idx, char *err, size_t errlen)
{
  struct enc e;
  struct frame top_frame = {NULL, 0, NULL, 0, NULL};
  int top = lua_gettop(L);

  idx = lua_absindex(L, idx);
  luaL_checkstack(L, ROOM + 4, "encoding JSON");
  memset(&e, 0, sizeof(e));
  e.L = L;
  e.err = err;
  e.errlen = errlen;
  json_push_array_mt(L);
  e.mt_slot = top + 1;
  e.out = lua_newuserdatauv(L, OUT_FIRST, 0);
  e.cap = OUT_FIRST;
  e.out_slot = top + 2;
  lua_pushnil(L);
  e.keys_slot = top + 3;
  json_push_empty_array(L);
  e.empty_slot = top + 4;

  if(encode_value(&e, idx, &top_frame)) {
    lua_settop(L, top);
    return -1;
  }
  lua_pushlstring(L, e.out, e.len);
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  return 0;
}
