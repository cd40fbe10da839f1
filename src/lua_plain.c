/*
 * lua_plain.c - a plain call in one step (see lua_plain.h): the request
 * table retryrun.http's general path would build for it, made with one
 * pass over the options instead of checks in Lua and a copy, and started
 * as core.request starts a call once its checks have passed
 * (lcall_plain, lua_call.h).
 */
#include <string.h>

#include <lauxlib.h>

#include "loop.h"
#include "lua_call.h"
#include "lua_check.h"
#include "lua_plain.h"
#include "lua_policy.h"
#include "lua_task.h"
#include "luax.h"
#include "policy.h"

/* The stack of core.plain_call: its arguments, then the options a
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

/* The type of each slot of core.plain_call's stack, read once: the
 * arguments it reads the type of (the method, url and opts), then the
 * options as the opts table holds them; nil for the others. */
struct plain {
  int type[P_TOP + 1];
};

/* Moves each option of the opts table (nil for none) into its slot, as
 * the table holds it now. 0 when opts is not a table without a
 * metatable, or gives anything else (a body, query=, expect=, a session,
 * a name it does not know). */
static int take_options(lua_State *L, struct plain *pl)
{
  if(pl->type[P_OPTS] == LUA_TNIL)
    return 1;
  if(pl->type[P_OPTS] != LUA_TTABLE || lua_getmetatable(L, P_OPTS))
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
    pl->type[slot] = lua_type(L, -1);
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
  return luax_testudata(L, idx, lua_upvalueindex(1), sizeof(struct lpolicy));
}

/* Sets field k of the request at req to the value in slot, unless nil,
 * and adds it to *has (bits 1u << k). */
static void put(lua_State *L, const struct plain *pl, int req, int k,
                int slot, unsigned *has)
{
  if(pl->type[slot] != LUA_TNIL) {
    luax_pushkey(L, lua_upvalueindex(2), k);
    lua_pushvalue(L, slot);
    lua_rawset(L, req);
    *has |= 1u << k;
  }
}

/* The fields the request gets beyond its method and url: the options
 * given, but retry=. */
static int request_fields(const struct plain *pl)
{
  int i, n = 0;
  for(i = P_HEADERS; i <= P_TOP; i++)
    n += i != P_RETRY && pl->type[i] != LUA_TNIL;
  return n;
}

/* Checks the fields of the request at req, built from the slots, as
 * check_request would (the method is an idempotent one, a token, and
 * only PUT has a body); returns 1. Or returns 0 when a field is bad. */
