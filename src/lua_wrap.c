/*
 * lua_wrap.c - policy(fn): a function retried as a whole (see lua_call.h).
 *
 * An attempt runs the function. Calls inside it that name no policy make
 * one attempt each within the wrapper's deadline (core.in_wrapper tells
 * retryrun.http so), and their give-up errors come back here. The wrapper
 * judges an attempt by the record the inner call's GiveUp carries
 * (lua_giveup.h), never by the GiveUp's fields, which a script may change;
 * a returned Response by its status and valid(), any other value by valid()
 * alone.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "loop.h"
#include "lua_call.h"
#include "lua_giveup.h"
#include "lua_policy.h"
#include "lua_response.h"
#include "lua_task.h"
#include "luax.h"
#include "runtime.h"

int lwrap_run(lua_State *L, struct call *c)
{
  lua_Integer i, n;
  lua_settop(L, S_TOP);
  lua_pushvalue(L, S_FN);
  lua_getfield(L, S_ARGS, "n");
  n = lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, (int)n + 2, "too many arguments");
  for(i = 1; i <= n; i++)
    lua_rawgeti(L, S_ARGS, i);
  c->task->wrap_depth++;
  c->outer_deadline = c->task->wrap_deadline;
  if(!c->outer_deadline ||
     c->pc.started + c->pol->deadline < c->outer_deadline)
    c->task->wrap_deadline = c->pc.started + c->pol->deadline;
  c->k = K_FN;
  /* no message handler: an error the policy does not retry goes on to
   * the caller as the function raised it, with no traceback added */
  return lcall_k(L, lua_pcallk(L, (int)n, LUA_MULTRET, 0, 0, lcall_k), 0);
}

/* Judges the value at the top, the first result of the function (or the
 * response an expect= error carried): a Response by its status, its
 * method and valid(), anything else by valid() alone. A value that is not
 * a Response is the function's own: the wrapper was asked to run the
 * function again, so no method's safety rule applies. */
static int judge(lua_State *L, struct call *c)
{
  c->out.cls = POLICY_RESPONSE;
  c->out.status = 0;
  c->out.sent = 1;
  c->method[0] = '\0';
  c->pc.idempotent = 1;
  c->pc.has_key = 0;   /* no key carries from one run of fn to the next */
  if(lresp_is(L, -1)) {
    lua_getfield(L, -1, "status");
    c->out.status = (int)lua_tointeger(L, -1);
    lua_getfield(L, -2, "method");
    if(lua_isstring(L, -1))
      snprintf(c->method, sizeof(c->method), "%s", lua_tostring(L, -1));
    c->pc.idempotent = policy_method_idempotent(c->method);
    lua_getfield(L, -3, "headers");
    lua_getfield(L, -1, "retry-after");
    if(lua_isstring(L, -1))
      snprintf(c->retry_after, sizeof(c->retry_after), "%s",
               lua_tostring(L, -1));
    lua_pop(L, 4);
  }
  lua_pushvalue(L, -1);
  lua_replace(L, S_RESP);
  return lcall_check_valid(L, c, lua_gettop(L));
}

/* The Response an expect= error at idx carries, pushed (nil if none). */
static void push_expect_response(lua_State *L, int idx)
{
  idx = lua_absindex(L, idx);
  if(lua_istable(L, idx)) {
    lua_pushliteral(L, "response");
    lua_rawget(L, idx);
  }
  else
    lua_pushnil(L);
}

/* The inner call at the top gave up: judge this attempt by its record,
 * keep its error (S_RES) and take its message as this attempt's reason. */
static int judge_giveup(lua_State *L, struct call *c,
                        const struct lgiveup_record *r)
{
  /* stack: err, its message, its response */
  lua_replace(L, S_RESP);
  lua_replace(L, S_REASON);
  lua_replace(L, S_RES);
  lua_settop(L, S_TOP);
  c->inner_error = 1;
  c->out = r->out;
  snprintf(c->method, sizeof(c->method), "%s", r->method);
  c->retry_after[0] = '\0';
  c->out.has_wait = r->retry_after >= 0;
  c->out.wait = r->retry_after;
  c->pc.idempotent = r->idempotent;
  if(!c->guard->named_key)
    c->gs = r->guard;             /* its retry is paid by that host */
  return lcall_decide(L, c);
}

