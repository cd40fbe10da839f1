/*
 * lua_guard.c - a call under the per-host guards (guard.h): before each
 * attempt, the host's cool-down and circuit breaker may make it wait on
 * the loop (a timer, or until the breaker's probe ends) or end it
 * (reasons cool_down, circuit_open); after each attempt, its outcome
 * moves the breaker, may start a cool-down for every task, and a retry
 * must be paid from the host's budget (reason budget when it cannot).
 *
 * The state lives in the runtime (runtime.h) for the whole run. The key
 * is the request URL's origin, or the policy's `key`. A policy(fn)
 * wrapper that names no key is guarded by its inner calls' hosts: they
 * wait, fail fast and note their attempts themselves, and the wrapper
 * pays its retry from the budget of the host of the inner call that gave
 * up. Waits go through the loop's timers and task waits only. -v gets a
 * line for each change of state.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "guard.h"
#include "loop.h"
#include "lua_call.h"
#include "lua_redact.h"
#include "lua_policy.h"
#include "lua_response.h"
#include "lua_task.h"
#include "luax.h"
#include "runtime.h"
#include "url.h"

/* The names guard_cool_headers are shown with. */
static const char *const cool_names[GUARD_COOL_HEADERS] = {
  "Retry-After", "RateLimit-Reset", "X-RateLimit-Retry-After",
  "X-RateLimit-Reset"
};

/* A -v line about the call's host: "[ 0.412] task 3  <what>". */
static void say(lua_State *L, const struct call *c, const char *fmt, ...)
{
  struct runtime *rt = runtime_of(L);
  char line[LTRACE_HEAD + 400];
  size_t n;
  va_list ap;
  if(!rt->trace)
    return;
  ltrace_head(rt, c->task, line);
  n = strlen(line);
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - n, fmt, ap);
  va_end(ap);
  rt->trace(line);
}

static struct guard_state *new_state(lua_State *L, struct call *c,
                                     struct guard *g, const char *key);

/* The state of the host of the URL field of the table at idx, or of the
 * policy's key; NULL for a URL without an origin (no attempt can be made:
 * libcurl says why) and, for a wrapper that names no key, with idx 0.
 * Raises when memory runs out. */
static struct guard_state *state_of(lua_State *L, struct call *c, int idx)
{
  char key[512];
  struct runtime *rt = runtime_of(L);
  struct guard *g = &rt->guard;
  struct guard_state *s;
  if(c->guard->named_key) {
    lua_getiuservalue(L, S_POL, LPOLICY_FIELDS);
    lua_getfield(L, -1, "key");              /* lua_policy.c checked it */
    snprintf(key, sizeof(key), "=%s", lua_tostring(L, -1));
    lua_pop(L, 2);
  }
  else if(!idx)
    return NULL;
  else {
    /* the URL of the last state found: the same string (kept alive in
     * the interned keys' table, so no other string can have its
     * address), or one equal to it, instead of an origin and a lookup,
     * for the calls of a run that go to one URL (states live as long as
     * the run); a plain call's, known without reading the request */
    const char *url;
    if(idx == S_REQ && lcall_url(c) && lcall_url(c) == rt->guard_url)
      return rt->guard_last;
    /* (a URL that is not a string has no origin) */
    if(luax_getkey(L, idx, S_KEYS, LUAX_K_URL) != LUA_TSTRING) {
      lua_pop(L, 1);
      return NULL;
    }
    url = lua_tostring(L, -1);
    if(rt->guard_url &&
       (url == rt->guard_url || !strcmp(url, rt->guard_url))) {
      lua_pop(L, 1);
      return rt->guard_last;
    }
    if(url_origin(url, key, sizeof(key))) {
      lua_pop(L, 1);
      return NULL;
    }
    if(!(s = guard_get(g, key, NULL)))
      s = new_state(L, c, g, key);
    rt->guard_url = lua_tostring(L, -1);
    rt->guard_last = s;
    lua_rawseti(L, S_KEYS, LUAX_K_GUARD_URL);
    return s;
  }
  if((s = guard_get(g, key, NULL)) != NULL)
    return s;
  return new_state(L, c, g, key);
}

/* The state of key (an origin, or "=" and a policy's key), made for the
 * first call to it, c. Raises when memory runs out. */
