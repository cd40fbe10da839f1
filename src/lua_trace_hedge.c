/*
 * lua_trace_hedge.c - the -v lines and --log records of what a call does
 * besides its attempts (see lua_trace.c): its hedges (sent, held, not
 * used, a copy cancelled) and a session's auth sending an attempt again
 * with renewed credentials: a line and a record of its own (decision
 * "renew"), not one of the policy's attempts, so the summary does not
 * count it.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_call.h"
#include "lua_task.h"
#include "report.h"
#include "runtime.h"
#include "summary.h"

#define YELLOW "\033[33m"
#define PLAIN "\033[0m"

/* -v: "hedge 2 after 0.05 s", "attempt 1  cancelled  61 ms", or (attempt
 * 0) "not hedged: ..."; --log: a cancelled attempt's record; the
 * summary: a cancelled attempt. */
void ltrace_hedge(lua_State *L, struct call *c, int attempt, int cancelled,
                  double duration)
{
  struct runtime *rt = runtime_of(L);
  const char *hedge = attempt != c->hedge.round ? " (hedge)" : "";
  const char *why = c->giveup_note ? c->giveup_note : "cancelled";
  char head[LTRACE_HEAD];
  int top = lua_gettop(L);

  lcall_push_what(L, c);                 /* redacted */
  if(cancelled && rt->log) {
    luaL_Buffer b;
    char num[160];
    luaL_buffinit(L, &b);
    ltrace_add_head(&b, c, "attempt", lua_tostring(L, top + 1));
    snprintf(num, sizeof(num), ",\"attempt\":%d%s,\"error\":\"%s\","
             "\"sent\":true,\"invalid\":false,\"duration\":%.6f,"
             "\"decision\":\"cancelled\"}", attempt,
             *hedge ? ",\"hedge\":true" : "", why, duration);
    luaL_addstring(&b, num);
    luaL_pushresult(&b);
    rt->log(rt->log_ud, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  if(cancelled && rt->summary) {
    char key[256];
    ltrace_endpoint_key(c, lua_tostring(L, top + 1), key, sizeof(key));
    summary_attempt(rt->summary, key, "", duration, 0);
  }
  if(cancelled && rt->report) {
    struct report_attempt_in a;
    memset(&a, 0, sizeof(a));
    a.call = c->id;
    a.task = c->task->id;
    a.step = c->task->step;
    a.method = c->method;
    a.what = lua_tostring(L, top + 1);
    a.cls = why;
    a.word = why;
    a.attempt = attempt;
    a.hedge = *hedge != '\0';
    a.duration = duration;
    a.verdict = "cancelled";
    a.decision = "cancelled: another copy of the attempt was taken, or the "
                 "call ended";
    report_attempt(rt->report, &a);
  }
  if(rt->trace) {
    ltrace_head(rt, c->task, head);
    if(attempt < 0)
      lua_pushfstring(L, "%s%s  hedge not sent: %s", head,
                      lua_tostring(L, top + 1), c->hedge.held);
    else if(!attempt)
      lua_pushfstring(L, "%s%s  not hedged: %s", head,
                      lua_tostring(L, top + 1), c->hedge.skipped);
    else if(!cancelled) {
      char after[32];
      snprintf(after, sizeof(after), "%.3g", duration);
      lua_pushfstring(L, "%s%s  hedge %d after %s s", head,
                      lua_tostring(L, top + 1), attempt, after);
    }
    else
      lua_pushfstring(L, "%s%s  attempt %d%s  %s  %d ms", head,
                      lua_tostring(L, top + 1), attempt, hedge, why,
                      (int)(duration * 1000 + 0.5));
    rt->trace(lua_tostring(L, -1));
    if(cancelled && rt->wire)
      lwire_trace(L);
  }
  lua_settop(L, top);
}

void ltrace_renew(lua_State *L, struct call *c, double duration)
{
  struct runtime *rt = runtime_of(L);
  char word[48], num[192];
  int top = lua_gettop(L);

  lcall_push_what(L, c);               /* redacted */
  ltrace_outcome_word(c, word, sizeof(word));
  if(rt->log) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    ltrace_add_head(&b, c, "attempt", lua_tostring(L, top + 1));
    snprintf(num, sizeof(num), ",\"attempt\":%d%s", c->judged,
             c->hedge.hedge ? ",\"hedge\":true" : "");
    luaL_addstring(&b, num);
    ltrace_add_outcome(&b, c);
    snprintf(num, sizeof(num), ",\"sent\":true,\"invalid\":false,"
             "\"duration\":%.6f,\"decision\":\"renew\"}", duration);
    luaL_addstring(&b, num);
    luaL_pushresult(&b);
    rt->log(rt->log_ud, lua_tostring(L, -1));
  }
  if(rt->trace) {
    char head[LTRACE_HEAD];
    ltrace_head(rt, c->task, head);
    lua_pushfstring(L, "%s%s  attempt %d%s  %s  %d ms  %srenewed the "
                    "credentials: sent again%s", head, lua_tostring(L, top + 1),
                    c->judged, c->hedge.hedge ? " (hedge)" : "", word,
                    (int)(duration * 1000 + 0.5), rt->color ? YELLOW : "",
                    rt->color ? PLAIN : "");
    rt->trace(lua_tostring(L, -1));
    if(rt->wire)
      lwire_trace(L);
  }
  lua_settop(L, top);
}
