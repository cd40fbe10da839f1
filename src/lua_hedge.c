/*
 * lua_hedge.c - hedged attempts of an HTTP call (policy field
 * hedge = {delay=, max=}, see lua_call.h): when an attempt has not
 * answered after `delay`, the same request goes again while the first is
 * still in flight, up to `max` at once; the first answer the policy
 * accepts wins and the others are cancelled. Here: the round's transfers
 * in flight, the timer that sends the next hedge, and handing each
 * transfer that ends to lattempt_done, one at a time, as if it were the
 * only one.
 *
 * The rules (docs/reference.md says them to users):
 * - every hedge is an attempt: it has its number, its entry in the
 *   attempts list, its -v line and --log record, and counts against
 *   `attempts`; no hedge is sent when none are left, when the deadline
 *   leaves no time, or when no transfer slot is free at once;
 * - an answer the policy does not accept ends the call only when nothing
 *   else of that attempt is in flight; the last one to end is decided as
 *   any attempt is (retry after the backoff, or give up);
 * - a redirect is an answer: the others are cancelled and the redirect is
 *   followed, unhedged;
 * - before_attempt runs once for an attempt and its hedges;
 * - a POST, PATCH or other method that is not idempotent is hedged only
 *   with an idempotency key (the same key on every copy); without one the
 *   call is not hedged, and -v says so; a policy(fn) wrapper never hedges;
 * - the host's guards (lua_guard.c) and gate (lua_gate.c) apply to every
 *   copy: no hedge while the host cools down or its breaker is not
 *   closed, nor beside the breaker's probe; a hedge is paid from the retry
 *   budget as a retry is, and is not sent when the budget refuses; a rate
 *   limit's turn must be free at once, or the hedge is not sent (waiting
 *   for it would defeat it); --chaos draws each copy's fault by its own
 *   attempt number, so a hedge may fail, reset or wait a latency first;
 * - a hedge not sent for any of these is not tried again in the round.
 *
 * While a round is hedged, c->tr is NULL and every transfer of the round
 * is in c->hedge.fl; the one taken out to be judged becomes c->tr, and
 * c->judged its number. lcall_decide marks an outcome the policy does not
 * accept as pending while others fly, and comes back here. Never touches
 * the policy's decision itself, and never blocks: every wait is the loop's.
 */
#include <string.h>

#include <lauxlib.h>

#include "chaos.h"
#include "guard.h"
#include "loop.h"
#include "lua_call.h"
#include "lua_task.h"
#include "luax.h"
#include "ratelimit.h"
#include "runtime.h"
#include "transfer.h"

void lhedge_init(lua_State *L, struct call *c, const struct lpolicy *p)
{
  struct lhedge *h = &c->hedge;
  if(p->hedge_max < 2)
    return;                      /* max = 1: one at a time, as without */
  /* a second copy of a request that may create something twice: never
   * without a key, whatever the policy says (unsafe= allows retries) */
  if(!c->pc.idempotent && !c->pc.has_key)
    h->skipped = "not idempotent and no idempotency key";
  else if(c->pol->attempts < 2)
    h->skipped = "attempts = 1 leaves no room for a copy";
  if(h->skipped) {
    if(runtime_of(L)->trace)
      ltrace_hedge(L, c, 0, 0, 0);
    return;
  }
  h->delay = p->hedge_delay;
  h->max = p->hedge_max;
}

/* 1 when another hedge may go now: room in flight and in attempts. */
static int may_hedge(const struct call *c)
{
  const struct lhedge *h = &c->hedge;
  return h->n < h->max && c->pc.attempt < c->pol->attempts;
}

/* The breaker's probe goes alone: one probe is one request. */
int lhedge_wanted(const struct call *c)
{
  return c->hedge.delay > 0 && !c->hops && !c->probe &&
         c->pc.attempt < c->pol->attempts;
}

static struct lhedge_flight *add_flight(struct lhedge *h,
                                        struct transfer *tr, int attempt,
                                        double started)
{
  struct lhedge_flight *f = &h->fl[h->n++];
  memset(f, 0, sizeof(*f));
  f->tr = tr;
  f->attempt = attempt;
  f->started = started;
  return f;
}

/* Waits for any transfer of the round or the next hedge's time. */
static int wait_round(lua_State *L, struct call *c)
{
  lua_settop(L, S_TOP);
  c->k = K_HEDGE;
  if(loop_wait_transfers(&c->task->lt, c->hedge.next_at)) {
    lcall_close(c);
    return luax_error(L, "not enough memory to arm a timer");
  }
  return loop_yield(&c->task->lt, L, 0, lcall_k);
}

