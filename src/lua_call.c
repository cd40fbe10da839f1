/*
 * lua_call.c - one logical call: the Call, core.request, and its steps up
 * to each attempt and back through lcall_k (see lua_call.h for the call's
 * state and stack).
 *
 * The attempt on the wire is lua_attempt.c's, its end and the call's
 * (the decision, accept, give-up) lua_decide.c's. Every step ends by
 * suspending the task (loop_yield), calling into Lua (lua_pcallk), or
 * going on to the next step, and every way back is lcall_k.
 */
#include <string.h>

#include <lauxlib.h>

#include "loop.h"
#include "lua_call.h"
#include "lua_check.h"
#include "lua_policy.h"
#include "lua_redact.h"
#include "lua_task.h"
#include "luax.h"
#include "runtime.h"
#include "transfer.h"

/* Seconds an on_giveup hook may wait at least: it runs after the call,
 * which may have given up at its deadline, so it may wait until that
 * deadline or this long after the give-up, whichever is later. */
#define ON_GIVEUP_GRACE 1.0

static struct call *get_call(lua_State *L)
{
  return lua_touserdata(L, S_CALL);
}
/* Idempotent: releases the transfers, taking them off the loop first. */
void lcall_close(struct call *c)
{
  lhedge_drop(c);
  if(c->tr) {
    /* owner is set only while the transfer is in the multi handle, and
     * then its task is alive: it waits on this very transfer */
    if(c->tr->owner)
      loop_wait_cancel(c->tr->owner);
    transfer_release(c->tr);
    c->tr = NULL;
  }
}
/* __gc and __close, with the Call metatable as upvalue 1: a finalizer
 * runs for every Call, and luaL_checkudata would look the metatable up
 * by name each time. */
static int lcall_gc(lua_State *L)
{
  struct call *c = luax_testudata(L, 1, lua_upvalueindex(1), sizeof(*c));
  if(!c)
    return luaL_typeerror(L, 1, LUAX_CALL_MT);
  lcall_close(c);
  return 0;
}
/* Why an HTTP call cannot start here, or NULL: outside a task, or where
 * the task cannot wait. */
static const char *call_cannot_start(lua_State *L)
{
  if(!task_current(L))
    return "HTTP calls run inside a task";
  if(!lua_isyieldable(L))
    return "an HTTP call cannot wait here: it runs inside require, a "
           "metamethod, table.sort or another C function; make the call "
           "outside it";
  return NULL;
}

/* ---- the state machine ---- */

/* Calls the hook (or predicate) below its nargs arguments for step c->k,
 * coming back through lcall_k. While it runs, the task carries the call's
 * deadline (for on_giveup, at least ON_GIVEUP_GRACE from now), or an
 * enclosing hook's if that is sooner: run.sleep, task:wait() and HTTP
 * calls inside it end there. */
int lcall_hook(lua_State *L, struct call *c, int nargs, int nres)
{
  struct task *t = c->task;
  double until = c->pc.started + c->pol->deadline;
  if(c->k == K_GIVEUP) {
    double now = loop_now();
    if(until < now + ON_GIVEUP_GRACE)
      until = now + ON_GIVEUP_GRACE;
  }
  if(t->hook_deadline > 0 && t->hook_deadline < until)
    until = t->hook_deadline;
  c->hook_until = until;
  c->outer_hook_deadline = t->hook_deadline;
  t->hook_deadline = until;
  c->in_hook = 1;
  return lcall_k(L, lua_pcallk(L, nargs, nres, S_TB, (lua_KContext)c,
                               lcall_k), (lua_KContext)c);
}

int lcall_out_of_time(const struct call *c)
{
  return loop_now() >= c->hook_until;
}

/* Pushes "GET url" (or "function at file:line") for messages. */
void lcall_push_what(lua_State *L, struct call *c)
{
  if(c->wrapper) {
    lua_Debug ar;
    lua_pushvalue(L, S_FN);
    lua_getinfo(L, ">S", &ar);
    lua_pushfstring(L, "function at %s:%d", ar.short_src, ar.linedefined);
    return;
  }
  lua_getfield(L, S_REQ, "url");
  lredact_push_url(L, luaL_optstring(L, -1, "?"), S_REQ);
  lua_pushfstring(L, "%s %s", c->method, lua_tostring(L, -1));
  lua_replace(L, -3);
  lua_pop(L, 1);
}

