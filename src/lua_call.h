/*
 * lua_call.h - one logical call, attempted under a policy: the state the
 * call's steps share, for the files that make them.
 *
 *   lua_call.c     the Call, core.request, and the steps: before_attempt,
 *                  the attempt, the hooks, on_retry's wait (lcall_k)
 *   lua_decide.c   each attempt's end: valid(), the decision, the
 *                  attempts list, accept, give-up and on_giveup
 *   lua_attempt.c  one attempt on the wire: the request table in, an
 *                  outcome (a Response or a failure) out, redirects
 *                  followed
 *   lua_wrap.c     policy(fn): an attempt runs a function; core.call
 *   lua_hedge.c    hedged attempts: more than one in flight at once
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
 *   S_KEYS the interned keys and metatables (luax_keys), looked up once
 * Every step starts from lua_settop(L, S_TOP) and leaves nothing above it
 * when it suspends.
 */
#ifndef RETRYRUN_LUA_CALL_H
#define RETRYRUN_LUA_CALL_H

#include <lauxlib.h>
#include <lua.h>

#include "guard.h"
#include "lua_policy.h"
#include "policy.h"
#include "report.h"
#include "luax.h"

struct task;
struct transfer;

/* One attempt of the round in flight. */
struct lhedge_flight {
  struct transfer *tr;        /* owned, on the loop until it ends */
  int attempt;                /* its number in the call */
  double started;
  double cost;                /* what the budget charged for it */
  double rate_wait;           /* its wait for a rate limit */
  int chaos;                  /* its enum chaos_fault */
};

/* A call's hedging state, in its struct call (zeroed by lcall_new: no
 * hedging). */
struct lhedge {
  double delay;               /* 0: the call is not hedged */
  int max;                    /* attempts in flight at once */
  const char *skipped;        /* why the policy's hedge is not used, or
                                 NULL (a static string) */
  struct lhedge_flight *fl;   /* the round in flight: LPOLICY_HEDGE_MAX
                                 entries, the Call's user value 4, made
                                 only for a hedged call (most are not:
                                 the Call stays small) */
  int n;                      /* entries of fl */
  int round;                  /* the number of the round's first attempt */
  double round_started;
  double next_at;             /* when the next hedge goes; 0: none */
  int hedge;                  /* the outcome judged now is a hedge's */
  int pending;                /* ... and others are still in flight, so it
                                 does not end the call */
  int sent, won, cancelled;   /* hedges sent, 1 when one won, attempts
                                 cancelled */
  int latent;                 /* the next hedge passed the guards and
                                 waits out a chaos latency */
  double latent_since, latent_cost;
  const char *held;           /* why the round's next hedge is not sent
                                 (static), for -v */
};

enum {
  S_REQ = 1, S_POL, S_CALL, S_ATT, S_TB, S_RESP, S_REASON, S_FN, S_ARGS,
  S_RES, S_KEYS, S_TOP = S_KEYS
};

/* Where lcall_k resumes. */
enum lcall_step {
  K_BEFORE = 1, K_SLOT, K_TRANSFER, K_FN, K_VALID, K_ON_RETRY, K_WAIT,
  K_GIVEUP, K_GATE, K_REFRESH, K_GUARD, K_HEDGE
};

