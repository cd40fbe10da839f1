/*
 * lua_gate.c - what an attempt passes before its request goes out (see
 * lua_call.h): the client-side rate limit of its host (ratelimit.c), then
 * --chaos (chaos.c), which may end it with a fault instead. Both wait on
 * the loop's timers, never in a blocking sleep.
 *
 * A rate limit's wait is not part of the attempt's duration (it is
 * counted on its own, for -v, --log and the summary); a chaos latency is.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "chaos.h"
#include "loop.h"
#include "lua_call.h"
#include "lua_response.h"
#include "lua_task.h"
#include "luax.h"
#include "ratelimit.h"
#include "runtime.h"
#include "transfer.h"
#include "url.h"

/* The URL the attempt's first request goes to (request_check made it a
 * string); left on the stack. */
static const char *push_url(lua_State *L)
{
  lua_getfield(L, S_REQ, "url");
  return lua_tostring(L, -1);
}

static int wait_until(lua_State *L, struct call *c, double when)
{
  if(loop_wait_timer(&c->task->lt, when))
    return luax_error(L, "not enough memory to arm a timer");
  c->k = K_GATE;
  return loop_yield(&c->task->lt, L, 0, lcall_k);
}

/* The rate limit: waits for the request's turn, or gives up when the
 * turn comes after the call's deadline. -1: go on. */
static int rate_gate(lua_State *L, struct call *c)
{
  struct runtime *rt = runtime_of(L);
  double now = loop_now(), at;
  /* a turn that would leave the attempt under 1 ms is past the deadline
   * too (lattempt_send would not start it) */
  int r = ratelimit_reserve(rt->rate, push_url(L), now,
                            c->pc.started + c->pol->deadline - 0.001, &at);
  lua_pop(L, 1);
  if(r == -2)
    return luax_error(L, "not enough memory for a rate limit");
  if(r == 1) {
    loop_slot_giveback(&c->task->lt);
    return lcall_no_time_left(L, c);
  }
  if(at <= now)
    return -1;
  c->rate_wait = at - now;
  rt->rate_waited += at - now;
  rt->rate_waits++;
  return wait_until(L, c, at);
}

int lgate_inject(lua_State *L, struct call *c)
{
  const struct chaos *ch = runtime_of(L)->chaos;
  loop_slot_giveback(&c->task->lt);
  c->out.sent = 0;
  if(c->chaos == CHAOS_FAIL) {
    struct transfer tr;
    memset(&tr, 0, sizeof(tr));
    tr.status = ch->status;
    c->out.cls = POLICY_RESPONSE;
    c->out.status = ch->status;
    lua_pushfstring(L, "chaos: a %d injected before sending", ch->status);
    lua_replace(L, S_REASON);
    lresp_push(L, &tr, c->method, push_url(L), loop_now() - c->pc.started,
               c->judged);
    lua_replace(L, S_RESP);
    lua_pop(L, 1);
    lgate_after(L, c, ch->status);
    return lcall_check_valid(L, c, S_RESP);
  }
  c->out.cls = POLICY_RESET;
  c->out.status = 0;
  lua_pushliteral(L, "chaos: a reset injected before sending");
  lua_replace(L, S_REASON);
  return lcall_check_valid(L, c, S_RESP);
}

int lgate_pass(lua_State *L, struct call *c)
{
  struct runtime *rt = runtime_of(L);
  int r, fresh = 0;       /* c->attempt_started was read in this step */
  if(c->hops || c->wrapper)
    return -1;            /* a redirect hop is part of its attempt */
  switch(c->gate) {
  case 0:
    c->gate = 1;
    c->rate_wait = 0;
    c->chaos = CHAOS_NONE;
    if(rt->rate && (r = rate_gate(L, c)) >= 0)
      return r;
    fresh = !rt->rate;    /* the attempt's own reading, unless a rate
                             limit was asked */
    /* fall through */
  case 1:
    c->gate = 2;
    if(!fresh)
      c->attempt_started = loop_now();   /* the rate limit's wait is not
                                            the attempt's */
    fresh = 1;
    if(rt->chaos) {
      c->chaos = chaos_draw(rt->chaos, c->task->id, c->seq, c->pc.attempt);
      rt->chaos->injected[c->chaos]++;
      if(c->chaos == CHAOS_FAIL || c->chaos == CHAOS_RESET)
        return lgate_inject(L, c);
      if(c->chaos == CHAOS_LATENCY) {
        /* no longer than the attempt has, as lattempt_send reckons it: a
         * network that slow would time the attempt out */
        double now = loop_now(), left = policy_attempt_timeout(c->pol,
                                           c->pc.started, now, c->timeout);
        if(left >= 0.001 && rt->chaos->latency >= left) {
          c->gate = 3;
          return wait_until(L, c, now + left);
        }
        if(left >= 0.001)
          return wait_until(L, c, now + rt->chaos->latency);
      }
    }
    /* fall through */
  default:
    c->sent_at = fresh ? c->attempt_started : loop_now();
    return -1;
  }
}

/* Ends the attempt as a timeout: its chaos latency took all the time it
 * had. */
static int latency_timeout(lua_State *L, struct call *c)
{
  char why[96];
  loop_slot_giveback(&c->task->lt);
  c->gate = 2;
  c->out.sent = 0;
  c->out.cls = POLICY_TIMEOUT;
  c->out.status = 0;
  snprintf(why, sizeof(why), "chaos: a latency of %g s, over the %.3g s "
           "the attempt had", runtime_of(L)->chaos->latency,
           loop_now() - c->attempt_started);
  lua_pushstring(L, why);
  lua_replace(L, S_REASON);
  return lcall_check_valid(L, c, S_RESP);
}

int lgate_k(lua_State *L, struct call *c)
{
  if(loop_task_cancelled(&c->task->lt))
    return lcall_cancelled(L, c);
  if(!loop_task_fired(&c->task->lt))
    return loop_yield(&c->task->lt, L, 0, lcall_k);   /* woken early */
  if(c->gate == 3)
    return latency_timeout(L, c);
  return lattempt_send(L, c);
}

void lgate_after(lua_State *L, struct call *c, int status)
{
  struct runtime *rt = runtime_of(L);
  const char *url;
  double r;
  char o[320], line[512];
  if(status != 429 || !rt->rate || c->wrapper)
    return;
  url = push_url(L);
  r = ratelimit_throttled(rt->rate, url, c->sent_at, loop_now());
  if(r > 0) {
    rt->rate_cuts++;
    if(rt->trace && !url_origin(url, o, sizeof(o))) {
      /* "http|host|port" as http://host:port: no user, path or query */
      char *host = strchr(o, '|'), *port = strrchr(o, '|');
      *host++ = '\0';
      *port++ = '\0';
      snprintf(line, sizeof(line), "[%8.3f] rate limit  %s://%s:%s  "
               "lowered to %.3g/s after a 429 (task %u)",
               loop_now() - rt->started, o, host, port, r, c->task->id);
      rt->trace(line);
    }
  }
  lua_pop(L, 1);
}
