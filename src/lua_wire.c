/*
 * lua_wire.c - -vv: after an attempt's -v line, the header lines its
 * transfers sent and received (transfer_wire.c), redirect hops in order:
 *
 *       > GET /items?token=REDACTED HTTP/1.1
 *       > Authorization: REDACTED
 *       < HTTP/1.1 503 Service Unavailable
 *       < Retry-After: 1
 *
 * Each line is redacted as every message is (redact.h): a secret
 * header's value, the secret query parameters of the request target, any
 * URL's password and secret parameters, and the request's own secret
 * values wherever they turn up; control characters are shown as '?'.
 * The lines wait in the Call's third user value until the -v line of
 * their attempt is printed.
 */
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "lua_call.h"
#include "lua_redact.h"
#include "runtime.h"
#include "transfer.h"

void lwire_keep(lua_State *L, const struct transfer *tr)
{
  if(!tr->wire.len)
    return;
  if(lua_getiuservalue(L, S_CALL, 3) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushliteral(L, "");
  }
  lua_pushlstring(L, tr->wire.data, tr->wire.len);
  lua_concat(L, 2);
  lua_setiuservalue(L, S_CALL, 3);
}

/* Pushes the target of the request line text (n bytes, "METHOD TARGET
 * VERSION") read as a URL's path and query, redacted, so its secret
 * parameters are found by name; sets *at and *len to where it is in
 * text. Pushes nothing and returns 0 for a target that is not a path. */
static int push_target(lua_State *L, const char *text, size_t n,
                       size_t *at, size_t *len)
{
  const char *sp = memchr(text, ' ', n), *sp2, *red;
  if(!sp || sp[1] != '/')
    return 0;
  *at = (size_t)(sp + 1 - text);
  sp2 = memchr(sp + 1, ' ', n - *at);
  *len = sp2 ? (size_t)(sp2 - sp - 1) : n - *at;
  lua_pushliteral(L, "http://h");
  lua_pushlstring(L, text + *at, *len);
  lua_concat(L, 2);
  lredact_push(L, lua_tostring(L, -1), lua_rawlen(L, -1), NULL);
  red = lua_tostring(L, -1);
  lua_pushstring(L, strncmp(red, "http://h/", 9) ? red : red + 8);
  lua_replace(L, -3);
  lua_pop(L, 1);
  return 1;
}

/* Adds to b a Location's value v (n bytes) that has no scheme, redacted:
 * a path relative to the request's ("next?token=t") is read as one from
 * the root, so its secret parameters are found as a path's are. */
static void add_location(lua_State *L, luaL_Buffer *b, const char *v,
                         size_t n)
{
  int root = n && strchr("/?#", *v);
  lua_pushstring(L, root ? "" : "/");
  lua_pushlstring(L, v, n);
  lua_concat(L, 2);
  lredact_push(L, lua_tostring(L, -1), lua_rawlen(L, -1), NULL);
  lua_pushstring(L, lua_tostring(L, -1) + !root);
  lua_replace(L, -3);
  lua_pop(L, 1);
  luaL_addvalue(b);
}

/* 1 when the header line text (n bytes) is a Location or
 * Content-Location whose value has no "scheme://"; its value in *v, *vn. */
static int relative_location(const char *text, size_t n, const char **v,
                             size_t *vn)
{
  const char *colon = memchr(text, ':', n), *end = text + n, *p;
  size_t name = colon ? (size_t)(colon - text) : 0;
  if(!((name == 8 && !strncasecmp(text, "location", 8)) ||
       (name == 16 && !strncasecmp(text, "content-location", 16))))
    return 0;
  for(p = colon + 1; p < end && (*p == ' ' || *p == '\t'); p++)
    ;
  *v = p;
  *vn = (size_t)(end - p);
  for(; p + 2 < end; p++)
    if(p[0] == ':' && p[1] == '/' && p[2] == '/')
      return 0;
  return 1;
}

/* Pushes line (len bytes, its mark "> " or "< " first), indented, with
 * its secrets hidden; request: it is a request line. */
static void push_line(lua_State *L, const char *line, size_t len,
                      int request)
{
  const char *text = line + 2, *colon = memchr(text, ':', len - 2);
  size_t n = len - 2, i, at, tlen, rlen, vn;
  const char *v;
  int target = request && push_target(L, text, n, &at, &tlen);
  const char *red = target ? lua_tolstring(L, -1, &rlen) : NULL;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, line, 2);
  if(target) {
    luaL_addlstring(&b, text, at);
    luaL_addlstring(&b, red, rlen);
    luaL_addlstring(&b, text + at + tlen, n - at - tlen);
  }
  else if(!request && relative_location(text, n, &v, &vn)) {
    luaL_addlstring(&b, text, (size_t)(v - text));
    add_location(L, &b, v, vn);
  }
  else if(!request && colon &&
          redact_secret_header(text, (size_t)(colon - text))) {
    luaL_addlstring(&b, text, (size_t)(colon - text));
    luaL_addstring(&b, ": " REDACTED);
  }
  else
    luaL_addlstring(&b, text, n);
  luaL_pushresult(&b);
  if(target)
    lua_remove(L, -2);
  lredact_push_req(L, lua_tostring(L, -1), lua_rawlen(L, -1), S_REQ);
  text = lua_tolstring(L, -1, &n);
  /* no escape sequence of a server's reaches the terminal */
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "    ");
  for(i = 0; i < n; i++)
    luaL_addchar(&b, (unsigned char)text[i] < 0x20 || text[i] == 0x7f ?
                 '?' : text[i]);
  luaL_pushresult(&b);
  lua_replace(L, -3);
  lua_pop(L, 1);
}

void lwire_trace(lua_State *L)
{
  struct runtime *rt = runtime_of(L);
  const char *p, *end;
  size_t n;
  char prev = '\0';
  int top = lua_gettop(L);
  if(lua_getiuservalue(L, S_CALL, 3) != LUA_TSTRING) {
    lua_settop(L, top);
    return;
  }
  lua_pushnil(L);
  lua_setiuservalue(L, S_CALL, 3);
  p = lua_tolstring(L, top + 1, &n);
  for(end = p + n; p < end; ) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)((eol ? eol : end) - p);
    if(len >= 2) {
      push_line(L, p, len, p[0] == '>' && prev != '>');
      if(rt->trace)
        rt->trace(lua_tostring(L, -1));
      lua_pop(L, 1);
      prev = p[0];
    }
    p = eol ? eol + 1 : end;
  }
  lua_settop(L, top);
}
