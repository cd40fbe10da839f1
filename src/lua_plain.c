/*
 * lua_plain.c - a plain call's request table in one step (see
 * lua_plain.h): what retryrun.http's general path would build for it,
 * with one pass over the options instead of a check in Lua and a copy.
 */
#include <string.h>

#include <lauxlib.h>

#include "loop.h"
#include "lua_plain.h"
#include "lua_policy.h"
#include "lua_task.h"
#include "luax.h"
#include "policy.h"

/* The stack of core.plain_request: its arguments, then the options a
 * plain call may give, moved out of the opts table. */
enum {
  P_METHOD = 1, P_URL, P_OPTS, P_POLICY, P_DEFAULT, P_NONE,
  P_HEADERS, P_TIMEOUT, P_RETRY, P_MAX_BODY, P_INSECURE, P_CACERT,
  P_COMPRESSED, P_TOP = P_COMPRESSED
};

/* The slot of option k (n bytes) if a plain call may give it, else 0. */
static int option_slot(const char *k, size_t n)
{
  switch(n) {
  case 5:
    return memcmp(k, "retry", 5) ? 0 : P_RETRY;
  case 6:
    return memcmp(k, "cacert", 6) ? 0 : P_CACERT;
  case 7:
    return !memcmp(k, "headers", 7) ? P_HEADERS :
           !memcmp(k, "timeout", 7) ? P_TIMEOUT : 0;
  case 8:
    return !memcmp(k, "max_body", 8) ? P_MAX_BODY :
           !memcmp(k, "insecure", 8) ? P_INSECURE : 0;
  case 10:
    return memcmp(k, "compressed", 10) ? 0 : P_COMPRESSED;
  }
  return 0;
}

/* Moves each option of the opts table (nil for none) into its slot, as
 * the table holds it now. 0 when opts is not a table without a
 * metatable, or gives anything else (a body, query=, expect=, a session,
 * a name it does not know). */
static int take_options(lua_State *L)
{
  int type = lua_type(L, P_OPTS);
  if(type == LUA_TNIL)
    return 1;
  if(type != LUA_TTABLE || lua_getmetatable(L, P_OPTS))
    return 0;
  lua_pushnil(L);
  while(lua_next(L, P_OPTS)) {
    size_t n;
    int slot = 0;
    if(lua_type(L, -2) == LUA_TSTRING) {
      const char *k = lua_tolstring(L, -2, &n);
      slot = option_slot(k, n);
    }
    if(!slot)
      return 0;
    lua_replace(L, slot);
  }
  return 1;
}

/* Pushes a copy of the headers table at idx, a number value as tostring
 * writes it (so that it is sent, and hidden, as a string). 0 when the
 * table has a metatable, a key that is not a string or a value that is
 * neither a string nor a number. */
