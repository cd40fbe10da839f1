/*
 * luax.c - the helpers every Lua binding of retryrun shares (see luax.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include <lauxlib.h>

#include "luax.h"

int luax_traceback(lua_State *L)
{
  const char *msg = lua_tostring(L, 1);
  if(msg && lua_type(L, 1) == LUA_TSTRING) {
    luaL_traceback(L, L, msg, 1);
    return 1;
  }
  if(lua_istable(L, 1)) {
    lua_pushliteral(L, "traceback");
    if(lua_rawget(L, 1) == LUA_TNIL) {
      lua_pushliteral(L, "traceback");
      luaL_traceback(L, L, NULL, 1);
      lua_rawset(L, 1);
    }
    lua_settop(L, 1);
    return 1;
  }
  if(luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
    return 1;
  lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  luaL_traceback(L, L, lua_tostring(L, -1), 1);
  return 1;
}

int luax_pcall(lua_State *L, int nargs, int nres)
{
  int base = lua_gettop(L) - nargs;
  int status;
  lua_pushcfunction(L, luax_traceback);
  lua_insert(L, base);
  status = lua_pcall(L, nargs, nres, base);
  lua_remove(L, base);
  return status;
}

int luax_is_a(lua_State *L, int idx, const char *mt)
{
  int r, t = lua_type(L, idx);
  if((t != LUA_TTABLE && t != LUA_TUSERDATA) || !lua_getmetatable(L, idx))
    return 0;
  luaL_getmetatable(L, mt);
  r = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return r;
}

void *luax_testudata(lua_State *L, int idx, int mt, size_t size)
{
  void *p = lua_touserdata(L, idx);
  if(!p || !lua_getmetatable(L, idx))
    return NULL;
  if(!lua_rawequal(L, -1, mt) || lua_rawlen(L, idx) != size)
    p = NULL;
  lua_pop(L, 1);
  return p;
}

void *luax_testsized(lua_State *L, int idx, const char *tname, size_t size)
{
  void *p = luaL_testudata(L, idx, tname);
  return p && lua_rawlen(L, idx) == size ? p : NULL;
}

void *luax_checksized(lua_State *L, int idx, const char *tname, size_t size)
{
  void *p = luax_testsized(L, idx, tname, size);
  if(!p)
    luaL_typeerror(L, idx, tname);
  return p;
}

void luax_where(lua_State *L)
{
  lua_Debug ar;
  size_t n = 0;
  const char *ours;
  int level;
  lua_getfield(L, LUA_REGISTRYINDEX, LUAX_OURS);
  ours = lua_tolstring(L, -1, &n);
  for(level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if(ours && n && !strncmp(ar.source, ours, n))
      continue;                       /* one of retryrun's modules */
    if(ar.currentline > 0) {
      lua_pop(L, 1);
      lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
      return;
    }
    break;                            /* a C function: no position */
  }
  lua_pop(L, 1);
  lua_pushliteral(L, "");
}

int luax_error(lua_State *L, const char *fmt, ...)
{
  va_list ap;
  luax_where(L);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return lua_error(L);
}

double luax_field_number(lua_State *L, int t, const char *k, double def)
{
  double v = def;
  if(lua_getfield(L, t, k) != LUA_TNIL)
    v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

/* The registry key of the interned keys' table. */
static char keys_key;

int luax_keys(lua_State *L)
{
  static const char *const names[] = {
    NULL, "method", "url", "headers", "body", "multipart", "compressed",
    "cacert", "insecure", "max_body", "timeout", "cookies", "refresh",
    "status", "ok", "elapsed", "attempts", "idempotency_key",
    LUAX_CALL_MT, LUAX_RESPONSE_MT, LUAX_POLICY_MT, NULL, NULL, NULL
  };
  _Static_assert(sizeof(names) / sizeof(names[0]) == LUAX_K_LAST + 1,
                 "a name for every enum luax_key");
  if(lua_rawgetp(L, LUA_REGISTRYINDEX, &keys_key) != LUA_TTABLE) {
    int i;
    lua_pop(L, 1);
    lua_createtable(L, LUAX_K_LAST, 0);
    for(i = 1; i < LUAX_K_CALL_MT; i++) {
      lua_pushstring(L, names[i]);
      lua_rawseti(L, -2, i);
    }
    for(; i < LUAX_K_GUARD_URL; i++) {
      if(luaL_getmetatable(L, names[i]) != LUA_TTABLE)
        luaL_error(L, "retryrun: no metatable %s yet", names[i]);
      lua_rawseti(L, -2, i);
    }
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &keys_key);
  }
  return lua_gettop(L);
}

void luax_push_lower(lua_State *L, const char *s, size_t n)
{
  luaL_Buffer b;
  char *d = luaL_buffinitsize(L, &b, n);
  size_t i;
  for(i = 0; i < n; i++)
    d[i] = (char)tolower((unsigned char)s[i]);
  luaL_pushresultsize(&b, n);
}

void luax_newtype(lua_State *L, const char *name, const struct luaL_Reg *meta,
                  const struct luaL_Reg *methods)
{
  luaL_newmetatable(L, name);
  if(meta)
    luaL_setfuncs(L, meta, 0);
  if(methods) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
  }
}
