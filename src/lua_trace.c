/*
 * lua_trace.c - what a run shows of its calls (see lua_call.h): the -v
 * line of an attempt (when, which task, the request with its URL
 * redacted, what came back, how long it took, what the policy decided):
 *
 *   [  0.412] task 1  GET http://h/items  attempt 2  503  12 ms  retry in 0.42 s: 503
 *
 * and the --log records, one JSON object a line, schema "v": 1
 * (docs/reference.md lists the fields):
 *
 *   {"v":1,"event":"attempt","time":...,"elapsed":0.412,"task":1,"call":3,
 *    "attempt":2,"method":"GET","url":"http://h/items","status":503,
 *    "sent":true,"duration":0.012,"decision":"retry","wait":0.42,
 *    "wait_cause":"backoff"}
 *   {"v":1,"event":"call",...,"attempts":2,"outcome":"ok","status":200}
 *
 * (the polls of retryrun.poll, calls like any other, get what ready()
 * made of each in lua_trace_poll.c; hedges and an auth's renewal, in
 * lua_trace_hedge.c).
 *
 * Every output names a call's end alike (summary.h): ok, gave_up,
 * unexpected (expect= raised on the answer the policy took) or to_wrapper
 * (inside a policy(fn) wrapper, a failure whose error the wrapper's
 * attempt failed with is that attempt: -v says "to the wrapper: reset",
 * and only the wrapper gives up). Which one a failure inside a wrapper is
 * is known when the wrapper's attempt ends: lua_trace_pend.c keeps its
 * last lines and records until then.
 *
 * It only makes them; the host's trace and log functions write them. It
 * also hands each attempt and call to the report (--report, report.h).
 * Costs nothing when both are off: the call never gets here.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "chaos.h"
#include "loop.h"
#include "lua_call.h"
#include "lua_giveup.h"
#include "lua_redact.h"
#include "lua_task.h"
#include "report.h"
#include "runtime.h"
#include "summary.h"

#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define RED "\033[31m"
#define PLAIN "\033[0m"

/* Writes what the attempt came back with: "503", "200 invalid", "reset",
 * and a fault --chaos made: "chaos: 503", "chaos: reset". */
void ltrace_outcome_word(const struct call *c, char *w, size_t n)
{
  if(c->chaos == CHAOS_FAIL || c->chaos == CHAOS_RESET) {
    snprintf(w, n, "chaos: ");
    w += strlen("chaos: ");
    n -= strlen("chaos: ");
  }
  if(c->out.cls != POLICY_RESPONSE)
    snprintf(w, n, "%s", policy_class_name(c->out.cls));
  else if(c->out.status)
    snprintf(w, n, "%d%s", c->out.status, c->out.invalid ? " invalid" : "");
  else if(c->giveup_note && strcmp(c->giveup_note, "auth"))
    snprintf(w, n, "%s", c->giveup_note);    /* stopped: no answer */
  else
    snprintf(w, n, "%s", c->bug ? "error" : c->out.invalid ? "invalid" :
             "result");
}

/* 1 when call c's failure is worded as going to its policy(fn) wrapper,
 * which judges it as one of its attempts (c->tw: lua_trace_pend.c keeps
 * both wordings until the wrapper's attempt ends). */
static int in_wrapper(const struct call *c)
{
  return c->tw;
}

/* 1 when the response c accepted is one its expect= refuses: http.lua
 * leaves the list it checks in the request as `expect` (statuses, and
 * classes as "2xx"). A wrapper has no request, and no expect= of its own. */