static int copy_headers(lua_State *L, int idx)
{
  if(lua_getmetatable(L, idx))
    return 0;
  lua_createtable(L, 0, 4);
  lua_pushnil(L);
  while(lua_next(L, idx)) {
    int type = lua_type(L, -1);
    if(lua_type(L, -2) != LUA_TSTRING)
      return 0;
    if(type == LUA_TNUMBER) {
      if(lua_getmetatable(L, -1))
        return 0;             /* tostring would run its __tostring */
      lua_tolstring(L, -1, NULL);     /* the copy on the stack turns */
    }
    else if(type != LUA_TSTRING)
      return 0;
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  return 1;
}

/* The Policy at idx (its metatable is upvalue 1), or NULL. */
static struct lpolicy *policy_at(lua_State *L, int idx)
{
  int is;
  if(!lua_getmetatable(L, idx))
    return NULL;
  is = lua_rawequal(L, -1, lua_upvalueindex(1));
  lua_pop(L, 1);
  return is ? lua_touserdata(L, idx) : NULL;
}

/* Sets field k of the request at req to the value in slot, unless nil. */
static void put(lua_State *L, int req, int keys, int k, int slot)
{
  if(!lua_isnil(L, slot)) {
    luax_pushkey(L, keys, k);
    lua_pushvalue(L, slot);
    lua_rawset(L, req);
  }
}

/* core.plain_request(method, url, opts, policy, default, none) -> req,
 * policy: the request table and the policy of a call retryrun.http
 * makes as http.<verb>(url, opts) (policy nil) or policy:<verb>(url,
 * opts), default and none being retry.default and retry.none. Returns
 * nothing, having changed nothing, when the call is not plain or an
 * option is bad: the general path then makes the call, or raises.
 *
 * Plain: an idempotent method (no idempotency key to add), url a string
 * that is not empty, opts nil or a table without a metatable giving only
 * headers (a table of string = string or number), timeout (0.001 to
 * 1e9), retry (nil, false or a Policy; not with a policy's verb),
 * max_body, insecure, cacert and compressed (core.request checks those
 * four). Inside a policy(fn) wrapper, a call that names no policy makes
 * one attempt, its timeout bounded by the wrapper's deadline. */
static int lcore_plain_request(lua_State *L)
{
  struct task *t;
  struct lpolicy *p;
  const char *method;
  int req, keys, wrapped;

  lua_settop(L, P_TOP);
  method = lua_tostring(L, P_METHOD);
  if(!policy_method_idempotent(method) ||
     lua_type(L, P_URL) != LUA_TSTRING || lua_rawlen(L, P_URL) == 0 ||
     !take_options(L))
    return 0;
  t = task_current(L);
  wrapped = t && t->wrap_depth > 0;
  if(lua_toboolean(L, P_POLICY)) {
    if(!lua_isnil(L, P_RETRY))
      return 0;                       /* retry= with a policy's verb */
  }
  else if(lua_isnil(L, P_RETRY))
    lua_copy(L, wrapped ? P_NONE : P_DEFAULT, P_POLICY);
  else if(lua_type(L, P_RETRY) == LUA_TBOOLEAN && !lua_toboolean(L, P_RETRY))
    lua_copy(L, P_NONE, P_POLICY);
  else
    lua_copy(L, P_RETRY, P_POLICY);   /* a Policy, or not plain */
  if(!(p = policy_at(L, P_POLICY)))
    return 0;
  if(!lua_isnil(L, P_TIMEOUT)) {
    double v = lua_tonumber(L, P_TIMEOUT);
    if(lua_type(L, P_TIMEOUT) != LUA_TNUMBER || !(v >= 0.001 && v <= 1e9))
      return 0;
  }
  if(wrapped) {
    /* math.max(math.min(timeout or left, left), 0.0001), the timeout
     * given kept as it is when it is the answer */
    double left = t->wrap_deadline - loop_now();
    if(lua_isnil(L, P_TIMEOUT) || left < lua_tonumber(L, P_TIMEOUT)) {
      lua_pushnumber(L, left);
      lua_replace(L, P_TIMEOUT);
    }
    if(lua_tonumber(L, P_TIMEOUT) < 0.0001) {
      lua_pushnumber(L, 0.0001);
      lua_replace(L, P_TIMEOUT);
    }
  }
  /* a copy, which a before_attempt hook may change; with none, a call
   * that gives no headers needs no table */
  if(lua_type(L, P_HEADERS) == LUA_TTABLE) {
    if(!copy_headers(L, P_HEADERS))
      return 0;
    lua_replace(L, P_HEADERS);
  }
  else if(!lua_isnil(L, P_HEADERS))
    return 0;
  else if(lpolicy_has(p, LPOLICY_BEFORE_ATTEMPT)) {
    lua_newtable(L);
    lua_replace(L, P_HEADERS);
  }
  lua_createtable(L, 0, 4);
  req = lua_gettop(L);
  keys = luax_keys(L);
  put(L, req, keys, LUAX_K_METHOD, P_METHOD);
  put(L, req, keys, LUAX_K_URL, P_URL);
  put(L, req, keys, LUAX_K_HEADERS, P_HEADERS);
  if(!strcmp(method, "PUT")) {  /* with no body, Content-Length: 0 */
    luax_pushkey(L, keys, LUAX_K_BODY);
    lua_pushliteral(L, "");
    lua_rawset(L, req);
  }
  put(L, req, keys, LUAX_K_COMPRESSED, P_COMPRESSED);
  put(L, req, keys, LUAX_K_MAX_BODY, P_MAX_BODY);
  put(L, req, keys, LUAX_K_INSECURE, P_INSECURE);
  put(L, req, keys, LUAX_K_CACERT, P_CACERT);
  put(L, req, keys, LUAX_K_TIMEOUT, P_TIMEOUT);
  lua_pushvalue(L, P_POLICY);
  lua_replace(L, keys);
  return 2;
}

void lplain_register(lua_State *L)
{
  luaL_getmetatable(L, LUAX_POLICY_MT);
  lua_pushcclosure(L, lcore_plain_request, 1);
  lua_setfield(L, -2, "plain_request");
}
