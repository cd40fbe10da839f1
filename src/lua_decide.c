/*
 * lua_decide.c - the end of each attempt of a call (see lua_call.h):
 * valid()'s answer, the decision (policy.c's), the attempts list, and the
 * ways a call ends: accepted, given up (the GiveUp error of
 * lua_giveup.c, on_giveup), cancelled or out of time. A retry goes on to
 * on_retry and the wait, back through lcall_k.
 *
 * Sends nothing and never touches the transfer but to release it
 * (lcall_close).
 */
#include <string.h>

#include <lauxlib.h>

#include "loop.h"
#include "lua_call.h"
#include "lua_giveup.h"
#include "lua_policy.h"
#include "lua_redact.h"
#include "lua_response.h"
#include "lua_task.h"
#include "luax.h"
#include "runtime.h"

static int giveup(lua_State *L, struct call *c)
{
  struct lgiveup g;
  lua_settop(L, S_TOP);
  lhedge_cancel_rest(L, c);
  lcall_close(c);
  lcall_attempts_list(L);
  memset(&g, 0, sizeof(g));
  lcall_push_what(L, c);
  g.what = lua_tostring(L, -1);
  if(!c->wrapper) {
    lua_getfield(L, S_REQ, "url");
    lredact_push_url(L, luaL_optstring(L, -1, "?"), S_REQ);
    g.url = lua_tostring(L, -1);
  }
  g.method = c->method;
  g.note = c->giveup_note;
  g.pol = c->pol;
  g.dec = &c->dec;
  g.out = &c->out;
  g.wrapper = c->wrapper;
  g.has_key = c->pc.has_key;
  g.idempotent = c->pc.idempotent;
  g.elapsed = loop_now() - c->pc.started;
  g.attempts = S_ATT;
  g.reason = S_REASON;
  g.response = S_RESP;
  g.cause = c->wrapper && c->inner_error ? S_RES : 0;
  g.guard = c->gs;
  lgiveup_push(L, &g);
  lua_replace(L, S_REASON);
  lua_settop(L, S_TOP);
  c->k = K_GIVEUP;
  if(c->has_on_giveup) {
    lpolicy_push_hook(L, S_POL, LPOLICY_ON_GIVEUP);
    lua_pushvalue(L, S_REASON);
    return lcall_hook(L, c, 1, 0);
  }
  return lcall_k(L, LUA_OK, 0);    /* K_GIVEUP with nothing to call */
}

int lcall_finish_giveup(lua_State *L, struct call *c)
{
  lua_settop(L, S_TOP);
  if(runtime_observed(runtime_of(L)))
    ltrace_call(L, c, 0);
  if(c->raise) {
    luaL_traceback(L, L, NULL, 1);   /* where the call gave up */
    lua_setfield(L, S_REASON, "traceback");
    lua_pushvalue(L, S_REASON);
    return lua_error(L);
  }
  lua_pushnil(L);
  lua_pushvalue(L, S_REASON);
  return 2;
}

static int call_accept(lua_State *L, struct call *c)
{
  lua_settop(L, S_TOP);
  c->hedge.won = c->hedge.hedge;
  lhedge_cancel_rest(L, c);           /* a hedged round's other copies */
  lcall_close(c);
  if(runtime_observed(runtime_of(L)))
    ltrace_call(L, c, !(c->wrapper && c->inner_error));
  if(c->wrapper && c->inner_error) {
    /* an inner give-up this policy does not retry: pass it on as it is */
    lua_pushvalue(L, S_RES);
    return lua_error(L);
  }
  if(c->wrapper) {
    lua_Integer i, n;
    lua_getfield(L, S_RES, "n");
    n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    luaL_checkstack(L, (int)n, "too many results");
    for(i = 1; i <= n; i++)
      lua_rawgeti(L, S_RES, i);
    lcall_spare(L, c);
    return (int)n;
  }
  /* the response of this attempt: lresp_push set its attempts, unless
   * copies sent after it made more; elapsed now counts valid() too */
  lua_pushvalue(L, S_RESP);
  if(c->pc.attempt != c->judged) {
    luax_pushkey(L, S_KEYS, LUAX_K_ATTEMPTS);
    lua_pushinteger(L, c->pc.attempt);
    lua_settable(L, -3);
  }
  luax_pushkey(L, S_KEYS, LUAX_K_ELAPSED);
  lua_pushnumber(L, c->pc.now - c->pc.started);   /* lcall_decide's */
  lua_settable(L, -3);
  lcall_spare(L, c);                 /* last: settable may run Lua */
  return 1;
}