struct call {
  const struct policy *pol;   /* the Policy's at S_POL; inside another
                                 call's hook, a copy with a sooner
                                 deadline, in the Call's user value 2 */
  struct policy_call pc;
  struct policy_outcome out;
  struct policy_decision dec;
  struct transfer *tr;        /* the attempt in flight, owned */
  struct lhedge hedge;        /* a hedged attempt's others in flight */
  int judged;                 /* the number of the attempt being judged:
                                 pc.attempt, or a hedged one's */
  struct task *task;
  enum lcall_step k;
  unsigned id;                /* 1 for the run's first call, and so on */
  int wrapper;                /* core.call: attempts run a function */
  int inner_error;            /* the function raised a give-up error, kept
                                 in S_RES */
  int passed_on;              /* ... that this policy does not retry, or
                                 another error (bug): it goes on as it is */
  int bug;                    /* the function raised an error that is no
                                 give-up and no expect= error */
  int tw;                     /* lua_trace.c words its failure as going to
                                 its wrapper (set for each wording) */
  int raise;
  int has_valid, has_before, has_on_retry, has_on_giveup;
  int has_refresh;            /* req.refresh: a session's auth */
  int refreshed;              /* it renewed the credentials: once a call */
  size_t max_body;
  int insecure;
  /* request fields (bit 1u << their luax_key) known to be absent: those
   * of a table core.plain_call built and no Lua code has been given since
   * (lcall_req_get); 0, read them all, once a hook has it */
  unsigned req_absent;
  const char *url;            /* that table's url (its string holds it),
                                 read while req_absent is set: lcall_url */
  char method[16];
  const char *policy_name;    /* the Policy's name (lpolicy), or NULL */
  /* redirects of the attempt in flight: the hop's URL is the Call's user
   * value 1 */
  int hops;                   /* redirects followed */
  int redirected;             /* some attempt followed one: user value 1
                                 is set */
  int hop_get;                /* a 303 (or a 301/302 after POST) made it a
                                 GET: no body, no Content-Type */
  int hop_cross;              /* it left the request's origin: no
                                 credentials */
  char hop_method[16];        /* the method of the next hop */
  char retry_after[96];       /* copy of the last Retry-After value */
  char retry_why[48];         /* the reason of the retry decided last,
                                 for the summary when it goes; "" */
  const char *giveup_note;    /* "interrupted", "cancelled", "auth" (the
                                 credentials could not be renewed), or
                                 NULL */
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
                                 passed, 3: a chaos latency takes all
                                 the time the attempt has */
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
  struct guard_state *paid;   /* the state that charged it */
};

/* The req_absent of a request table holding a method and a url alone:
 * the one shape of table a call that returns leaves for the next plain
 * call to fill again (luax.h's LUAX_K_SPARE_REQ). */
#define CALL_REQ_BARE (~((1u << LUAX_K_METHOD) | (1u << LUAX_K_URL)))

/* As luax_getkey of request field k (a luax_key), or nil at once when
 * the request cannot hold it (c->req_absent); returns the type. */
static inline int lcall_req_get(lua_State *L, const struct call *c, int k)
{
  if(c->req_absent & (1u << k)) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  return luax_getkey(L, S_REQ, S_KEYS, k);
}

/* lua_settop(L, S_TOP), with no call when the stack is there already,
 * as it usually is on a step's way in. */
static inline void lcall_top(lua_State *L)
{
  if(lua_gettop(L) != S_TOP)
    lua_settop(L, S_TOP);
}

/* The request's url without reading the table, when no Lua code has had
 * it since core.plain_call built it (so it still holds the string c->url
 * points into); else NULL. */
static inline const char *lcall_url(const struct call *c)
{
  return c->req_absent ? c->url : NULL;
}

/* The continuation of every step; ctx is the call (the Call at S_CALL,
 * which keeps it alive), or 0 to find it there. */
int lcall_k(lua_State *L, int status, lua_KContext ctx);

/* Makes the Call for the stack laid out above (S_REQ and S_POL, or S_POL,
 * S_FN and S_ARGS, in place), raising at the script's line when no call
 * can start here. */
struct call *lcall_new(lua_State *L, int wrapper);

/* core.request of a plain call (lua_plain.c), from the point where its
 * checks have passed: the stack holds only the request table, which
 * core.plain_call built and checked, holding none of the fields in
 * absent (bits 1u << luax_key), and a Policy; method and url are its
 * method (one of policy_method_idempotent's) and url, strings the table
 * holds; keys the index of the interned keys' table. Returns or suspends
 * as core.request does. */
int lcall_plain(lua_State *L, const char *method, const char *url, int keys,
                unsigned absent);

/* Releases the transfer in flight, and a hedged attempt's others, taking
 * each off the loop first. Idempotent. */
void lcall_close(struct call *c);

/* Leaves the Call at S_CALL of the call that is returning for the next
 * lcall_new to reuse, when it holds nothing (lua_call.c says when). The
 * call must not touch it after this. */
void lcall_spare(lua_State *L, struct call *c);

/* Calls the hook (or predicate) below its nargs arguments for step c->k,
 * coming back through lcall_k, the task carrying the call's deadline. */
