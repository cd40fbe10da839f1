/*
 * lua_rate.c - run.limits{rate = ...} (see lua_rate.h): parses each key
 * and rate with ratelimit.c and keeps the rules in the runtime, where
 * lua_gate.c asks them before every attempt.
 */
#include <stdio.h>

#include <lauxlib.h>

#include "loop.h"
#include "lua_json.h"
#include "lua_rate.h"
#include "ratelimit.h"
#include "runtime.h"

/* Adds the rule key = the rate at the top of L's stack; 0, or -1 with a
 * message in err. */
static int add(lua_State *L, struct ratelimit *rl, const char *key,
               char *err, size_t errlen)
{
  struct rate_spec sp;
  int r;
  if(lua_type(L, -1) != LUA_TSTRING) {
    snprintf(err, errlen, "rate for '%.80s' must be a string such as "
             "\"50/s\" (got %s)", key, luaL_typename(L, -1));
    return -1;
  }
  if(rate_spec_parse(lua_tostring(L, -1), &sp, err, errlen))
    return -1;
  r = ratelimit_add(rl, key, &sp, err, errlen);
  if(r == -2)
    snprintf(err, errlen, "not enough memory for rate limits");
  return r ? -1 : 0;
}

int lrate_read(lua_State *L, int idx, int arg, struct ratelimit **rl)
{
  char err[256] = "";
  int t = lua_type(L, idx);
  *rl = NULL;
  if(t == LUA_TNIL)
    return 0;
  if(t == LUA_TBOOLEAN && !lua_toboolean(L, idx))
    return 1;
  if(t != LUA_TSTRING && t != LUA_TTABLE)
    return luaL_argerror(L, arg, lua_pushfstring(L, "rate must be a rate "
                         "such as \"50/s\", a table of them by host, or "
                         "false (got %s)", luaL_typename(L, idx)));
  if(!(*rl = ratelimit_new()))
    return luaL_error(L, "not enough memory for rate limits");
  if(t == LUA_TSTRING) {
    lua_pushvalue(L, idx);
    add(L, *rl, "*", err, sizeof(err));
    lua_pop(L, 1);
  }
  else {
    json_touch(L, idx);          /* a table from resp:json(), made whole */
    lua_pushnil(L);
    while(!*err && lua_next(L, idx)) {
      if(lua_type(L, -2) != LUA_TSTRING)
        snprintf(err, sizeof(err), "rate keys must be hosts, as "
                 "[\"api.example.com\"] (got a %s key)",
                 luaL_typename(L, -2));
      else
        add(L, *rl, lua_tostring(L, -2), err, sizeof(err));
      lua_pop(L, 1);
    }
    if(*err)
      lua_pop(L, 1);                   /* the key lua_next left */
  }
  if(*err) {
    ratelimit_free(*rl);
    *rl = NULL;
    return luaL_argerror(L, arg, lua_pushstring(L, err));
  }
  return 1;
}

void lrate_install(lua_State *L, struct ratelimit *rl)
{
  struct runtime *rt = runtime_of(L);
  ratelimit_free(rt->rate);
  rt->rate = rl;
}

/* core.rate(url) -> requests a second, or nil when no limit holds. */
static int lcore_rate(lua_State *L)
{
  double r = ratelimit_rate(runtime_of(L)->rate, luaL_checkstring(L, 1),
                            loop_now());
  if(r > 0)
    lua_pushnumber(L, r);
  else
    lua_pushnil(L);
  return 1;
}

void lrate_register(lua_State *L)
{
  lua_pushcfunction(L, lcore_rate);
  lua_setfield(L, -2, "rate");
}