static struct guard_state *new_state(lua_State *L, struct call *c,
                                     struct guard *g, const char *key)
{
  char label[512], *bar;
  struct guard_state *s;
  /* the first call to it: "host:port", or the key's name, redacted as
   * the call's messages are (-v lines and summaries show it) */
  if(key[0] == '=') {
    lredact_push_req(L, key + 1, strlen(key + 1), c->wrapper ? 0 : S_REQ);
    snprintf(label, sizeof(label), "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  else
    snprintf(label, sizeof(label), "%s", strchr(key, '|') + 1);
  if(key[0] != '=' && (bar = strchr(label, '|')) != NULL)
    *bar = ':';
  if(!(s = guard_get(g, key, label)))
    luax_error(L, "not enough memory for the state of %s", label);
  return s;
}

/* Waits on a timer until `when`, coming back to K_GUARD. */
static int wait_until(lua_State *L, struct call *c, double when)
{
  if(loop_wait_timer(&c->task->lt, when))
    return luax_error(L, "not enough memory to arm a timer");
  c->k = K_GUARD;
  return loop_yield(&c->task->lt, L, 0, lcall_k);
}

int lguard_before(lua_State *L, struct call *c, double now)
{
  struct guard_state *s;
  double end = c->pc.started + c->pol->deadline, until = 0;
  double lease;
  /* a retry goes where the first attempt went, unless a hook may have
   * changed the URL (a wrapper's state is its last inner call's) */
  if(!c->gs || c->has_before || c->wrapper)
    c->gs = state_of(L, c, c->wrapper ? 0 : S_REQ);
  if(!(s = c->gs))
    return -1;
  if(s->cool_until > now) {
    /* another call's pause is held to this call's limits as its own
     * Retry-After would be: its deadline and its max_retry_after */
    if(s->cool_until >= end) {
      say(L, c, "cool-down %s %.1f s (%s): past this call's deadline, give "
          "up", s->label, s->cool_until - now, s->cool_source);
      return lcall_refuse(L, c, POLICY_COOL_DOWN);
    }
    if(s->cool_until - now > c->pol->max_retry_after) {
      say(L, c, "cool-down %s %.1f s (%s): over this call's "
          "max_retry_after (%g s), give up", s->label, s->cool_until - now,
          s->cool_source, c->pol->max_retry_after);
      return lcall_refuse(L, c, POLICY_COOL_DOWN);
    }
    s->cool_waits++;
    s->cool_waited += s->cool_until - now;
    say(L, c, "cool-down %s: this call waits %.1f s (%s)", s->label,
        s->cool_until - now, s->cool_source);
    return wait_until(L, c, s->cool_until);
  }
  lease = policy_attempt_timeout(c->pol, c->pc.started, now, c->timeout) + 1;
  switch(guard_admit(s, c->guard, now, lease, &until)) {
  case GUARD_GO:
    return -1;
  case GUARD_PROBE:
    c->probe = 1;
    say(L, c, "breaker %s half-open: this attempt is the probe", s->label);
    return -1;
  case GUARD_WAIT_BREAK:
    if(c->guard->when_open_wait && until < end) {
      say(L, c, "breaker %s open: this call waits %.1f s for the probe",
          s->label, until - now);
      return wait_until(L, c, until);
    }
    break;
  case GUARD_WAIT_PROBE:
    if(c->guard->when_open_wait && now < end) {
      c->gw.ud = &c->task->lt;
      guard_waiter_add(s, &c->gw);
      if(loop_wait_task(&c->task->lt, until < end ? until : end)) {
        guard_waiter_remove(&c->gw);
        return luax_error(L, "not enough memory to arm a timer");
      }
      c->k = K_GUARD;
      return loop_yield(&c->task->lt, L, 0, lcall_k);
    }
    break;
  }
  s->failed_fast++;
  say(L, c, "breaker %s open: fail fast", s->label);
  return lcall_refuse(L, c, POLICY_CIRCUIT_OPEN);
}

int lguard_resume(lua_State *L, struct call *c)
{
  if(!loop_task_cancelled(&c->task->lt) &&
     loop_task_wait(&c->task->lt) != WAIT_NONE)
    return loop_yield(&c->task->lt, L, 0, lcall_k);     /* woken early */
  guard_waiter_remove(&c->gw);
  if(loop_task_cancelled(&c->task->lt))
    return lcall_cancelled(L, c);
  return lcall_attempt(L, c);                           /* ask again */
}

/* Wakes every task waiting for the breaker's probe of s. */
static void wake_waiters(struct guard_state *s)
{
  struct guard_waiter *w = guard_waiters_take(s), *next;
  for(; w; w = next) {
    struct loop_task *t = w->ud;
    next = w->next;
    w->next = w->prev = NULL;
    if(loop_task_wait(t) == WAIT_TASK) {
      loop_wait_cancel(t);          /* its deadline timer */
      loop_wake(t);
    }
  }
}

void lguard_cancelled(lua_State *L, struct call *c)
{
  struct guard_state *s = c->gs;
  if(!c->probe || !s || s->breaker != GUARD_HALF_OPEN)
    return;
  c->probe = 0;
  s->probe_until = loop_now();        /* its lease ends now */
  say(L, c, "breaker %s half-open: the probe was cancelled", s->label);
  wake_waiters(s);
}

void lguard_unsent(struct call *c)
{
  if(c->paid && c->retry_cost > 0)
    guard_budget_refund(c->paid, c->guard, c->retry_cost);
  c->retry_cost = 0;
  c->paid = NULL;
}

/* A 429 or 503: the first of guard_cool_headers that parses pauses the
 * host that answered (after redirects; or the policy's key) for every
 * task, for at most max_retry_after. */
static void cool_down(lua_State *L, struct call *c, struct guard_state *s)
{
  const char *values[GUARD_COOL_HEADERS];
  double secs, now = loop_now();
  int i, top = lua_gettop(L);
  if(!lresp_is(L, S_RESP))
    return;
  if(!c->guard->named_key && !(s = state_of(L, c, S_RESP)))
    return;
  lua_getfield(L, S_RESP, "headers");
  for(i = 0; i < GUARD_COOL_HEADERS; i++) {
    lua_getfield(L, top + 1, guard_cool_headers[i]);
    values[i] = lua_tostring(L, -1);
  }
  i = guard_cool_ask(values, loop_wall(), &secs);
  lua_settop(L, top);
  if(i < 0)
    return;
  if(guard_cool_down(s, now + (secs < c->pol->max_retry_after ? secs :
                                c->pol->max_retry_after), cool_names[i], secs))
    say(L, c, "cool-down %s %.1f s (%s)", s->label, s->cool_until - now,
      cool_names[i]);
}

void lguard_after(lua_State *L, struct call *c)
{
  struct guard_state *s;
  double now = c->pc.now, before;     /* lcall_decide read the clock */
  int failed, timeout = c->out.cls == POLICY_TIMEOUT;
  enum guard_change ch;
  static const char *const changes[] = {
    "", "open for %g s", "closed: the probe succeeded",
    "open again for %g s: the probe failed"
  };
  /* a wrapper that names no key pays from the host of the Response its
   * function returned, or of the inner call that gave up (lua_wrap.c) */
  if(c->wrapper && !c->guard->named_key && !c->gs && lresp_is(L, S_RESP))
    c->gs = state_of(L, c, S_RESP);
  if(!(s = c->gs))
    return;
  if(c->wrapper && !c->guard->named_key)
    goto pay;                     /* the inner call noted its attempt */
  failed = c->out.cls == POLICY_RESPONSE ?
           c->out.status >= 500 && c->out.status <= 599 :
           c->out.cls != POLICY_TOO_LARGE;
  ch = guard_note(s, c->guard, c->judged == 1, failed,
                  c->dec.verdict == POLICY_ACCEPT, c->probe, c->retry_cost,
                  now);
  c->probe = 0;
  c->retry_cost = 0;
  if(ch != GUARD_SAME) {
    char what[64];
    snprintf(what, sizeof(what), changes[ch], c->guard->break_for);
    say(L, c, "breaker %s %s", s->label, what);
    wake_waiters(s);
  }
  if(c->out.cls == POLICY_RESPONSE && c->pol->retry_after &&
     (c->out.status == 429 || c->out.status == 503))
    cool_down(L, c, s);
pay:
  /* a hedged copy's retry waits for the last of its round */
  if(c->dec.verdict != POLICY_RETRY || c->hedge.pending ||
     c->guard->budget == GUARD_BUDGET_OFF)
    return;
  before = s->budget_used ? s->tokens : c->guard->tokens;
  if(!guard_budget_take(s, c->guard, timeout, now)) {
    c->dec.verdict = POLICY_GIVEUP;
    c->dec.reason = POLICY_BUDGET;
    c->dec.delay = 0;
    if(s->refusing++)
      return;                     /* said once until a retry is allowed */
    if(c->guard->budget == GUARD_BUDGET_BUCKET)
      say(L, c, "budget %s: %g/%g tokens, retry refused", s->label,
          s->tokens, c->guard->tokens);
    else
      say(L, c, "budget %s: over %g %% of requests, retry refused",
          s->label, c->guard->ratio * 100);
    return;
  }
  s->refusing = 0;
  if(c->guard->budget == GUARD_BUDGET_BUCKET) {
    double tenth = c->guard->tokens / 10;
    c->retry_cost = timeout ? c->guard->timeout_cost : c->guard->retry_cost;
    c->paid = s;
    /* one line each time the level passes a tenth of the bucket */
    if(tenth > 0 && ceil(before / tenth) != ceil(s->tokens / tenth))
      say(L, c, "budget %s: %g/%g tokens", s->label, s->tokens,
          c->guard->tokens);
  }
}