int lwrap_done(lua_State *L, struct call *c, int status)
{
  /* the calls made in this attempt that failed: left to this wrapper
   * when it failed with the error of one, else as they ended */
  if(runtime_observed(runtime_of(L)))
    lpend_resolve(L, c->task, c->task->wrap_depth, status != LUA_OK ?
                  lua_gettop(L) : 0);
  c->task->wrap_depth--;
  c->task->wrap_deadline = c->outer_deadline;
  /* the task was cancelled while the function ran: whatever it raised,
   * this call ends so (lcall_decide gives up) */
  if(status != LUA_OK && loop_task_cancelled(&c->task->lt))
    c->giveup_note = loop_interrupted() ? "interrupted" : "cancelled";
  if(status != LUA_OK) {
    const struct lgiveup_record *r = lgiveup_record(L, -1);
    if(r)
      return judge_giveup(L, c, r);
    push_expect_response(L, -1);            /* err, its response */
    if(lresp_is(L, -1)) {
      /* expect= refused a response: judge that response, and raise this
       * error again if the policy accepts it */
      lua_pushvalue(L, -2);
      lua_replace(L, S_RES);
      lua_replace(L, S_TOP + 1);
      lua_settop(L, S_TOP + 1);
      c->inner_error = 1;
      return judge(L, c);
    }
    /* a bug is not a transient failure: the attempt gives up, and the
     * error goes on as it is */
    lua_pop(L, 1);
    lua_replace(L, S_RES);
    lua_settop(L, S_TOP);
    c->inner_error = c->bug = 1;
    c->out.cls = POLICY_RESPONSE;
    c->out.status = 0;
    c->out.sent = 1;
    c->method[0] = '\0';
    return lcall_decide(L, c);
  }
  /* results: pack them; a Response is judged by status and valid() */
  c->inner_error = 0;
  {
    int n = lua_gettop(L) - S_TOP, i;
    lua_createtable(L, n, 1);
    lua_insert(L, S_TOP + 1);
    for(i = n; i >= 1; i--)
      lua_rawseti(L, S_TOP + 1, i);
    lua_pushinteger(L, n);
    lua_setfield(L, S_TOP + 1, "n");
    lua_replace(L, S_RES);
    lua_rawgeti(L, S_RES, 1);
    return judge(L, c);
  }
}

static int lwrapped(lua_State *L);
static int lcore_call(lua_State *L);

int lwrap_on_stack(lua_State *L)
{
  lua_Debug ar;
  int level, found = 0;
  for(level = 1; !found && lua_getstack(L, level, &ar); level++) {
    lua_CFunction f;
    lua_getinfo(L, "f", &ar);
    f = lua_tocfunction(L, -1);
    found = f == lwrapped || f == lcore_call;
    lua_pop(L, 1);
  }
  return found;
}

/* core.call(policy, fn, ...) -> fn's results, retrying fn as a whole. */
static int lcore_call(lua_State *L)
{
  int n = lua_gettop(L) - 2, i;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_createtable(L, n, 1);             /* the arguments, packed */
  lua_insert(L, 3);
  for(i = n; i >= 1; i--)
    lua_rawseti(L, 3, i);
  lua_pushinteger(L, n);
  lua_setfield(L, 3, "n");
  lua_settop(L, S_TOP);                 /* policy, fn, args, nil... */
  lua_pushvalue(L, 2);
  lua_replace(L, S_FN);
  lua_pushvalue(L, 3);
  lua_replace(L, S_ARGS);
  lua_pushvalue(L, 1);
  lua_replace(L, S_POL);
  lua_pushnil(L);
  lua_replace(L, S_REQ);
  return lcall_before_attempt(L, lcall_new(L, 1));
}

/* What policy(fn) returns: upvalues the policy and fn. */
static int lwrapped(lua_State *L)
{
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_rotate(L, 1, 2);
  return lcore_call(L);
}

/* policy(fn) -> a function that runs fn under the policy. */
static int lpolicy_wrap(lua_State *L)
{
  if(lua_type(L, 2) != LUA_TFUNCTION)
    return luax_error(L, "a policy wraps a function (got %s)",
                      luaL_typename(L, 2));
  lua_settop(L, 2);
  lua_pushcclosure(L, lwrapped, 2);
  return 1;
}

/* core.in_wrapper() -> inside a function wrapped by a policy, the seconds
 * left before the wrapper's deadline; else false. */
static int lcore_in_wrapper(lua_State *L)
{
  struct task *t = task_current(L);
  if(t && t->wrap_depth > 0)
    lua_pushnumber(L, t->wrap_deadline - loop_now());
  else
    lua_pushboolean(L, 0);
  return 1;
}

void lwrap_register(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"call", lcore_call},
    {"in_wrapper", lcore_in_wrapper},
    {NULL, NULL}
  };
  luaL_getmetatable(L, LUAX_POLICY_MT);
  lua_pushcfunction(L, lpolicy_wrap);
  lua_setfield(L, -2, "__call");
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