int lhedge_wait(lua_State *L, struct call *c)
{
  struct lhedge *h = &c->hedge;
  struct lhedge_flight *f;
  h->n = 0;
  h->round = c->pc.attempt;
  h->round_started = c->attempt_started;
  h->latent = 0;
  h->held = NULL;
  f = add_flight(h, c->tr, c->pc.attempt, c->attempt_started);
  f->cost = c->retry_cost;
  f->rate_wait = c->rate_wait;
  f->chaos = c->chaos;
  c->tr = NULL;
  h->next_at = c->attempt_started + h->delay;
  return wait_round(L, c);
}


/* Why the host's guards or its rate limit hold the next hedge back (a
 * static string), or NULL when it may go, charged *cost to the budget. */
static const char *guards_hold(lua_State *L, struct call *c, double now,
                               double *cost)
{
  struct runtime *rt = runtime_of(L);
  struct guard_state *s = c->gs;
  double at;
  *cost = 0;
  if(s && s->cool_until > now)
    return "the host cools down";
  if(s && s->breaker != GUARD_CLOSED)
    return "the host's breaker is not closed";
  if(rt->rate) {
    int r;
    lua_getfield(L, S_REQ, "url");
    r = ratelimit_reserve(rt->rate, lua_tostring(L, -1), now, now, &at);
    lua_pop(L, 1);
    if(r == -2)
      luax_error(L, "not enough memory for a rate limit");
    if(r)
      return "no turn of the rate limit is free now";
  }
  if(s && c->guard->budget != GUARD_BUDGET_OFF) {
    if(!guard_budget_take(s, c->guard, 0, now))
      return "the retry budget refuses it";
    if(c->guard->budget == GUARD_BUDGET_BUCKET)
      *cost = c->guard->retry_cost;
  }
  return NULL;
}

/* A hedge held back: no other in this round; -v says why. */
static int hold(lua_State *L, struct call *c, const char *why)
{
  c->hedge.held = why;
  if(runtime_of(L)->trace)
    ltrace_hedge(L, c, -1, 0, 0);
  return wait_round(L, c);
}

/* A hedge whose chaos fault is a failure or a reset: an attempt that ends
 * at once, judged as any copy is (the others fly on). */
static int inject(lua_State *L, struct call *c, int fault, double cost,
                  double now)
{
  struct lhedge *h = &c->hedge;
  c->pc.attempt++;
  h->sent++;
  if(runtime_observed(runtime_of(L)))
    ltrace_hedge(L, c, c->pc.attempt, 0, now - h->round_started);
  if(may_hedge(c))
    h->next_at = now + h->delay;
  c->judged = c->pc.attempt;
  c->attempt_started = c->sent_at = now;
  c->retry_cost = cost;
  c->rate_wait = 0;
  c->chaos = fault;
  h->hedge = 1;
  lua_settop(L, S_TOP);
  lua_pushnil(L);
  lua_replace(L, S_REASON);
  c->retry_after[0] = '\0';
  memset(&c->out, 0, sizeof(c->out));
  return lgate_inject(L, c);
}

/* The time for a hedge came: sends one (when attempts, time, a slot, the
 * host's guards and its rate limit allow), then waits again. A hedge that
 * cannot start is not sent: the attempts in flight go on (its reason was
 * the same for them). */
static int send_hedge(lua_State *L, struct call *c)
{
  struct lhedge *h = &c->hedge;
  struct runtime *rt = runtime_of(L);
  struct transfer *tr;
  struct lhedge_flight *f;
  double now = loop_now(), timeout, cost = h->latent_cost, since = now;
  int fault = CHAOS_NONE;
  const char *why;
  h->next_at = 0;
  if(!may_hedge(c) || !loop_slot_free(&c->task->lt))
    return wait_round(L, c);
  timeout = policy_attempt_timeout(c->pol, c->pc.started, now, c->timeout);
  if(timeout < 0.001)
    return wait_round(L, c);
  if(h->latent) {                   /* its latency is over: send it */
    h->latent = 0;
    fault = CHAOS_LATENCY;
    since = h->latent_since;
  }
  else {
    if((why = guards_hold(L, c, now, &cost)) != NULL)
      return hold(L, c, why);
    if(rt->chaos) {
      fault = chaos_draw(rt->chaos, c->task->id, c->seq, c->pc.attempt + 1);
      rt->chaos->injected[fault]++;
      if(fault == CHAOS_FAIL || fault == CHAOS_RESET)
        return inject(L, c, fault, cost, now);
      if(fault == CHAOS_LATENCY) {
        /* a copy that would time out in its latency is not sent: the
         * copies in flight time out no later */
        if(rt->chaos->latency >= timeout)
          return hold(L, c, "its chaos latency outlasts its time");
        h->latent = 1;
        h->latent_since = now;
        h->latent_cost = cost;
        h->next_at = now + rt->chaos->latency;
        return wait_round(L, c);
      }
    }
  }
  if(lattempt_start(L, c, timeout, 1, now, &tr))
    return wait_round(L, c);
  c->pc.attempt++;
  h->sent++;
  f = add_flight(h, tr, c->pc.attempt, since);
  f->cost = cost;
  f->chaos = fault;
  if(runtime_observed(rt))
    ltrace_hedge(L, c, c->pc.attempt, 0, since - h->round_started);
  if(may_hedge(c))
    h->next_at = now + h->delay;
  return wait_round(L, c);
}

