/*
 * lua_response.c - retryrun.Response and retryrun.Headers (see
 * lua_response.h).
 *
 * A Response is a table with a metatable: scripts may read and add fields
 * as they like. Its raw header lines are kept under a private key and
 * parsed into resp.headers only when a script asks.
 *
 * It stays a table, not a userdata with fields made when read: scripts
 * and http.poll/http.pages add fields to it, iterate it, rawget it,
 * json.encode it and make one with setmetatable({...}, http.Response),
 * and a table's field is read by the VM alone, where a userdata's would
 * be a C call each time. Building it is what is kept cheap: keys
 * interned once (luax_keys), the metatable compared, not looked up, one
 * table sized for every field it gets (nine: the JSON view's cache too).
 * A table constructor in Lua was measured at the same cost.
 *
 * Its __index is a C function, about 400 instructions a method named
 * (resp:json()), so that resp.headers can be made on first read. A table
 * of methods as __index, with resp.headers set at creation to a table
 * parsed on first use, was measured at more than twice what it saves
 * when a script names two methods a response: the extra table, its
 * metatable and two keys. Setting the JSON cache's key at creation, so
 * that resp:json() adds none, was measured slower too: the table has
 * room for it anyway, and the key is added once wherever it is added.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "lua_json.h"
#include "lua_redact.h"
#include "lua_response.h"
#include "luax.h"
#include "transfer.h"

static char json_key, raw_headers_key;

/* Copies n bytes of s into d in lower case (header names). */
static void lower(char *d, const char *s, size_t n)
{
  size_t i;
  for(i = 0; i < n; i++)
    d[i] = (char)tolower((unsigned char)s[i]);
}

/* Case-insensitive lookups in resp.headers. */
static int lheaders_index(lua_State *L)
{
  size_t n;
  const char *k = lua_tolstring(L, 2, &n);
  char name[256];
  if(!k || n >= sizeof(name))
    return 0;
  lower(name, k, n);
  lua_pushlstring(L, name, n);
  lua_rawget(L, 1);
  return 1;
}

/* One "name: value" line of the raw headers. */
struct header_line {
  const char *name, *value;
  size_t name_len, value_len;
};

/* Reads the header line at *p (before end) into h, moving *p past it;
 * returns 0 at the end, else 1, with h->name NULL for a line that is not
 * a header (no colon, or a name of 256 bytes or more). */
static int next_header(const char **p, const char *end,
                       struct header_line *h)
{
  const char *eol, *colon, *v, *ve;
  if(!*p || *p >= end)
    return 0;
  eol = memchr(*p, '\n', (size_t)(end - *p));
  if(!eol)
    eol = end;
  h->name = NULL;
  colon = memchr(*p, ':', (size_t)(eol - *p));
  if(colon && colon > *p && colon - *p < 256) {
    h->name = *p;
    h->name_len = (size_t)(colon - *p);
    v = colon + 1;
    ve = eol;
    while(v < ve && (*v == ' ' || *v == '\t'))
      v++;
    while(ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
      ve--;
    h->value = v;
    h->value_len = (size_t)(ve - v);
  }
  *p = eol + 1;
  return 1;
}

/* Pushes the headers table parsed from "name: value\r\n" lines; keys are
 * lower case, repeated headers are joined with ", ". */
static void push_headers(lua_State *L, const char *p, size_t len)
{
  const char *end = p + len;
  struct header_line h;
  char name[256];
  lua_createtable(L, 0, 8);
  luaL_setmetatable(L, LUAX_HEADERS_MT);
  while(next_header(&p, end, &h)) {
    const char *v = h.value, *ve = h.value + h.value_len;
    size_t n = h.name_len;
    if(h.name) {
      lower(name, h.name, n);
      lua_pushlstring(L, name, n);
      if(lua_rawget(L, -2) == LUA_TSTRING) {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, v, (size_t)(ve - v));
        lua_concat(L, 3);
      }
      else {
        lua_pop(L, 1);
        lua_pushlstring(L, v, (size_t)(ve - v));
      }
      lua_pushlstring(L, name, n);
      lua_insert(L, -2);
      lua_rawset(L, -3);
    }
  }
}