/* Raises an error from a hook, naming the hook and the call. */
static int raise_hook_error(lua_State *L, struct call *c, const char *hook)
{
  lcall_close(c);
  if(lua_type(L, -1) == LUA_TSTRING) {
    lcall_push_what(L, c);
    lua_pushfstring(L, "%s hook of %s failed: %s", hook, lua_tostring(L, -1),
                    lua_tostring(L, -2));
    lredact_at(L, -1, c->wrapper ? 0 : S_REQ);
  }
  return lua_error(L);
}

void lcall_attempts_list(lua_State *L)
{
  if(lua_isnil(L, S_ATT)) {
    lua_createtable(L, 4, 0);
    lua_replace(L, S_ATT);
  }
}


/* lcall_attempt, now being the clock read a moment ago in this same step
 * (no wait, no hook since): one reading serves the guards, the attempt's
 * start and its transfer (lgate_pass and lattempt_send take it from
 * c->attempt_started). */
static int attempt_at(lua_State *L, struct call *c, double now)
{
  int r;
  if(loop_task_cancelled(&c->task->lt))
    return lcall_cancelled(L, c);
  if((r = lguard_before(L, c, now)) >= 0)
    return r;
  if(!lua_isnil(L, S_REASON)) {       /* an earlier attempt's */
    lua_pushnil(L);
    lua_replace(L, S_REASON);
  }
  c->retry_after[0] = '\0';
  memset(&c->out, 0, sizeof(c->out));
  c->hops = c->hop_get = c->hop_cross = c->gate = 0;
  c->attempt_started = now;
  c->judged = c->pc.attempt;
  c->hedge.hedge = 0;
  return c->wrapper ? lwrap_run(L, c) : lattempt_send(L, c);
}

/* One attempt, after before_attempt and the host's guards. */
int lcall_attempt(lua_State *L, struct call *c)
{
  return attempt_at(L, c, loop_now());
}

/* lcall_before_attempt, now as attempt_at's */
static int before_attempt_at(lua_State *L, struct call *c, double now)
{
  lcall_top(L);
  if(loop_task_cancelled(&c->task->lt))
    return lcall_cancelled(L, c);
  c->pc.attempt++;
  c->k = K_BEFORE;
  if(c->has_before) {
    c->req_absent = 0;                /* the hook may change the request */
    lpolicy_push_hook(L, S_POL, LPOLICY_BEFORE_ATTEMPT);
    if(c->wrapper)
      lua_pushnil(L);
    else
      lua_pushvalue(L, S_REQ);
    lua_pushinteger(L, c->pc.attempt);
    return lcall_hook(L, c, 2, 0);
  }
  return attempt_at(L, c, now);
}

int lcall_before_attempt(lua_State *L, struct call *c)
{
  return before_attempt_at(L, c, loop_now());
}

int lcall_k(lua_State *L, int status, lua_KContext ctx)
{
  struct call *c = ctx ? (struct call *)ctx : get_call(L);
  int after_hook = c->in_hook;
  /* a pcallk whose callee yielded comes back with LUA_YIELD: success */
  if(status == LUA_YIELD)
    status = LUA_OK;
  if(after_hook) {
    c->in_hook = 0;
    c->task->hook_deadline = c->outer_hook_deadline;
  }
  switch(c->k) {
  case K_BEFORE:
    /* a hook stopped by cancellation or the deadline ends the call as
     * such, whatever it raised */
    if(status != LUA_OK && loop_task_cancelled(&c->task->lt))
      return lcall_cancelled(L, c);
    if(lcall_out_of_time(c))
      return lcall_no_time_left(L, c);
    if(status != LUA_OK)
      return raise_hook_error(L, c, "before_attempt");
    return lcall_attempt(L, c);
  case K_SLOT:
    if(loop_task_cancelled(&c->task->lt))
      return lcall_cancelled(L, c);
    if(loop_task_wait(&c->task->lt) == WAIT_SLOT)
      return loop_yield(&c->task->lt, L, 0, lcall_k);   /* still queued */
    if(!loop_task_slot_granted(&c->task->lt) && loop_task_fired(&c->task->lt))
      return lcall_no_time_left(L, c);   /* the deadline passed in line */
    return lattempt_send(L, c);
  case K_TRANSFER:
    if(loop_task_cancelled(&c->task->lt))
      return lcall_cancelled(L, c);
    if(!c->tr->done)
      return loop_yield(&c->task->lt, L, 0, lcall_k);   /* woken early */
    return lattempt_done(L, c);
  case K_FN:
    return lwrap_done(L, c, status);
  case K_REFRESH:
    return lattempt_refreshed(L, c, status);
  case K_VALID:
    return lcall_valid_done(L, c, status);
  case K_ON_RETRY:
    if(status != LUA_OK && loop_task_cancelled(&c->task->lt))
      return lcall_cancelled(L, c);
    /* the wait must still end before the deadline */
    if(after_hook && (lcall_out_of_time(c) ||
                      loop_now() + c->dec.delay >= c->hook_until))
      return lcall_past_deadline(L, c);
    if(status != LUA_OK)
      return raise_hook_error(L, c, "on_retry");
    lua_settop(L, S_TOP);
    c->k = K_WAIT;
    if(loop_wait_timer(&c->task->lt, loop_now() + c->dec.delay))
      return luax_error(L, "not enough memory to arm a timer");
    return loop_yield(&c->task->lt, L, 0, lcall_k);
  case K_WAIT:
    if(loop_task_cancelled(&c->task->lt))
      return lcall_cancelled(L, c);
    if(!loop_task_fired(&c->task->lt))
      return loop_yield(&c->task->lt, L, 0, lcall_k);
    return lcall_before_attempt(L, c);
  case K_HEDGE:
    return lhedge_k(L, c);
  case K_GATE:
    return lgate_k(L, c);
  case K_GUARD:
    return lguard_resume(L, c);
  case K_GIVEUP:
    /* an on_giveup stopped by cancellation or its time keeps the give-up */
    if(status != LUA_OK && !loop_task_cancelled(&c->task->lt) &&
       !lcall_out_of_time(c))
      return raise_hook_error(L, c, "on_giveup");
    return lcall_finish_giveup(L, c);
  }
  return luaL_error(L, "retryrun: bad call state");
}