/* Hands transfer i of the round, which has ended, to lattempt_done. */
static int judge(lua_State *L, struct call *c, int i)
{
  struct lhedge *h = &c->hedge;
  struct lhedge_flight f = h->fl[i];
  memmove(&h->fl[i], &h->fl[i + 1], (size_t)(h->n - i - 1) * sizeof(f));
  h->n--;
  c->tr = f.tr;
  c->judged = f.attempt;
  c->attempt_started = f.started;
  c->sent_at = f.started;
  c->retry_cost = f.cost;
  c->rate_wait = f.rate_wait;
  c->chaos = f.chaos;
  h->hedge = f.attempt != h->round;
  lua_settop(L, S_TOP);
  lua_pushnil(L);
  lua_replace(L, S_REASON);
  c->retry_after[0] = '\0';
  memset(&c->out, 0, sizeof(c->out));
  return lattempt_done(L, c);
}

int lhedge_k(lua_State *L, struct call *c)
{
  struct lhedge *h = &c->hedge;
  int i;
  if(loop_task_cancelled(&c->task->lt))
    return lcall_cancelled(L, c);
  for(i = 0; i < h->n; i++)
    if(h->fl[i].tr->done)
      return judge(L, c, i);
  if(h->next_at > 0 && loop_now() >= h->next_at)
    return send_hedge(L, c);
  return wait_round(L, c);              /* woken early */
}

/* Another copy may have ended while the outcome was judged (valid() may
 * wait): its end woke nobody, so look before waiting. */
int lhedge_resume(lua_State *L, struct call *c)
{
  c->hedge.pending = 0;
  return lhedge_k(L, c);
}

void lhedge_cancel_rest(lua_State *L, struct call *c)
{
  struct lhedge *h = &c->hedge;
  int observed, i;
  double now;
  if(!h->n) {                       /* no copies in flight: most calls */
    h->next_at = 0;
    return;
  }
  observed = runtime_observed(runtime_of(L));
  now = loop_now();
  for(i = 0; i < h->n; i++) {
    struct lhedge_flight *f = &h->fl[i];
    loop_transfer_remove(f->tr);
    lwire_keep(L, f->tr);
    transfer_release(f->tr);
    f->tr = NULL;
    h->cancelled++;
    /* sent: a cancelled request may well have reached the server */
    lua_createtable(L, 0, 4);
    lua_pushstring(L, c->giveup_note ? c->giveup_note : "cancelled");
    lua_setfield(L, -2, "error");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "sent");
    lua_pushnumber(L, now - f->started);
    lua_setfield(L, -2, "duration");
    if(f->attempt != h->round) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, "hedge");
    }
    lcall_attempts_list(L);
    lua_rawseti(L, S_ATT, f->attempt);
    if(observed)
      ltrace_hedge(L, c, f->attempt, 1, now - f->started);
  }
  h->n = 0;
  h->next_at = 0;
}

void lhedge_renewed(lua_State *L, struct call *c)
{
  lhedge_cancel_rest(L, c);
  if(c->judged == c->pc.attempt) {
    c->pc.attempt--;            /* made again under its own number */
    return;
  }
  /* a later number was sent already: the answered copy keeps its number
   * (no gap in the attempts list) and the attempt made again takes the
   * next, still taking no attempt of the policy's */
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, c->out.status);
  lua_setfield(L, -2, "status");
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "sent");
  lua_pushnumber(L, loop_now() - c->attempt_started);
  lua_setfield(L, -2, "duration");
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "renewed");
  if(c->hedge.hedge) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "hedge");
  }
  lcall_attempts_list(L);
  lua_rawseti(L, S_ATT, c->judged);
  lcall_own_policy(L, c)->attempts++;
}

void lhedge_drop(struct call *c)
{
  struct lhedge *h = &c->hedge;
  int i;
  for(i = 0; i < h->n; i++) {
    loop_transfer_remove(h->fl[i].tr);
    transfer_release(h->fl[i].tr);
    h->fl[i].tr = NULL;
  }
  h->n = 0;
  h->next_at = 0;
}
