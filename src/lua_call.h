/*
 * lua_call.h - one logical call, attempted under a policy: the state the
 * call's steps share, for the three files that make them.
 *
 *   lua_call.c     the steps: before_attempt, the decision, on_retry, the
 *                  wait, give-up and on_giveup; core.request
 *   lua_attempt.c  one attempt on the wire: the request table in, an
 *                  outcome (a Response or a failure) out, redirects
 *                  followed
 *   lua_wrap.c     policy(fn): an attempt runs a function; core.call
 *
 * A call is a retryrun.Call userdata. Each step may call into Lua (a hook,
 * the predicate, the wrapped function) through lua_pcallk, or wait on the
 * loop (a transfer, a backoff, a transfer slot) through loop_yield; either
 * way it comes back through lcall_k, which resumes at step c->k. So hooks
 * may make HTTP calls and sleep themselves.
 *
 * The stack of a call is fixed for its whole life:
 *   S_REQ the request table (nil for a function)  S_POL the Policy
 *   S_CALL the Call  S_ATT the attempts list  S_TB the traceback handler
 *   S_RESP the last response  S_REASON the last attempt's detail
 *   S_FN the wrapped function  S_ARGS its arguments  S_RES its results
 * Every step starts from lua_settop(L, S_TOP) and leaves nothing above it
 * when it suspends.
 */
#ifndef RETRYRUN_LUA_CALL_H
#define RETRYRUN_LUA_CALL_H

#include <lua.h>

#include "guard.h"
#include "policy.h"

struct task;
struct transfer;

enum {
  S_REQ = 1, S_POL, S_CALL, S_ATT, S_TB, S_RESP, S_REASON, S_FN, S_ARGS,
  S_RES, S_TOP = S_RES
};

/* Where lcall_k resumes. */
enum lcall_step {
  K_BEFORE = 1, K_SLOT, K_TRANSFER, K_FN, K_VALID, K_ON_RETRY, K_WAIT,
  K_GIVEUP, K_GATE, K_REFRESH, K_GUARD
};

struct call {
  const struct policy *pol;   /* the Policy's at S_POL; inside another
                                 call's hook, a copy with a sooner
                                 deadline, in the Call's user value 2 */
  struct policy_call pc;
  struct policy_outcome out;
  struct policy_decision dec;
  struct transfer *tr;        /* the attempt in flight, owned */
  struct task *task;
  enum lcall_step k;
  unsigned id;                /* 1 for the run's first call, and so on */
  int wrapper;                /* core.call: attempts run a function */
  int inner_error;            /* the function raised a give-up error, kept
                                 in S_RES */
  int raise;
  int has_valid, has_before, has_on_retry, has_on_giveup;
  int has_refresh;            /* req.refresh: a session's auth */
  int refreshed;              /* it renewed the credentials: once a call */
  size_t max_body;
  int insecure;
  char method[16];
  /* redirects of the attempt in flight: the hop's URL is the Call's user
   * value 1 */
  int hops;                   /* redirects followed */
  int hop_get;                /* a 303 (or a 301/302 after POST) made it a
                                 GET: no body, no Content-Type */
  int hop_cross;              /* it left the request's origin: no
                                 credentials */
  char hop_method[16];        /* the method of the next hop */
  char retry_after[96];       /* copy of the last Retry-After value */
  const char *giveup_note;    /* "interrupted", "cancelled", or NULL */
  double attempt_started;
  double timeout;             /* the call's timeout=, 0 for the policy's */
  double outer_deadline;      /* the task's wrap_deadline before this
                                 wrapper's function ran */
  int in_hook;                /* a hook runs: lcall_k restores the task's
                                 hook_deadline from outer_hook_deadline */
  double hook_until;          /* when the running hook's waits end */
  double outer_hook_deadline;
  /* before the attempt goes out (lua_gate.c) */
  int gate;                   /* 0: rate limit next, 1: chaos next, 2:
                                 passed */
  unsigned seq;               /* the call's number in its task */
  int chaos;                  /* the attempt's enum chaos_fault */
  double rate_wait;           /* seconds it waited for a rate limit */
  double sent_at;             /* when it went out */
  /* the per-host guards (lua_guard.c) */
  const struct guard_conf *guard; /* the policy's budget, breaker,
                                  when_open: in the Policy at S_POL */
  struct guard_state *gs;     /* the state of the attempt's host, or NULL */
  struct guard_waiter gw;     /* waiting for the breaker's probe */
  int probe;                  /* the attempt in flight is the probe */
  double retry_cost;          /* what the attempt in flight was charged */
};