/* Records the attempt just made in the attempts list. */
static void record_attempt(lua_State *L, struct call *c, double duration)
{
  lcall_attempts_list(L);
  lua_createtable(L, 0, 6);
  if(c->out.cls == POLICY_RESPONSE && c->out.status > 0) {
    lua_pushinteger(L, c->out.status);
    lua_setfield(L, -2, "status");
  }
  else if(c->out.cls != POLICY_RESPONSE) {
    lua_pushstring(L, policy_class_name(c->out.cls));
    lua_setfield(L, -2, "error");
  }
  lua_pushboolean(L, c->out.sent);
  lua_setfield(L, -2, "sent");
  lua_pushnumber(L, duration);
  lua_setfield(L, -2, "duration");
  if(c->out.invalid) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "invalid");
  }
  if(c->hedge.hedge) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "hedge");
  }
  if(lua_isstring(L, S_REASON)) {
    lua_pushvalue(L, S_REASON);
    lua_setfield(L, -2, "reason");
  }
  lua_rawseti(L, S_ATT, c->judged);
}

int lcall_decide(lua_State *L, struct call *c)
{
  double duration;
  int passed_on;
  lua_settop(L, S_TOP);
  /* an attempt that got no response leaves none behind: on_retry, the
   * GiveUp and its on_giveup see only this attempt's, never an earlier
   * one's */
  if(c->out.cls != POLICY_RESPONSE) {
    lua_pushnil(L);
    lua_replace(L, S_RESP);
  }
  /* one reading of the clock for the decision, the guards and the
   * response's elapsed (call_accept) */
  c->pc.now = loop_now();
  /* the Retry-After of a response the policy may retry (a wrapped
   * function's comes with its inner give-up, as out.wait) */
  if(c->out.cls == POLICY_RESPONSE && !c->wrapper && c->pol->retry_after &&
     (c->out.invalid || policy_status_retried(c->pol, c->out.status)))
    lresp_header_copy(L, S_RESP, "retry-after", c->retry_after,
                      sizeof(c->retry_after));
  c->out.retry_after = c->retry_after[0] ? c->retry_after : NULL;
  /* the wall clock dates an HTTP-date Retry-After; policy_decide reads
   * it for nothing else */
  c->pc.now_wall = c->out.retry_after ? loop_wall() : 0;
  if(c->bug)
    c->dec.verdict = POLICY_ACCEPT;    /* passed on below */
  else if(c->wrapper && c->giveup_note) {
    c->dec.verdict = POLICY_GIVEUP;    /* its task was cancelled */
    c->dec.retry_after = -1;
  }
  else
    policy_decide(c->pol, &c->pc, &c->out, &runtime_of(L)->rng, &c->dec);
  /* a wrapped function's error this policy does not retry (or one that
   * is no give-up: a bug) goes on to the caller as it is: the trace, log,
   * summary and report say the call failed, not that it was accepted */
  passed_on = c->passed_on = c->wrapper && c->inner_error &&
                             c->dec.verdict == POLICY_ACCEPT;
  if(passed_on) {
    c->dec.verdict = POLICY_GIVEUP;
    c->dec.reason = POLICY_NOT_RETRYABLE;
  }
  /* a hedged attempt's other copies still fly: only an accept ends it */
  c->hedge.pending = c->dec.verdict != POLICY_ACCEPT && c->hedge.n > 0;
  lguard_after(L, c);
  duration = c->pc.now - c->attempt_started;
  if(runtime_observed(runtime_of(L)))
    ltrace_attempt(L, c, duration);
  if(c->hedge.pending) {
    record_attempt(L, c, duration);
    return lhedge_resume(L, c);
  }
  if(passed_on || c->dec.verdict == POLICY_ACCEPT)
    return call_accept(L, c);      /* no one reads the attempts list */
  record_attempt(L, c, duration);
  if(c->dec.verdict == POLICY_GIVEUP)
    return giveup(L, c);
  /* retry: note the wait on the attempt, tell on_retry, then wait */
  lua_rawgeti(L, S_ATT, c->judged);
  lua_pushnumber(L, c->dec.delay);
  lua_setfield(L, -2, "delay");
  lua_pop(L, 1);
  c->pc.prev_delay = c->dec.delay;
  c->k = K_ON_RETRY;
  if(c->has_on_retry) {
    lpolicy_push_hook(L, S_POL, LPOLICY_ON_RETRY);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, c->pc.attempt);
    lua_setfield(L, -2, "attempt");
    lua_rawgeti(L, S_ATT, c->judged);
    lua_getfield(L, -1, "status");
    lua_setfield(L, -3, "status");
    lua_getfield(L, -1, "error");
    lua_setfield(L, -3, "error");
    lua_pop(L, 1);
    lua_pushvalue(L, S_REASON);
    lua_setfield(L, -2, "reason");
    lua_pushnumber(L, c->dec.delay);
    lua_setfield(L, -2, "delay");
    lua_pushvalue(L, S_RESP);
    lua_setfield(L, -2, "response");
    lcall_push_what(L, c);
    lua_setfield(L, -2, "call");
    return lcall_hook(L, c, 1, 0);
  }
  return lcall_k(L, LUA_OK, 0);
}