static int check_fields(lua_State *L, const struct plain *pl, int req)
{
  static const int fields[][2] = {
    {P_URL, CHECK_URL}, {P_HEADERS, CHECK_HEADERS},
    {P_COMPRESSED, CHECK_COMPRESSED}, {P_CACERT, CHECK_CACERT},
    {P_INSECURE, CHECK_INSECURE}, {P_MAX_BODY, CHECK_MAX_BODY},
    {P_TIMEOUT, CHECK_TIMEOUT}
  };
  char err[CHECK_MSG];
  size_t i;
  for(i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
    if(pl->type[fields[i][0]] != LUA_TNIL) {
      lua_pushvalue(L, fields[i][0]);
      if(check_request_field(L, fields[i][1], err, sizeof(err)))
        return 0;
      lua_settop(L, req);
    }
  return 1;
}

/* Leaves on the stack only the request table and the policy of a plain
 * call (see lcore_plain_call), its method and url in *method_out and
 * *url (the request holds the strings) and the fields it was made
 * without in *absent (bits 1u << luax_key), and returns 1; or returns 0,
 * having changed nothing the script holds, when the call is not plain. */
static int plain_request(lua_State *L, const char **method_out,
                         const char **url, unsigned *absent)
{
  struct plain pl;
  struct task *t;
  struct lpolicy *p;
  const char *method;
  int req, wrapped, i, n, put_body;
  unsigned has = 0;

  lua_settop(L, P_TOP);
  for(i = 1; i <= P_TOP; i++)
    pl.type[i] = LUA_TNIL;
  pl.type[P_METHOD] = LUA_TSTRING;    /* once it is one of the names */
  pl.type[P_URL] = lua_type(L, P_URL);
  pl.type[P_OPTS] = lua_type(L, P_OPTS);
  method = lua_tostring(L, P_METHOD);
  if(!policy_method_idempotent(method) || pl.type[P_URL] != LUA_TSTRING ||
     lua_rawlen(L, P_URL) == 0 || !take_options(L, &pl))
    return 0;
  put_body = !strcmp(method, "PUT");
  t = task_current(L);
  wrapped = t && t->wrap_depth > 0;
  if(lua_toboolean(L, P_POLICY)) {
    if(pl.type[P_RETRY] != LUA_TNIL)
      return 0;                       /* retry= with a policy's verb */
  }
  else if(pl.type[P_RETRY] == LUA_TNIL)
    lua_copy(L, wrapped ? P_NONE : P_DEFAULT, P_POLICY);
  else if(pl.type[P_RETRY] == LUA_TBOOLEAN && !lua_toboolean(L, P_RETRY))
    lua_copy(L, P_NONE, P_POLICY);
  else
    lua_copy(L, P_RETRY, P_POLICY);   /* a Policy, or not plain */
  if(!(p = policy_at(L, P_POLICY)))
    return 0;
  if(pl.type[P_TIMEOUT] != LUA_TNIL) {
    double v = lua_tonumber(L, P_TIMEOUT);
    if(pl.type[P_TIMEOUT] != LUA_TNUMBER || !(v >= 0.001 && v <= 1e9))
      return 0;
  }
  if(wrapped) {
    /* math.max(math.min(timeout or left, left), 0.0001), the timeout
     * given kept as it is when it is the answer */
    double left = t->wrap_deadline - loop_now();
    if(pl.type[P_TIMEOUT] == LUA_TNIL || left < lua_tonumber(L, P_TIMEOUT)) {
      lua_pushnumber(L, left);
      lua_replace(L, P_TIMEOUT);
      pl.type[P_TIMEOUT] = LUA_TNUMBER;
    }
    if(lua_tonumber(L, P_TIMEOUT) < 0.0001) {
      lua_pushnumber(L, 0.0001);
      lua_replace(L, P_TIMEOUT);
    }
  }
  /* a copy, which a before_attempt hook may change; with none, a call
   * that gives no headers needs no table */
  if(pl.type[P_HEADERS] == LUA_TTABLE) {
    if(!copy_headers(L, P_HEADERS))
      return 0;
    lua_replace(L, P_HEADERS);
  }
  else if(pl.type[P_HEADERS] != LUA_TNIL)
    return 0;
  else if(lpolicy_has(p, LPOLICY_BEFORE_ATTEMPT)) {
    lua_newtable(L);
    lua_replace(L, P_HEADERS);
    pl.type[P_HEADERS] = LUA_TTABLE;
  }
  n = request_fields(&pl) + put_body;
  /* a method and a url alone: the table of a call that returned, if one
   * left it (lcall_spare), has those two fields, to set again */
  if(n == 0 && lua_rawgeti(L, lua_upvalueindex(2), LUAX_K_SPARE_REQ) ==
     LUA_TTABLE) {
    lua_pushnil(L);
    lua_rawseti(L, lua_upvalueindex(2), LUAX_K_SPARE_REQ);
  }
  else {
    if(n == 0)
      lua_pop(L, 1);
    lua_createtable(L, 0, n + 2);
  }
  req = lua_gettop(L);
  put(L, &pl, req, LUAX_K_METHOD, P_METHOD, &has);
  put(L, &pl, req, LUAX_K_URL, P_URL, &has);
  put(L, &pl, req, LUAX_K_HEADERS, P_HEADERS, &has);
  if(put_body) {               /* with no body, Content-Length: 0 */
    luax_pushkey(L, lua_upvalueindex(2), LUAX_K_BODY);
    lua_pushliteral(L, "");
    lua_rawset(L, req);
    has |= 1u << LUAX_K_BODY;
  }
  put(L, &pl, req, LUAX_K_COMPRESSED, P_COMPRESSED, &has);
  put(L, &pl, req, LUAX_K_MAX_BODY, P_MAX_BODY, &has);
  put(L, &pl, req, LUAX_K_INSECURE, P_INSECURE, &has);
  put(L, &pl, req, LUAX_K_CACERT, P_CACERT, &has);
  put(L, &pl, req, LUAX_K_TIMEOUT, P_TIMEOUT, &has);
  if(!check_fields(L, &pl, req))
    return 0;
  *method_out = method;
  *url = lua_tostring(L, P_URL);
  *absent = ~has;
  lua_copy(L, P_POLICY, 2);
  lua_copy(L, req, 1);
  lua_settop(L, 2);
  return 1;
}

/* core.plain_call(method, url, opts, policy, default, none) -> what
 * core.request returns for the call http.<verb>(url, opts) (policy nil)
 * or policy:<verb>(url, opts) makes, default and none being
 * retry.default and retry.none; or false, having changed nothing, when
 * the call is not plain or an option is bad: the general path then makes
 * the call, or raises.
 *
 * Plain: an idempotent method (no idempotency key to add), url a string
 * that is not empty, opts nil or a table without a metatable giving only
 * headers (a table of string = string or number), timeout (0.001 to
 * 1e9), retry (nil, false or a Policy; not with a policy's verb),
 * max_body, insecure, cacert and compressed (core.request checks those
 * four). Inside a policy(fn) wrapper, a call that names no policy makes
 * one attempt, its timeout bounded by the wrapper's deadline. The
 * request has a copy of the headers, or none when no headers are given
 * and the policy has no before_attempt hook to add one.
 *
 * The call starts in this C function, as core.request's would (its
 * checks passed: lcall_plain), called from the same Lua frame
 * (http.<verb>), so that its errors point at the same line of the
 * script. Upvalues: the Policy metatable and luax_keys' table. */
static int lcore_plain_call(lua_State *L)
{
  const char *method, *url;
  unsigned absent;
  if(!plain_request(L, &method, &url, &absent)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  return lcall_plain(L, method, url, lua_upvalueindex(2), absent);
}

void lplain_register(lua_State *L)
{
  luaL_getmetatable(L, LUAX_POLICY_MT);
  luax_keys(L);
  lua_pushcclosure(L, lcore_plain_call, 2);
  lua_setfield(L, -2, "plain_call");
}
