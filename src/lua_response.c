/*
 * lua_response.c - retryrun.Response and retryrun.Headers (see
 * lua_response.h).
 *
 * A Response is a table with a metatable: scripts may read and add fields
 * as they like. Its raw header lines are kept under a private key and
 * parsed into resp.headers only when a script asks.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

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

/* Pushes the headers table parsed from "name: value\r\n" lines; keys are
 * lower case, repeated headers are joined with ", ". */
static void push_headers(lua_State *L, const char *p, size_t len)
{
  const char *end = p + len;
  char name[256];
  lua_createtable(L, 0, 8);
  luaL_setmetatable(L, LUAX_HEADERS_MT);
  while(p && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *colon, *v, *ve;
    size_t n;
    if(!eol)
      eol = end;
    colon = memchr(p, ':', (size_t)(eol - p));
    if(colon && (n = (size_t)(colon - p)) > 0 && n < sizeof(name)) {
      lower(name, p, n);
      v = colon + 1;
      ve = eol;
      while(v < ve && (*v == ' ' || *v == '\t'))
        v++;
      while(ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
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
    p = eol + 1;
  }
}

void lresp_push(lua_State *L, const struct transfer *tr, const char *method,
                const char *url, double elapsed, lua_Integer attempts)
{
  lua_createtable(L, 0, 9);
  luaL_setmetatable(L, LUAX_RESPONSE_MT);
  lua_pushinteger(L, tr->status);
  lua_setfield(L, -2, "status");
  lua_pushboolean(L, tr->status >= 200 && tr->status < 300);
  lua_setfield(L, -2, "ok");
  lua_pushlstring(L, tr->resp_body.data ? tr->resp_body.data : "",
                  tr->resp_body.len);
  lua_setfield(L, -2, "body");
  lua_pushstring(L, tr->effective_url ? tr->effective_url : url);
  lua_setfield(L, -2, "url");
  lua_pushstring(L, method);
  lua_setfield(L, -2, "method");
  lua_pushnumber(L, elapsed);
  lua_setfield(L, -2, "elapsed");
  lua_pushinteger(L, attempts);
  lua_setfield(L, -2, "attempts");
  /* the header lines as they came: resp.headers parses them when asked */
  lua_pushlstring(L, tr->resp_headers.data ? tr->resp_headers.data : "",
                  tr->resp_headers.len);
  lua_rawsetp(L, -2, &raw_headers_key);
}

/* Response __index: resp.headers is parsed from the raw header lines on
 * first use and kept; other names are the methods (upvalue 1). */
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
  lua_settop(L, 2);
  lua_gettable(L, lua_upvalueindex(1));
  return 1;
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

/* resp:json() -> the decoded body, decoded once and cached. Raises naming
 * the method, URL and status when the body is not JSON. */
static int lresp_json(lua_State *L)
{
  size_t len;
  const char *body;
  char err[128];
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if(lua_rawgetp(L, 1, &json_key) != LUA_TNIL)
    return 1;
  lua_getfield(L, 1, "body");
  body = lua_tolstring(L, -1, &len);
  if(!body || len == 0)
    snprintf(err, sizeof(err), "the body is empty");
  else if(json_decode(L, body, len, err, sizeof(err)) == 0) {
    lua_pushvalue(L, -1);
    lua_rawsetp(L, 1, &json_key);
    return 1;
  }
  lua_getfield(L, 1, "method");
  lua_getfield(L, 1, "url");
  lredact_at(L, -1, 0);
  lua_getfield(L, 1, "status");
  return luaL_error(L, "response to %s %s (status %s) is not JSON: %s",
                    lua_tostring(L, -3), lua_tostring(L, -2),
                    lua_tostring(L, -1), err);
}

static int lresp_tostring(lua_State *L)
{
  lua_getfield(L, 1, "method");
  lua_getfield(L, 1, "url");
  lredact_at(L, -1, 0);
  lua_getfield(L, 1, "status");
  lua_pushfstring(L, "retryrun.Response (%s %s: %s)", lua_tostring(L, -3),
                  lua_tostring(L, -2), lua_tostring(L, -1));
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
    {"json", lresp_json},
    {NULL, NULL}
  };
  luaL_newmetatable(L, LUAX_HEADERS_MT);
  lua_pushcfunction(L, lheaders_index);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newmetatable(L, LUAX_RESPONSE_MT);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);       /* core.response_methods: Lua adds links */
  lua_setfield(L, -4, "response_methods");
  lua_pushcclosure(L, lresp_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, lresp_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_setfield(L, -2, "Response");
}