/* The continuation of every step. */
int lcall_k(lua_State *L, int status, lua_KContext ctx);

/* Makes the Call for the stack laid out above (S_REQ and S_POL, or S_POL,
 * S_FN and S_ARGS, in place), raising at the script's line when no call
 * can start here. */
struct call *lcall_new(lua_State *L, int wrapper);

/* Releases the transfer in flight, taking it off the loop first.
 * Idempotent. */
void lcall_close(struct call *c);

/* Calls the hook (or predicate) below its nargs arguments for step c->k,
 * coming back through lcall_k, the task carrying the call's deadline. */
int lcall_hook(lua_State *L, struct call *c, int nargs, int nres);

/* The steps other files start. */
int lcall_before_attempt(lua_State *L, struct call *c);
int lcall_check_valid(lua_State *L, struct call *c, int value_idx);
int lcall_decide(lua_State *L, struct call *c);
int lcall_cancelled(lua_State *L, struct call *c);
int lcall_no_time_left(lua_State *L, struct call *c);
/* Gives up for reason before the attempt counted was made. */
int lcall_refuse(lua_State *L, struct call *c, enum policy_reason reason);
/* Makes the attempt counted (after before_attempt). */
int lcall_attempt(lua_State *L, struct call *c);

/* Pushes "GET url" (redacted) or "function at file:line" for messages. */
void lcall_push_what(lua_State *L, struct call *c);

/* lua_attempt.c: reads the request's per-attempt fields; sends the
 * attempt (or waits for a transfer slot); turns its transfer into an
 * outcome. */
void lattempt_fields(lua_State *L, struct call *c);
int lattempt_send(lua_State *L, struct call *c);
int lattempt_done(lua_State *L, struct call *c);
int lattempt_refreshed(lua_State *L, struct call *c, int status);
/* core.cookie_jar(): a retryrun.CookieJar, libcurl's cookie engine with
 * one share of its own (a session's cookies = true). */
void lattempt_register(lua_State *L);

/* lua_gate.c: the rate limit and chaos before an attempt's request goes
 * out. lgate_pass() returns -1 when the request may go now; otherwise it
 * has suspended the task (step K_GATE, back through lgate_k) or ended the
 * attempt with a chaos fault, and returns what to return. lgate_after()
 * tells an adaptive rate limit about a response. */
int lgate_pass(lua_State *L, struct call *c);
int lgate_k(lua_State *L, struct call *c);
void lgate_after(lua_State *L, struct call *c, int status);

/* lua_wrap.c: runs the wrapped function as an attempt; judges how it
 * ended. */
int lwrap_run(lua_State *L, struct call *c);
int lwrap_done(lua_State *L, struct call *c, int status);

/* lua_trace.c: hands the attempt just decided to the runtime's trace
 * (-v, a line) and log (--log, a JSON object) functions, whichever are
 * set; and the call's end, to log. */
void ltrace_attempt(lua_State *L, struct call *c, double duration);
void ltrace_call(lua_State *L, struct call *c, int accepted);
void ltrace_renew(lua_State *L, struct call *c, double duration);

/* lua_guard.c: before an attempt, the host's cool-down and breaker:
 * -1 to go on, else it waits (back at K_GUARD, lguard_resume) or gives
 * up, and returns what the C function returns. After the decision, the
 * outcome is noted and a retry paid from the budget (or refused: the
 * decision becomes a give-up). */
int lguard_before(lua_State *L, struct call *c);
int lguard_resume(lua_State *L, struct call *c);
void lguard_after(lua_State *L, struct call *c);

void lcall_register(lua_State *L);   /* request, uuid */
void ltrace_register(lua_State *L);  /* note_poll */
void lwrap_register(lua_State *L);   /* call, in_wrapper, Policy __call */

#endif