_Static_assert(S_KEYS == S_TOP, "call_new pushes the keys' table last");

/* lcall_new, with the interned keys' table at index keys (0: look it
 * up), for a policy at S_POL that is one when checked is set (a plain
 * call's: core.plain_call checked it). */
static struct call *call_new(lua_State *L, int wrapper, int keys,
                             int checked)
{
  const char *why = call_cannot_start(L);
  struct task *t = task_current(L);
  struct call *c;
  const struct lpolicy *p;
  if(why)
    luax_error(L, "%s", why);
  lua_settop(L, S_KEYS - 1);           /* S_KEYS is S_TOP: pushed there */
  if(keys)
    lua_pushvalue(L, keys);
  else
    luax_keys(L);
  if(checked)
    p = lua_touserdata(L, S_POL);
  else {
    luax_pushkey(L, S_KEYS, LUAX_K_POLICY_MT);
    p = luax_testudata(L, S_POL, lua_gettop(L), sizeof(*p));
    lua_pop(L, 1);
  }
  if(!p)
    luax_error(L, "bad policy (make one with retry.policy{...})");
  if(lua_rawgeti(L, S_KEYS, LUAX_K_SPARE_CALL) == LUA_TUSERDATA) {
    /* the Call of a call that ended (lcall_spare), user values all nil */
    lua_pushnil(L);
    lua_rawseti(L, S_KEYS, LUAX_K_SPARE_CALL);
    c = lua_touserdata(L, -1);
  }
  else {
    lua_pop(L, 1);
    c = lua_newuserdatauv(L, sizeof(*c), 4);
    luax_pushkey(L, S_KEYS, LUAX_K_CALL_MT);
    lua_setmetatable(L, -2);
  }
  memset(c, 0, sizeof(*c));
  lua_copy(L, -1, S_CALL);            /* S_ATT stays nil until needed */
  lua_pushcfunction(L, luax_traceback);
  lua_copy(L, -1, S_TB);
  lua_settop(L, S_TOP);
  c->pol = &p->pol;
  c->raise = p->raise;
  c->policy_name = p->name;
  c->has_valid = lpolicy_has(p, LPOLICY_VALID);
  c->has_before = lpolicy_has(p, LPOLICY_BEFORE_ATTEMPT);
  c->has_on_retry = lpolicy_has(p, LPOLICY_ON_RETRY);
  c->has_on_giveup = lpolicy_has(p, LPOLICY_ON_GIVEUP);
  c->guard = &p->guard;
  c->task = t;
  c->id = ++runtime_of(L)->calls;
  c->seq = ++t->calls;
  c->wrapper = wrapper;
  c->dec.retry_after = -1;
  c->pc.started = loop_now();
  /* inside another call's hook: no later than that call's deadline */
  if(t->hook_deadline > 0 &&
     c->pc.started + p->pol.deadline > t->hook_deadline)
    lcall_own_policy(L, c)->deadline = t->hook_deadline > c->pc.started ?
                                       t->hook_deadline - c->pc.started : 0;
  return c;
}

/* Lays out the fixed stack around the request (slot 1) and the policy
 * (slot 2), and the wrapped function and its arguments if any, and makes
 * the Call. */
