/*
 * lua_redact.c - redaction for the Lua bindings (see lua_redact.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_redact.h"
#include "luax.h"
#include "transfer.h"

static int lbox_gc(lua_State *L)
{
  char **box = luax_testsized(L, 1, LUAX_BOX_MT, sizeof(*box));
  if(!box)
    return 0;   /* another userdata given the metatable: not a Box */
  free(*box);
  *box = NULL;
  return 0;
}

void lredact_push(lua_State *L, const char *text, size_t len,
                          const struct redact_values *vals)
{
  size_t n;
  /* the copy lives in a box until pushed, so a memory error in between
   * does not leak it */
  char **box = lua_newuserdatauv(L, sizeof(*box), 0);
  *box = NULL;
  luaL_setmetatable(L, LUAX_BOX_MT);
  *box = redact_text(text, len, vals, &n);
  if(!*box)
    luaL_error(L, "not enough memory");
  lua_pushlstring(L, *box, n);
  free(*box);
  *box = NULL;
  lua_remove(L, -2);
}

void lredact_push_url(lua_State *L, const char *url, int req)
{
  if(req)
    req = lua_absindex(L, req);
  lua_pushstring(L, url);
  lredact_at(L, -1, req);
}

const char *lredact_push_error(lua_State *L, int idx)
{
  const char *s = NULL;
  size_t len = 0;
  idx = lua_absindex(L, idx);
  if(lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER) {
    lua_pushvalue(L, idx);           /* a number becomes a string here */
    s = lua_tolstring(L, -1, &len);
    lredact_push(L, s, len, NULL);
    lua_remove(L, -2);
    return lua_tostring(L, -1);
  }
  if(lua_istable(L, idx)) {
    lua_pushliteral(L, "message");
    if(lua_rawget(L, idx) == LUA_TSTRING)
      s = lua_tolstring(L, -1, &len);
    lua_pop(L, 1);                     /* the table still holds it */
  }
  if(!s) {
    lua_pushfstring(L, "(an error object: %s)", luaL_typename(L, idx));
    return lua_tostring(L, -1);
  }
  lredact_push(L, s, len, NULL);
  return lua_tostring(L, -1);
}

static void jar_value(void *vals, const char *value, size_t len)
{
  redact_collect_copy(vals, value, len);
}

/* Collects the secret values of the request table at idx: its secret
 * headers', its URL's, its secret multipart fields', its body's, its
 * cookie jar's cookies'. The
 * pointers borrow the table's strings: use vals only while the table is
 * alive and unchanged. Raw reads of strings: raises nothing. */
static void collect(lua_State *L, int idx, struct redact_values *v)
{
  size_t n;
  const char *s;
  if(!lua_istable(L, idx))
    return;
  idx = lua_absindex(L, idx);
  if(lua_getfield(L, idx, "headers") == LUA_TTABLE) {
    lua_pushnil(L);
    while(lua_next(L, -2)) {
      if(lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
        size_t kn;
        const char *k = lua_tolstring(L, -2, &kn);
        s = lua_tolstring(L, -1, &n);
        redact_collect_header(v, k, kn, s, n);
      }
      lua_pop(L, 1);
    }
  }
  if(lua_getfield(L, idx, "url") == LUA_TSTRING) {
    s = lua_tolstring(L, -1, &n);
    redact_collect_url(v, s, n);
  }
  lua_pop(L, 2);
  if(lua_getfield(L, idx, "multipart") == LUA_TTABLE) {
    int list = lua_gettop(L);
    lua_Integer i, parts = (lua_Integer)lua_rawlen(L, -1);
    for(i = 1; i <= parts; i++) {
      if(lua_rawgeti(L, -1, i) == LUA_TTABLE &&
         lua_getfield(L, -1, "name") == LUA_TSTRING &&
         lua_getfield(L, -2, "data") == LUA_TSTRING) {
        size_t kn;
        const char *k = lua_tolstring(L, -2, &kn);
        s = lua_tolstring(L, -1, &n);
        redact_collect_field(v, k, kn, s, n);
      }
      lua_settop(L, list);
    }
  }
  lua_pop(L, 1);
  if(lua_getfield(L, idx, "body") == LUA_TSTRING) {
    s = lua_tolstring(L, -1, &n);
    redact_collect_body(v, s, n);
  }
  lua_pop(L, 1);
  if(lua_getfield(L, idx, "cookies") == LUA_TUSERDATA) {
    struct transfer_jar **jar = luax_testsized(L, -1, LUAX_JAR_MT,
                                               sizeof(*jar));
    if(jar && *jar && transfer_jar_values(*jar, jar_value, v))
      v->oom = 1;                    /* a value unknown: show nothing */
  }
  lua_pop(L, 1);
}