void lresp_new(lua_State *L, int keys, const struct transfer *tr,
               const char *method, const char *url, double elapsed,
               lua_Integer attempts)
{
  lua_createtable(L, 0, 9);
  luax_pushkey(L, keys, LUAX_K_RESPONSE_MT);   /* with no __newindex */
  lua_setmetatable(L, -2);
  luax_pushkey(L, keys, LUAX_K_STATUS);
  lua_pushinteger(L, tr->status);
  lua_rawset(L, -3);
  luax_pushkey(L, keys, LUAX_K_OK);
  lua_pushboolean(L, tr->status >= 200 && tr->status < 300);
  lua_rawset(L, -3);
  luax_pushkey(L, keys, LUAX_K_BODY);
  lua_pushlstring(L, tr->resp_body.data ? tr->resp_body.data : "",
                  tr->resp_body.len);
  lua_rawset(L, -3);
  luax_pushkey(L, keys, LUAX_K_URL);
  lua_pushstring(L, tr->effective_url ? tr->effective_url : url);
  lua_rawset(L, -3);
  luax_pushkey(L, keys, LUAX_K_METHOD);
  lua_pushstring(L, method);
  lua_rawset(L, -3);
  luax_pushkey(L, keys, LUAX_K_ELAPSED);
  lua_pushnumber(L, elapsed);
  lua_rawset(L, -3);
  luax_pushkey(L, keys, LUAX_K_ATTEMPTS);
  lua_pushinteger(L, attempts);
  lua_rawset(L, -3);
  /* the header lines as they came: resp.headers parses them when asked */
  lua_pushlstring(L, tr->resp_headers.data ? tr->resp_headers.data : "",
                  tr->resp_headers.len);
  lua_rawsetp(L, -2, &raw_headers_key);
}

void lresp_push(lua_State *L, const struct transfer *tr, const char *method,
                const char *url, double elapsed, lua_Integer attempts)
{
  int keys = luax_keys(L);
  lresp_new(L, keys, tr, method, url, elapsed, attempts);
  lua_remove(L, keys);
}

void lresp_header_copy(lua_State *L, int idx, const char *name, char *buf,
                       size_t size)
{
  size_t len, want = strlen(name);
  const char *p, *end;
  struct header_line h;
  buf[0] = '\0';
  if(lua_type(L, idx) != LUA_TTABLE)
    return;
  if(lua_rawgetp(L, idx, &raw_headers_key) == LUA_TSTRING) {
    p = lua_tolstring(L, -1, &len);
    end = p + len;
    while(next_header(&p, end, &h))
      if(h.name && h.name_len == want && !strncasecmp(h.name, name, want)) {
        len = h.value_len < size ? h.value_len : size - 1;
        memcpy(buf, h.value, len);
        buf[len] = '\0';
        break;
      }
  }
  lua_pop(L, 1);
}

/* Response __index: resp.headers is parsed from the raw header lines on
 * first use and kept; other names are the methods (upvalue 1). Called for
 * every method a script names (resp:json()): kept short. */