struct call *lcall_new(lua_State *L, int wrapper)
{
  return call_new(L, wrapper, 0, 0);
}

/* A call that returns normally leaves its Call for the next call to
 * take, in the slot LUAX_K_SPARE_CALL of the interned keys' table: most
 * calls end as another starts, and a Call made anew is memory to
 * collect and a finalizer to run. Only a Call whose user values were
 * never set goes there (no redirect, no policy of its own, no -vv
 * header lines, no hedge), so lcall_new finds them nil.
 *
 * Its request table goes too, in LUAX_K_SPARE_REQ, when core.plain_call
 * made it with a method and a url alone and no Lua code was ever given
 * it (a hook would clear req_absent): nothing but this call holds it, so
 * the next plain call may set its two fields again instead of making a
 * table. */
void lcall_spare(lua_State *L, struct call *c)
{
  const struct lpolicy *p = lua_touserdata(L, S_POL);
  if(c->tr || c->redirected || c->hedge.fl || runtime_of(L)->wire ||
     c->pol != &p->pol)
    return;
  lua_pushvalue(L, S_CALL);
  lua_rawseti(L, S_KEYS, LUAX_K_SPARE_CALL);
  if(c->req_absent == CALL_REQ_BARE) {
    lua_pushvalue(L, S_REQ);
    lua_rawseti(L, S_KEYS, LUAX_K_SPARE_REQ);
  }
}

struct policy *lcall_own_policy(lua_State *L, struct call *c)
{
  struct policy *own;
  if(lua_getiuservalue(L, S_CALL, 2) != LUA_TUSERDATA) {
    lua_pop(L, 1);
    own = lua_newuserdatauv(L, sizeof(*own), 0);
    *own = *c->pol;
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, S_CALL, 2);
    c->pol = own;
  }
  own = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return own;
}

/* The rest of a call's start, once its Call is made and c->method set:
 * what the request asks of every attempt, hedging, the first attempt. */
static int request_start(lua_State *L, struct call *c)
{
  lattempt_fields(L, c);
  if(!(c->req_absent & 1u << LUAX_K_IDEMPOTENCY_KEY)) {
    luax_getkey(L, S_REQ, S_KEYS, LUAX_K_IDEMPOTENCY_KEY);
    c->pc.has_key = lua_toboolean(L, -1);
    lua_settop(L, S_TOP);
  }
  lhedge_init(L, c, lua_touserdata(L, S_POL));   /* call_new checked */
  if(c->hedge.delay > 0) {
    c->hedge.fl = lua_newuserdatauv(L, LPOLICY_HEDGE_MAX *
                                    sizeof(*c->hedge.fl), 0);
    lua_setiuservalue(L, S_CALL, 4);
  }
  return before_attempt_at(L, c, c->pc.started);   /* read a moment ago */
}

/* core.request(req, policy) -> Response, or raises a give-up error (or
 * returns nil, err when the policy says raise=false).
 * req: {method=, url=, headers={}, body=, max_body=, insecure=, cacert=,
 * timeout=, idempotency_key=bool}; policy: a Policy. */
static int lcore_request(lua_State *L)
{
  struct call *c;
  const char *method, *why;
  char err[CHECK_MSG];
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  if((why = call_cannot_start(L)) != NULL)
    return luax_error(L, "%s", why);
  if(check_request(L, 1, err, sizeof(err)))
    return luax_error(L, "%s", err);
  c = call_new(L, 0, 0, 0);
  luax_getkey(L, S_REQ, S_KEYS, LUAX_K_METHOD);
  method = luaL_optstring(L, -1, "GET");   /* a token, checked above */
  memcpy(c->method, method, strlen(method) + 1);
  c->pc.idempotent = policy_method_idempotent(c->method);
  lua_pop(L, 1);
  return request_start(L, c);
}

int lcall_plain(lua_State *L, const char *method, const char *url, int keys,
                unsigned absent)
{
  struct call *c = call_new(L, 0, keys, 1);
  c->req_absent = absent;
  c->url = url;
  memcpy(c->method, method, strlen(method) + 1);   /* a known method */
  c->pc.idempotent = 1;
  return request_start(L, c);
}

void lcall_register(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"request", lcore_request},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__gc", lcall_gc},
    {"__close", lcall_gc},
    {NULL, NULL}
  };
  luax_newtype(L, LUAX_CALL_MT, NULL, NULL);
  lua_pushvalue(L, -1);
  luaL_setfuncs(L, meta, 1);          /* the metatable, their upvalue */
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
  lattempt_register(L);
}