static int unexpected(lua_State *L, const struct call *c)
{
  int n, i, miss = 0;
  if(c->wrapper || c->out.cls != POLICY_RESPONSE ||
     lua_type(L, S_REQ) != LUA_TTABLE)
    return 0;
  lua_pushliteral(L, "expect");
  if(lua_rawget(L, S_REQ) == LUA_TTABLE) {
    miss = 1;
    n = (int)lua_rawlen(L, -1);
    for(i = 1; miss && i <= n; i++) {
      lua_rawgeti(L, -1, i);
      if(lua_isinteger(L, -1))
        miss = lua_tointeger(L, -1) != c->out.status;
      else if(lua_type(L, -1) == LUA_TSTRING)
        miss = lua_tostring(L, -1)[0] - '0' != c->out.status / 100;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return miss;
}

/* How call c ended on its own (summary.h): what the policy made of it
 * (accepted), then what expect= made of an accepted response. */
static enum summary_outcome call_outcome(lua_State *L, const struct call *c,
                                         int accepted)
{
  return !accepted ? SUMMARY_GAVE_UP :
         unexpected(L, c) ? SUMMARY_UNEXPECTED : SUMMARY_OK;
}

/* 1 when call c, which failed (unexp: expect= refused its answer), raises
 * its error inside a wrapper's function running in its task: that error
 * may go to the wrapper (lua_trace_pend.c waits to know). One that
 * returns nil, err (raise = false), or made in a task the wrapper's
 * function spawned, is no attempt of the wrapper's. */
static int may_go_up(lua_State *L, const struct call *c, int unexp)
{
  return c->task->wrap_depth > 0 &&
         (unexp || c->raise || c->passed_on ||
          (c->giveup_note && !strcmp(c->giveup_note, "auth"))) &&
         lwrap_on_stack(L);
}

static const char *const outcome_names[] = {
  "ok", "gave_up", "unexpected", "to_wrapper"
};

static void decision_giveup(const struct call *c, const char *word, char *d,
                            size_t n);

/* The attempt's decision as --log and the report name it. */
static const char *verdict_name(const struct call *c)
{
  return c->hedge.pending ? "wait" : c->dec.verdict == POLICY_ACCEPT ?
         "accept" : c->dec.verdict == POLICY_RETRY ? "retry" :
         in_wrapper(c) ? "to_wrapper" : "giveup";
}

/* Writes the decision and returns its colour. */
static const char *decision(const struct call *c, const char *word, char *d,
                            size_t n)
{
  const struct policy_decision *dec = &c->dec;
  if(c->hedge.pending) {
    snprintf(d, n, "wait: %d more in flight", c->hedge.n);
    return YELLOW;
  }
  if(dec->verdict == POLICY_ACCEPT) {
    snprintf(d, n, "accept");
    return GREEN;
  }
  if(dec->verdict == POLICY_RETRY) {
    if(dec->retry_after >= 0)
      snprintf(d, n, "retry at Retry-After %g s", dec->retry_after);
    else
      snprintf(d, n, "retry in %.3g s: %s", dec->delay, word);
    return YELLOW;
  }
  if(in_wrapper(c)) {
    /* not a give-up of the run: the wrapper judges it next */
    char why[240];
    decision_giveup(c, word, why, sizeof(why));
    snprintf(d, n, "to the wrapper: %s", !c->giveup_note &&
             (dec->reason == POLICY_EXHAUSTED ||
              dec->reason == POLICY_NOT_RETRYABLE) ? word :
             !strncmp(why, "give up: ", 9) ? why + 9 : why);
    return YELLOW;
  }
  decision_giveup(c, word, d, n);
  return RED;
}

/* Writes the words of a give-up decision: "give up: ...", or "not
 * retried: ..." for the safety rule. */
static void decision_giveup(const struct call *c, const char *word, char *d,
                            size_t n)
{
  const struct policy_decision *dec = &c->dec;
  if(c->giveup_note) {
    snprintf(d, n, "give up: %s", !strcmp(c->giveup_note, "auth") ?
             "the credentials could not be renewed" : c->giveup_note);
    return;
  }
  switch(dec->reason) {
  case POLICY_UNSAFE:
    snprintf(d, n, "not retried: %s may have reached the server",
             c->method);
    break;
  case POLICY_DEADLINE:
    snprintf(d, n, "give up: the deadline of %.3g s", c->pol->deadline);
    break;
  case POLICY_NOT_RETRYABLE:
    snprintf(d, n, "give up: %s is not retried", word);
    break;
  case POLICY_RETRY_AFTER_LONG:
    snprintf(d, n, "give up: Retry-After %g s is over max_retry_after",
             dec->retry_after);
    break;
  case POLICY_RETRY_AFTER_DEADLINE:
    snprintf(d, n, "give up: Retry-After %g s is past the deadline",
             dec->retry_after);
    break;
  case POLICY_BUDGET:
    snprintf(d, n, "give up: the retry budget is spent");
    break;
  default:
    snprintf(d, n, "give up: attempts exhausted");
    break;
  }
}

/* Writes the decision as decision() does, then, for a response valid()
 * refused, the first line of its reason (redacted when it was made):
 * "retry in 0.1 s: 200 invalid (no summary)". Returns the colour. */
static const char *decision_why(lua_State *L, const struct call *c,
                                const char *word, char *d, size_t n)
{
  const char *colour = decision(c, word, d, n);
  size_t len = strlen(d), cut;
  const char *why;
  if(c->dec.verdict == POLICY_ACCEPT && !c->hedge.pending &&
     unexpected(L, c)) {
    snprintf(d + len, n - len, "; expect= refuses %d%s", c->out.status,
             in_wrapper(c) ? ": to the wrapper" : "");
    return YELLOW;
  }
  if(!c->out.invalid || lua_type(L, S_REASON) != LUA_TSTRING)
    return colour;
  why = lua_tostring(L, S_REASON);
  cut = strcspn(why, "\r\n");
  if(cut > 120)
    cut = 120;
  if(cut && len + 4 < n)
    snprintf(d + len, n - len, " (%.*s)", (int)cut, why);
  return colour;
}

void ltrace_head(const struct runtime *rt, const struct task *t, char *h)
{
  const char *step = t ? report_step_name(rt->report ? rt->report :
                                          rt->steps, t->step) : NULL;
  snprintf(h, LTRACE_HEAD, "[%8.3f] task %u%s%s%s  ",
           loop_now() - rt->started, t ? t->id : 0, step ? " [" : "",
           step ? step : "", step ? "]" : "");
}

void ltrace_json_string(luaL_Buffer *b, const char *s)
{
  luaL_addchar(b, '"');
  for(; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if(ch == '"' || ch == '\\') {
      luaL_addchar(b, '\\');
      luaL_addchar(b, (char)ch);
    }
    else if(ch < 0x20) {
      char esc[8];
      snprintf(esc, sizeof(esc), "\\u%04x", ch);
      luaL_addstring(b, esc);
    }
    else
      luaL_addchar(b, (char)ch);
  }
  luaL_addchar(b, '"');
}

/* Adds the fields every record starts with, and the call's request. */
void ltrace_add_head(luaL_Buffer *b, struct call *c, const char *event,
                     const char *what)
{
  const struct runtime *rt = runtime_of(b->L);
  char num[160];
  snprintf(num, sizeof(num), "{\"v\":1,\"event\":\"%s\",\"time\":%.6f,"
           "\"elapsed\":%.6f,\"task\":%u,\"call\":%u,", event, loop_wall(),
           loop_now() - rt->started, c->task->id, c->id);
  luaL_addstring(b, num);
  if(loop_clock_is_fake())
    luaL_addstring(b, "\"clock\":\"fake\",");
  if(c->method[0]) {
    luaL_addstring(b, "\"method\":");
    ltrace_json_string(b, c->method);
    luaL_addchar(b, ',');
  }
  luaL_addstring(b, c->wrapper ? "\"function\":" : "\"url\":");
  ltrace_json_string(b, c->wrapper ? what + strlen("function at ") : what +
                  strcspn(what, " ") + 1);
  if(c->policy_name) {
    char pname[512];
    luaL_addstring(b, ",\"policy\":");
    ltrace_json_string(b, lredact_str(b->L, c->policy_name, S_REQ, pname,
                                      sizeof(pname)));
  }
}

/* Adds what the last attempt came back with. */
void ltrace_add_outcome(luaL_Buffer *b, const struct call *c)
{
  char num[64];
  if(c->out.cls != POLICY_RESPONSE) {
    luaL_addstring(b, ",\"error\":");
    ltrace_json_string(b, policy_class_name(c->out.cls));
  }
  else if(c->out.status) {
    snprintf(num, sizeof(num), ",\"status\":%d", c->out.status);
    luaL_addstring(b, num);
  }
  else if(c->giveup_note && strcmp(c->giveup_note, "auth")) {
    luaL_addstring(b, ",\"error\":");        /* stopped: no answer */
    ltrace_json_string(b, c->giveup_note);
  }
}

/* The summary's endpoint of the call whose "what" is given. */
void ltrace_endpoint_key(const struct call *c, const char *what, char *key,
                         size_t n)
{
  if(c->wrapper)
    snprintf(key, n, "%s", what);
  else
    summary_endpoint_key(c->method, what + strcspn(what, " ") + 1, key, n);
}

/* Pushes the attempt's --log record. */
static void log_attempt(lua_State *L, struct call *c, double duration,
                        const char *what)
{
  const struct policy_decision *d = &c->dec;
  luaL_Buffer b;
  char num[160];
  luaL_buffinit(L, &b);
  ltrace_add_head(&b, c, "attempt", what);
  snprintf(num, sizeof(num), ",\"attempt\":%d%s", c->judged,
           c->hedge.hedge ? ",\"hedge\":true" : "");
  luaL_addstring(&b, num);
  ltrace_add_outcome(&b, c);
  snprintf(num, sizeof(num), ",\"sent\":%s,\"invalid\":%s,"
           "\"duration\":%.6f,\"decision\":\"%s\"",
           c->out.sent ? "true" : "false", c->out.invalid ? "true" : "false",
           duration, verdict_name(c));
  luaL_addstring(&b, num);
  if(c->chaos) {
    luaL_addstring(&b, ",\"chaos\":");
    ltrace_json_string(&b, chaos_fault_name(c->chaos));
  }
  if(c->rate_wait > 0) {
    snprintf(num, sizeof(num), ",\"rate_wait\":%.6f", c->rate_wait);
    luaL_addstring(&b, num);
  }
  if(c->hedge.pending)
    ;                                  /* others of the attempt in flight */
  else if(d->verdict == POLICY_RETRY) {
    snprintf(num, sizeof(num), ",\"wait\":%.6f,\"wait_cause\":\"%s\"",
             d->delay, d->retry_after >= 0 ? "retry_after" : "backoff");
    luaL_addstring(&b, num);
  }
  else if(d->verdict == POLICY_GIVEUP) {
    luaL_addstring(&b, ",\"reason\":");
    ltrace_json_string(&b, lgiveup_reason(d, c->giveup_note));
  }
  luaL_addchar(&b, '}');
  luaL_pushresult(&b);
}

/* The attempt, for the report (--report): attributed to the task's
 * innermost step when the call makes its first attempt. */
static void report_attempt_of(lua_State *L, const struct call *c,
                              double duration, const char *word,
                              const char *what)
{
  struct runtime *rt = runtime_of(L);
  const struct policy_decision *d = &c->dec;
  char dec[300];
  struct report_attempt_in a;
  decision_why(L, c, word, dec, sizeof(dec));
  memset(&a, 0, sizeof(a));
  a.call = c->id;
  a.task = c->task->id;
  a.step = c->task->step;
  a.method = c->method;
  a.what = what;
  a.cls = c->out.cls != POLICY_RESPONSE ? policy_class_name(c->out.cls) : "";
  a.status = c->out.cls == POLICY_RESPONSE ? c->out.status : 0;
  a.word = word;
  a.attempt = c->judged;
  a.hedge = c->hedge.hedge;
  a.duration = duration;
  a.verdict = verdict_name(c);
  a.decision = dec;
  if(d->verdict == POLICY_RETRY && !c->hedge.pending) {
    a.wait = d->delay;
    a.wait_cause = d->retry_after >= 0 ? "retry_after" : "backoff";
  }
  report_attempt(rt->report, &a);
}

/* Pushes the attempt's -v line. */
static void push_line(lua_State *L, struct call *c, double duration,
                      const char *word, const char *what)
{
  struct runtime *rt = runtime_of(L);
  char dec[300], head[LTRACE_HEAD], note[96] = "", pname[512];
  const char *colour = decision_why(L, c, word, dec, sizeof(dec));
  ltrace_head(rt, c->task, head);
  if(c->chaos == CHAOS_LATENCY)
    snprintf(note, sizeof(note), " (chaos: +%.0f ms)",
             rt->chaos->latency * 1000);
  if(c->rate_wait > 0)
    snprintf(note + strlen(note), sizeof(note) - strlen(note),
             "  after %.3f s for the rate limit", c->rate_wait);
  lua_pushfstring(L, "%s%s%s%s%s  attempt %d%s  %s  %d ms%s  %s%s%s", head,
                  what, c->policy_name ? "  [policy " : "",
                  c->policy_name ? lredact_str(L, c->policy_name, S_REQ,
                                     pname, sizeof(pname)) : "",
                  c->policy_name ? "]" : "", c->judged,
                  c->hedge.hedge ? " (hedge)" : "", word,
                  (int)(duration * 1000 + 0.5), note,
                  rt->color ? colour : "", dec, rt->color ? PLAIN : "");
}

/* Hands the line or record on top (popped) to -v (kind 'T') or --log
 * ('L'), or to the entry at e (not 0) of a call whose end waits, in
 * wording w. */
static void put(lua_State *L, int e, int w, char kind)
{
  struct runtime *rt = runtime_of(L);
  if(e)
    lpend_add(L, e, w, kind);
  else {
    if(kind == 'L')
      rt->log(rt->log_ud, lua_tostring(L, -1));
    else
      rt->trace(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

void ltrace_attempt(lua_State *L, struct call *c, double duration)
{
  struct runtime *rt = runtime_of(L);
  char word[48];
  const char *what;
  int top = lua_gettop(L), e = 0, w;
  int unexp = c->dec.verdict == POLICY_ACCEPT && !c->hedge.pending &&
              unexpected(L, c);

  /* a call's last attempt, when its error may go to its wrapper: in
   * both wordings, until the wrapper's attempt ends */
  if(!c->hedge.pending && (unexp || c->dec.verdict == POLICY_GIVEUP) &&
     may_go_up(L, c, unexp)) {
    lpend_push(L, c);
    e = top + 1;
  }
  c->tw = 0;
  lcall_push_what(L, c);               /* redacted */
  what = lua_tostring(L, -1);
  ltrace_outcome_word(c, word, sizeof(word));
  for(w = 0; rt->log && w <= (e != 0); w++) {
    c->tw = w;
    log_attempt(L, c, duration, what);
    put(L, e, w, 'L');
  }
  c->tw = 0;
  if(rt->summary) {
    char key[256];
    int retry = c->dec.verdict == POLICY_RETRY && !c->hedge.pending;
    ltrace_endpoint_key(c, what, key, sizeof(key));
    /* a retry counts when it goes, as this attempt: one stopped after
     * its backoff (an open breaker, a cool-down, a cancel) is none */
    summary_attempt(rt->summary, key, c->retry_why, duration,
                    retry ? c->dec.delay : 0);
    snprintf(c->retry_why, sizeof(c->retry_why), "%s", retry ? word : "");
  }
  if(rt->report) {
    report_attempt_of(L, c, duration, word, what);
    if(e) {                        /* the wrapper wording, for later */
      char dec[300];
      c->tw = 1;
      decision_why(L, c, word, dec, sizeof(dec));
      lua_pushstring(L, verdict_name(c));
      lua_setfield(L, e, "verdict");
      c->tw = 0;
      lua_pushstring(L, dec);
      lua_setfield(L, e, "decision");
      lua_pushinteger(L, c->judged);
      lua_setfield(L, e, "attempt");
    }
  }
  if(rt->trace) {
    for(w = 0; w <= (e != 0); w++) {
      c->tw = w;
      push_line(L, c, duration, word, what);
      put(L, e, w, 'T');
    }
    c->tw = 0;
    if(rt->wire && e)
      lpend_wire(L, e);
    else if(rt->wire)
      lwire_trace(L);
  }
  lua_settop(L, top);
  if(rt->progress) {
    rt->retries += c->dec.verdict == POLICY_RETRY && !c->hedge.pending;
    rt->progress(rt);
  }
}

/* Pushes the call's --log record, ended as outcome. */
static void log_call(lua_State *L, struct call *c, const char *what,
                     enum summary_outcome outcome, const char *reason,
                     double duration)
{
  luaL_Buffer b;
  char num[160];
  luaL_buffinit(L, &b);
  ltrace_add_head(&b, c, "call", what);
  snprintf(num, sizeof(num), ",\"attempts\":%d,\"outcome\":\"%s\"",
           c->pc.attempt, outcome_names[outcome]);
  luaL_addstring(&b, num);
  if(reason) {
    luaL_addstring(&b, ",\"reason\":");
    ltrace_json_string(&b, reason);
  }
  ltrace_add_outcome(&b, c);
  if(c->hedge.sent) {
    snprintf(num, sizeof(num), ",\"hedges\":%d,\"hedge_won\":%s,"
             "\"cancelled\":%d", c->hedge.sent,
             c->hedge.won ? "true" : "false", c->hedge.cancelled);
    luaL_addstring(&b, num);
  }
  else if(c->hedge.skipped) {
    luaL_addstring(&b, ",\"hedge_skipped\":");
    ltrace_json_string(&b, c->hedge.skipped);
  }
  snprintf(num, sizeof(num), ",\"duration\":%.6f}", duration);
  luaL_addstring(&b, num);
  luaL_pushresult(&b);
}

void ltrace_call(lua_State *L, struct call *c, int accepted)
{
  struct runtime *rt = runtime_of(L);
  char pname[512];
  int top = lua_gettop(L), e = 0, w;
  enum summary_outcome outcome = call_outcome(L, c, accepted);
  const char *reason = accepted ? NULL :
                       lgiveup_reason(&c->dec, c->giveup_note);
  double duration = loop_now() - c->pc.started;
  /* hedged copies are no retries: a call its first attempt ended
   * without a hedge's win is ok first time */
  int attempts = c->hedge.won ? c->pc.attempt :
                 c->pc.attempt - c->hedge.sent;

  if(outcome != SUMMARY_OK &&
     may_go_up(L, c, outcome == SUMMARY_UNEXPECTED)) {
    /* what the error raised is known by: expect='s carries the
     * Response; a session's auth raises its message (on top) */
    int k = outcome == SUMMARY_UNEXPECTED ? S_RESP : c->passed_on ? S_RES :
            c->giveup_note && !strcmp(c->giveup_note, "auth") ? top :
            S_REASON;
    lpend_push(L, c);
    e = top + 1;
    lua_pushvalue(L, k);
    lua_setfield(L, e, "key");
    lua_pushinteger(L, outcome);
    lua_setfield(L, e, "outcome");
    lua_pushinteger(L, attempts);
    lua_setfield(L, e, "attempts");
    lua_pushnumber(L, duration);
    lua_setfield(L, e, "duration");
    lua_pushstring(L, reason);
    lua_setfield(L, e, "reason");
    lua_pushstring(L, c->policy_name ? lredact_str(L, c->policy_name, S_REQ,
                                       pname, sizeof(pname)) : NULL);
    lua_setfield(L, e, "policy");
  }
  else {
    if(rt->progress) {
      rt->done_calls++;
      rt->giveups += outcome == SUMMARY_GAVE_UP;
      rt->progress(rt);
    }
    if(rt->report)
      report_call(rt->report, c->id, outcome_names[outcome], reason,
                  duration, c->policy_name ? lredact_str(L, c->policy_name,
                  S_REQ, pname, sizeof(pname)) : NULL);
  }
  lcall_push_what(L, c);
  if(rt->summary) {
    char key[256];
    ltrace_endpoint_key(c, lua_tostring(L, -1), key, sizeof(key));
    if(e) {
      lua_pushstring(L, key);
      lua_setfield(L, e, "endpoint");
    }
    else
      summary_call(rt->summary, key, outcome, attempts, duration);
    if(c->hedge.sent)
      summary_hedges(rt->summary, key, c->hedge.sent, c->hedge.won,
                     c->hedge.cancelled);
  }
  for(w = 0; rt->log && w <= (e != 0); w++) {
    log_call(L, c, lua_tostring(L, e ? e + 1 : top + 1),
             w ? SUMMARY_TO_WRAPPER : outcome, reason, duration);
    put(L, e, w, 'L');
  }
  lua_settop(L, top);
}