void lredact_push_req(lua_State *L, const char *text, size_t len, int req)
{
  struct redact_values v;
  size_t n;
  char **box;
  if(req)
    req = lua_absindex(L, req);
  box = lua_newuserdatauv(L, sizeof(*box), 0);
  *box = NULL;
  luaL_setmetatable(L, LUAX_BOX_MT);
  /* nothing raises from here until v is freed: a memory error would
   * leak what it grew into */
  redact_values_init(&v);
  if(req)
    collect(L, req, &v);
  *box = redact_text(text, len, req ? &v : NULL, &n);
  redact_values_free(&v);
  if(!*box)
    luaL_error(L, "not enough memory");
  lua_pushlstring(L, *box, n);
  free(*box);
  *box = NULL;
  lua_remove(L, -2);
}

const char *lredact_str(lua_State *L, const char *s, int req, char *buf,
                        size_t size)
{
  struct redact_values v;
  char *out = NULL;
  int any;
  redact_values_init(&v);
  collect(L, req, &v);
  any = v.count || v.oom;
  if(any)
    out = redact_text(s, strlen(s), &v, NULL);
  redact_values_free(&v);
  if(!any)
    return s;                       /* nothing of the request's to hide */
  snprintf(buf, size, "%s", out ? out : REDACTED);
  free(out);
  return buf;
}

/* Replaces the string at idx with its redacted form: URLs, and the
 * secrets of the request table at req (0 for none). Other values are left
 * as they are. */
void lredact_at(lua_State *L, int idx, int req)
{
  size_t n;
  const char *s;
  idx = lua_absindex(L, idx);
  if(lua_type(L, idx) != LUA_TSTRING)
    return;
  s = lua_tolstring(L, idx, &n);
  lredact_push_req(L, s, n, req);
  lua_replace(L, idx);
}

/* core.redact(text [, req]) -> text with every URL in it redacted, and
 * the secret values of the request table req ({url=, headers=, body=})
 * hidden. */
static int lcore_redact(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  if(!lua_isnoneornil(L, 2))
    luaL_checktype(L, 2, LUA_TTABLE);
  lredact_push_req(L, s, n, lua_isnoneornil(L, 2) ? 0 : 2);
  return 1;
}

/* core.redact_names(name...): more query parameter and header names whose
 * values are never printed. */
static int lcore_redact_names(lua_State *L)
{
  int i, n = lua_gettop(L);
  for(i = 1; i <= n; i++) {
    size_t len, j;
    const char *s = lua_type(L, i) == LUA_TSTRING ?
                    lua_tolstring(L, i, &len) : NULL;
    for(j = 0; s && j < len; j++)
      if(!isalnum((unsigned char)s[j]) && !strchr("-_.", s[j]))
        s = NULL;
    if(!s || len == 0 || len > 64 || redact_add_name(s, len))
      return luax_error(L, "bad argument #%d to 'redact_names' (a name of "
                        "1 to 64 letters, digits and -_. expected)", i);
  }
  return 0;
}

/* core.secret_header(name) -> true when a header so named carries a
 * credential (redact.h's list and redact_names'). */
static int lcore_secret_header(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_pushboolean(L, redact_secret_header(s, n));
  return 1;
}

void lredact_register(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"redact", lcore_redact},
    {"secret_header", lcore_secret_header},
    {"redact_names", lcore_redact_names},
    {NULL, NULL}
  };
  luaL_newmetatable(L, LUAX_BOX_MT);
  lua_pushcfunction(L, lbox_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