int lcall_hook(lua_State *L, struct call *c, int nargs, int nres);

/* After a hook: 1 when the time it had is over. */
int lcall_out_of_time(const struct call *c);

/* The steps other files start. */
int lcall_before_attempt(lua_State *L, struct call *c);
/* Makes the attempt counted (after before_attempt). */
int lcall_attempt(lua_State *L, struct call *c);

/* lua_decide.c: the end of each attempt and of the call. */
int lcall_check_valid(lua_State *L, struct call *c, int value_idx);
/* Step K_VALID: what valid() returned or raised (status). */
int lcall_valid_done(lua_State *L, struct call *c, int status);
int lcall_decide(lua_State *L, struct call *c);
int lcall_cancelled(lua_State *L, struct call *c);
int lcall_no_time_left(lua_State *L, struct call *c);
/* Gives up for reason before the attempt counted was made. */
int lcall_refuse(lua_State *L, struct call *c, enum policy_reason reason);
/* Gives up because a hook ran past the call's deadline, after the
 * attempt that is recorded (or, from valid(), about to be). */
int lcall_past_deadline(lua_State *L, struct call *c);
/* Step K_GIVEUP, after on_giveup (if any): raises the GiveUp at S_REASON,
 * or returns nil and it (raise = false). */
int lcall_finish_giveup(lua_State *L, struct call *c);

/* Pushes "GET url" (redacted) or "function at file:line" for messages. */
void lcall_push_what(lua_State *L, struct call *c);

/* lua_attempt.c: reads the request's per-attempt fields; sends the
 * attempt (or waits for a transfer slot); turns its transfer into an
 * outcome. */
void lattempt_fields(lua_State *L, struct call *c);
int lattempt_send(lua_State *L, struct call *c);
int lattempt_start(lua_State *L, struct call *c, double timeout, int hedge,
                   double now, struct transfer **out);
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
/* Ends the attempt judged now with the fault c->chaos (fail or reset) as
 * if the network had; judges it. */
int lgate_inject(lua_State *L, struct call *c);
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
/* lua_trace_pend.c: the last -v lines and --log records of a call that
 * failed inside a wrapper, and its counts, wait until the wrapper's
 * attempt ends, in two wordings: left to the wrapper when the attempt
 * failed with its error, else its own. lpend_push pushes call c's entry
 * (made if new); lpend_add adds the string on top (popped) to the entry
 * at e as a --log record (kind 'L') or -v line ('T') of one wording (wrap
 * 1 or 0, or both: -1); lpend_wire adds the -vv lines of the attempt
 * (lwire_trace's) to both. lpend_resolve, at the end of an attempt of the
 * wrapper at depth in task t (err: the index of what it raised, or 0),
 * writes and counts the entries of the calls made in it. */
void lpend_push(lua_State *L, const struct call *c);
void lpend_add(lua_State *L, int e, int wrap, char kind);
void lpend_wire(lua_State *L, int e);
void lpend_resolve(lua_State *L, const struct task *t, int depth, int err);
/* lua_wrap.c: 1 when a policy(fn) wrapper's function is running on L
 * (its error would go to that wrapper, unless caught on the way). */
int lwrap_on_stack(lua_State *L);
/* lua_wire.c, -vv: keeps the header lines the transfer tr sent and
 * received (if it kept any) in the Call at S_CALL, for the attempt's -v
 * line; prints those kept, redacted, after it. */
void lwire_keep(lua_State *L, const struct transfer *tr);
void lwire_trace(lua_State *L);

/* Writes the start of a -v line into h (LTRACE_HEAD bytes): "[   0.412]
 * task 3  ", with the path of the task's run.step (t may be NULL) in
 * brackets when it is in one: "task 3 [load / item 2]  ". */
#define LTRACE_HEAD (STEP_PATH_MAX + 64)
struct runtime;
void ltrace_head(const struct runtime *rt, const struct task *t, char *h);
/* Adds s to b as a JSON string, for a --log record. */
void ltrace_json_string(luaL_Buffer *b, const char *s);
/* Adds the fields every --log record starts with, and the call's request
 * (what: lcall_push_what's); what its last attempt came back with. */