static int lresp_index(lua_State *L)
{
  size_t len;
  const char *k = lua_tolstring(L, 2, &len);
  if(k && len == 7 && !memcmp(k, "headers", 7) &&
     lua_rawgetp(L, 1, &raw_headers_key) == LUA_TSTRING) {
    const char *raw = lua_tolstring(L, -1, &len);
    push_headers(L, raw, len);
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, "headers");
    return 1;
  }
  if(lua_gettop(L) != 2)     /* called as a function, not as __index */
    lua_settop(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

/* next over a Response, past the light userdata keys: retryrun's own. */
static int lresp_next(lua_State *L)
{
  lua_settop(L, 2);
  while(lua_next(L, 1))
    if(lua_type(L, -2) == LUA_TLIGHTUSERDATA)
      lua_pop(L, 1);
    else
      return 2;
  lua_pushnil(L);
  return 1;
}

/* pairs(resp): its fields, headers made first, none of retryrun's own. */
static int lresp_pairs(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "headers");
  lua_pushcfunction(L, lresp_next);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

/* resp:header(name) -> the value, case-insensitive, or nil. */
static int lresp_header(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkstring(L, 2);
  lua_getfield(L, 1, "headers");
  if(!lua_istable(L, -1))
    return 0;
  lua_pushvalue(L, 2);
  lua_gettable(L, -2);
  return 1;
}

/* resp:header_list(name) -> a list of every value of the header, in the
 * order they came, each as it was (a repeated Set-Cookie is two
 * entries); {} when there is none. */
static int lresp_header_list(lua_State *L)
{
  size_t want_len, len;
  const char *want, *p, *end;
  struct header_line h;
  lua_Integer n = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  want = luaL_checklstring(L, 2, &want_len);
  lua_settop(L, 2);
  lua_newtable(L);
  if(lua_rawgetp(L, 1, &raw_headers_key) != LUA_TSTRING)
    return luaL_error(L, "header_list: not a response retryrun made");
  p = lua_tolstring(L, -1, &len);
  end = p + len;
  while(next_header(&p, end, &h))
    if(h.name && h.name_len == want_len &&
       !strncasecmp(h.name, want, want_len)) {
      lua_pushlstring(L, h.value, h.value_len);
      lua_rawseti(L, 3, ++n);
    }
  lua_settop(L, 3);
  return 1;
}

/* resp:json([options]) -> the decoded body, a lazy view unless options
 * say lazy = false; with no options (or lazy = true alone) decoded once
 * and cached, with null or lazy = false (json.decode's options) decoded
 * each time. Raises naming the method, URL and status when the body is
 * not JSON. Upvalue 1: the key "body", interned once; 2 and 3: the lazy
 * view's metatables (json_push_lazy_mts). */
static int lresp_json(lua_State *L)
{
  char err[128];
  int null_idx, lazy = 1, rc;
  const char *body;
  size_t len;

  luaL_checktype(L, 1, LUA_TTABLE);
  if(lua_gettop(L) == 1)    /* resp:json(), the usual call: no options */
    null_idx = 0;
  else {
    lua_settop(L, 2);
    null_idx = json_options(L, 2, &lazy);
  }
  if(!null_idx && lazy && lua_rawgetp(L, 1, &json_key) != LUA_TNIL)
    return 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_gettable(L, 1);
  body = lua_tolstring(L, -1, &len);
  if(!body || len == 0)
    snprintf(err, sizeof(err), "the body is empty");
  else {
    if(lazy)
      rc = json_decode_lazy(L, -1, null_idx, 2, err, sizeof(err));
    else
      rc = json_decode(L, body, len, null_idx, err, sizeof(err));
    if(rc == 0) {
      if(!null_idx && lazy) {
        lua_pushvalue(L, -1);
        lua_rawsetp(L, 1, &json_key);
      }
      return 1;
    }
  }
  lua_getfield(L, 1, "method");
  lua_getfield(L, 1, "url");
  lredact_at(L, -1, 0);
  lua_getfield(L, 1, "status");
  if(!lua_isstring(L, -3) || !lua_isstring(L, -2) || !lua_isstring(L, -1))
    return luaL_error(L, "json: not JSON (%s), in a table that is not a "
                      "response retryrun made", err);
  return luaL_error(L, "response to %s %s (status %s) is not JSON: %s",
                    lua_tostring(L, -3), lua_tostring(L, -2),
                    lua_tostring(L, -1), err);
}

/* The field at idx as text, or "?" (a table given the Response
 * metatable by a script may lack it). */
static const char *field_text(lua_State *L, int idx)
{
  const char *s = lua_tostring(L, idx);
  return s ? s : "?";
}

static int lresp_tostring(lua_State *L)
{
  lua_getfield(L, 1, "method");
  lua_getfield(L, 1, "url");
  lredact_at(L, -1, 0);
  lua_getfield(L, 1, "status");
  lua_pushfstring(L, "retryrun.Response (%s %s: %s)", field_text(L, -3),
                  field_text(L, -2), field_text(L, -1));
  return 1;
}

int lresp_is(lua_State *L, int idx)
{
  return luax_is_a(L, idx, LUAX_RESPONSE_MT);
}

void lresp_register(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"header", lresp_header},
    {"header_list", lresp_header_list},
    {NULL, NULL}
  };
  luaL_newmetatable(L, LUAX_HEADERS_MT);
  lua_pushcfunction(L, lheaders_index);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newmetatable(L, LUAX_RESPONSE_MT);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_pushliteral(L, "body");
  json_push_lazy_mts(L);
  lua_pushcclosure(L, lresp_json, 3);
  lua_setfield(L, -2, "json");
  lua_pushvalue(L, -1);       /* core.response_methods: Lua adds links */
  lua_setfield(L, -4, "response_methods");
  lua_pushcclosure(L, lresp_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, lresp_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, lresp_pairs);
  lua_setfield(L, -2, "__pairs");
  lua_setfield(L, -2, "Response");
}