/* Runs valid(resp) when the policy has one and the outcome is a response
 * whose status is not retried anyway. */
int lcall_check_valid(lua_State *L, struct call *c, int value_idx)
{
  if(c->has_valid && c->out.cls == POLICY_RESPONSE &&
     !policy_status_retried(c->pol, c->out.status)) {
    c->k = K_VALID;
    lpolicy_push_hook(L, S_POL, LPOLICY_VALID);
    lua_pushvalue(L, value_idx);
    return lcall_hook(L, c, 1, 2);
  }
  return lcall_decide(L, c);
}

/* Gives up before an attempt that would have no time: the deadline has
 * passed (while queued for a slot, or a timeout= too small to run). */
int lcall_no_time_left(lua_State *L, struct call *c)
{
  return lcall_refuse(L, c, POLICY_DEADLINE);
}

int lcall_refuse(lua_State *L, struct call *c, enum policy_reason reason)
{
  c->dec.verdict = POLICY_GIVEUP;
  c->dec.reason = reason;
  c->dec.retry_after = -1;
  c->pc.attempt--;
  lguard_unsent(c);
  return giveup(L, c);
}

/* Gives up because the task was cancelled (or the run interrupted): drops
 * whatever it waits on or holds (a timer, a place in line, a slot). An
 * attempt stopped in flight is recorded, as one that may have been sent. */
int lcall_cancelled(lua_State *L, struct call *c)
{
  loop_wait_cancel(&c->task->lt);
  loop_slot_giveback(&c->task->lt);
  c->giveup_note = loop_interrupted() ? "interrupted" : "cancelled";
  lguard_cancelled(L, c);
  c->dec.verdict = POLICY_GIVEUP;
  c->dec.retry_after = -1;
  if(c->k == K_TRANSFER) {
    lcall_attempts_list(L);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, c->giveup_note);
    lua_setfield(L, -2, "error");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "sent");
    lua_pushnumber(L, loop_now() - c->attempt_started);
    lua_setfield(L, -2, "duration");
    lua_rawseti(L, S_ATT, c->judged);
    /* -v, --log and the summary show the attempt stopped in flight */
    memset(&c->out, 0, sizeof(c->out));
    c->out.sent = 1;
    if(runtime_observed(runtime_of(L)))
      ltrace_attempt(L, c, loop_now() - c->attempt_started);
  }
  else if(c->k == K_VALID || c->k == K_REFRESH)
    /* a response came; valid() or the auth's renewal was stopped */
    record_attempt(L, c, loop_now() - c->attempt_started);
  return giveup(L, c);
}

int lcall_past_deadline(lua_State *L, struct call *c)
{
  if(c->k == K_VALID)
    record_attempt(L, c, loop_now() - c->attempt_started);
  else if(c->k == K_ON_RETRY) {           /* the wait is not made */
    lua_rawgeti(L, S_ATT, c->judged);
    lua_pushnil(L);
    lua_setfield(L, -2, "delay");
    lua_pop(L, 1);
  }
  c->dec.verdict = POLICY_GIVEUP;
  c->dec.reason = POLICY_DEADLINE;
  c->dec.retry_after = -1;
  return giveup(L, c);
}

/* Step K_VALID: valid(resp) returned (or raised, status not LUA_OK) with
 * its results on the stack. */
int lcall_valid_done(lua_State *L, struct call *c, int status)
{
  if(status != LUA_OK && loop_task_cancelled(&c->task->lt))
    return lcall_cancelled(L, c);
  if(status != LUA_OK) {
    /* a predicate that raises marks the response invalid; its message
     * and traceback become the attempt's reason */
    c->out.invalid = 1;
    lua_replace(L, S_REASON);
  }
  else {
    c->out.invalid = !lua_toboolean(L, -2);
    if(c->out.invalid) {
      if(lua_isstring(L, -1))
        lua_pushvalue(L, -1);
      else
        lua_pushliteral(L, "valid() returned false");
      lua_replace(L, S_REASON);
    }
  }
  if(c->out.invalid || lua_type(L, S_REASON) != LUA_TNIL)   /* else none */
    lredact_at(L, S_REASON, c->wrapper ? 0 : S_REQ);
  if(c->out.invalid && lcall_out_of_time(c))
    return lcall_past_deadline(L, c);
  return lcall_decide(L, c);
}