void ltrace_add_head(luaL_Buffer *b, struct call *c, const char *event,
                     const char *what);
void ltrace_add_outcome(luaL_Buffer *b, const struct call *c);
/* Writes what the attempt came back with: "503", "200 invalid", "reset",
 * "chaos: 503". */
void ltrace_outcome_word(const struct call *c, char *w, size_t n);
/* Writes the summary's endpoint of call c (what: lcall_push_what's). */
void ltrace_endpoint_key(const struct call *c, const char *what, char *key,
                         size_t n);
/* The same for hedging: a hedge sent (attempt, duration: since the
 * attempt it hedges started), an attempt in flight cancelled (cancelled:
 * how long it ran), or (attempt 0) why the call is not hedged. */
void ltrace_hedge(lua_State *L, struct call *c, int attempt, int cancelled,
                  double duration);

/* lua_hedge.c: hedged attempts (its opening comment has the rules).
 * lhedge_init reads the Policy's hedge for a call of c->method
 * (c->pc.idempotent and has_key set): c->hedge.delay stays 0 when the
 * call is not to be hedged, and -v says why when the policy asked. */
void lhedge_init(lua_State *L, struct call *c, const struct lpolicy *p);

/* 1 when the attempt just started (c->tr, waited on) is to be hedged: the
 * call hedges, it is not a redirect hop nor the breaker's probe, attempts
 * are left. */
int lhedge_wanted(const struct call *c);

/* Takes over the attempt just started: waits for it, or its hedges, or
 * the time to send the next hedge. Suspends the task (step K_HEDGE). */
int lhedge_wait(lua_State *L, struct call *c);

/* Step K_HEDGE: judges the first transfer of the round to end (through
 * lattempt_done), sends a hedge when its time came, or waits again. */
int lhedge_k(lua_State *L, struct call *c);

/* After an outcome recorded as pending (c->hedge.pending): waits for the
 * rest of the round. */
int lhedge_resume(lua_State *L, struct call *c);

/* Cancels the attempts of the round still in flight, recording each as
 * cancelled (attempts list, -v, --log, summary). Stack balanced. */
void lhedge_cancel_rest(lua_State *L, struct call *c);

/* req.refresh renewed the credentials after the attempt judged now: the
 * copies still in flight (they carry the old ones) are cancelled, and the
 * numbers are set for the attempt made again (lua_hedge.c). */
void lhedge_renewed(lua_State *L, struct call *c);

/* Takes every transfer of the round off the loop and releases it, with
 * no record: for a call that raises. Idempotent; no Lua. */
void lhedge_drop(struct call *c);

/* lua_guard.c: before an attempt (now: the clock as lcall_attempt read
 * it), the host's cool-down and breaker:
 * -1 to go on, else it waits (back at K_GUARD, lguard_resume) or gives
 * up, and returns what the C function returns. After the decision, the
 * outcome is noted and a retry paid from the budget (or refused: the
 * decision becomes a give-up). */
int lguard_before(lua_State *L, struct call *c, double now);
int lguard_resume(lua_State *L, struct call *c);
void lguard_after(lua_State *L, struct call *c);   /* at c->pc.now */
/* A call cancelled while its attempt was the breaker's probe: the next
 * call to the host is the probe, and those waiting for this one wake. */
void lguard_cancelled(lua_State *L, struct call *c);
/* A retry that was paid for and is not sent: its cost goes back. */
void lguard_unsent(struct call *c);

void lcall_register(lua_State *L);   /* request, uuid */
void ltrace_register(lua_State *L);  /* note_poll */
void lwrap_register(lua_State *L);   /* call, in_wrapper, Policy __call */

/* Makes the attempts list in S_ATT, unless it is there: only a retry,
 * a give-up or a hedge's copy needs one, so a call accepted at its first
 * attempt makes none. */
void lcall_attempts_list(lua_State *L);

/* The call's own copy of its policy (user value 2 of the Call at S_CALL),
 * made at the first call, for what changes for one call alone: a sooner
 * deadline inside another call's hook, an attempt given back after a
 * hedged token renewal. */
struct policy *lcall_own_policy(lua_State *L, struct call *c);

#endif
