/*
 * lua_trace_poll.c - core.note_poll: what ready() made of each poll of
 * retryrun.poll (a poll is a call like any other, traced by lua_trace.c):
 * a -v line, a "poll" --log record, the summary's poll counts and the
 * progress line's. A poll is never a retry.
 *
 * Costs nothing when nothing observes the run.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "loop.h"
#include "lua_call.h"
#include "lua_redact.h"
#include "lua_task.h"
#include "runtime.h"
#include "summary.h"

#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define RED "\033[31m"
#define PLAIN "\033[0m"

/* Writes the words of a poll's outcome in a -v line into w (n bytes),
 * the script's note cut to fit and its control characters shown as '?'
 * (no escape sequence of a server's reaches the terminal); returns their
 * colour. */
static const char *poll_words(const char *outcome, double wait,
                              const char *note, char *w, size_t n)
{
  const char *colour = RED;
  char *p;
  if(!strcmp(outcome, "ready")) {
    snprintf(w, n, "ready");
    colour = GREEN;
  }
  else if(!strcmp(outcome, "not_ready")) {
    snprintf(w, n, "not ready%s%s%s, next in %.3g s", note ? " (" : "",
             note ? note : "", note ? ")" : "", wait);
    colour = YELLOW;
  }
  else if(!strcmp(outcome, "stopped"))
    snprintf(w, n, "stopped: %s", note ? note : "");
  else if(!strcmp(outcome, "deadline"))
    snprintf(w, n, "not ready; give up: the deadline");
  else
    snprintf(w, n, "give up: ready() raised");
  for(p = w; *p; p++)
    if((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
  return colour;
}

/* core.note_poll(resp, n, outcome [, wait [, note [, req]]]): what poll n
 * of an http.poll came to, for -v, --log, the summary and the progress
 * line: outcome "ready", "not_ready" (wait: the seconds before the next),
 * "stopped" (note: ready's reason, redacted), "deadline" or "error"; req
 * ({url=, headers=, body=}) has the secrets its URL is redacted with. The
 * poll's call was recorded as any call; this adds that it was a poll. */
static int lcore_note_poll(lua_State *L)
{
  struct runtime *rt = runtime_of(L);
  struct task *t = task_current(L);
  lua_Integer n = luaL_checkinteger(L, 2);
  const char *outcome = luaL_checkstring(L, 3);
  double wait = luaL_optnumber(L, 4, 0);
  const char *note = luaL_optstring(L, 5, NULL), *method, *url;
  int status, not_ready = !strcmp(outcome, "not_ready") ||
                          !strcmp(outcome, "deadline");
  char line[192];
  luaL_checktype(L, 1, LUA_TTABLE);
  if(!runtime_observed(rt))
    return 0;
  lua_settop(L, 6);
  lua_getfield(L, 1, "method");
  method = lua_isstring(L, -1) ? lua_tostring(L, -1) : "?";
  lua_getfield(L, 1, "url");
  lredact_push_url(L, lua_isstring(L, -1) ? lua_tostring(L, -1) : "?",
                   lua_istable(L, 6) ? 6 : 0);    /* req: its secrets */
  url = lua_tostring(L, -1);                        /* index 9 */
  lua_getfield(L, 1, "status");
  status = (int)lua_tointeger(L, -1);
  if(rt->summary) {
    char key[256];
    summary_endpoint_key(method, url, key, sizeof(key));
    summary_poll(rt->summary, key, not_ready);
  }
  if(rt->log) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    snprintf(line, sizeof(line), "{\"v\":1,\"event\":\"poll\",\"time\":%.6f,"
             "\"elapsed\":%.6f,\"task\":%u,\"method\":", loop_wall(),
             loop_now() - rt->started, t ? t->id : 0);
    luaL_addstring(&b, line);
    ltrace_json_string(&b, method);
    luaL_addstring(&b, ",\"url\":");
    ltrace_json_string(&b, url);
    snprintf(line, sizeof(line), ",\"poll\":%lld,\"status\":%d,"
             "\"outcome\":\"%s\"", (long long)n, status, outcome);
    luaL_addstring(&b, line);
    if(!strcmp(outcome, "not_ready")) {
      snprintf(line, sizeof(line), ",\"wait\":%.6f", wait);
      luaL_addstring(&b, line);
    }
    if(note) {
      luaL_addstring(&b, ",\"reason\":");
      ltrace_json_string(&b, note);
    }
    luaL_addchar(&b, '}');
    luaL_pushresult(&b);
    rt->log(rt->log_ud, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  if(rt->trace) {
    char head[LTRACE_HEAD];
    const char *colour = poll_words(outcome, wait, note, line, sizeof(line));
    ltrace_head(rt, t, head);
    lua_pushfstring(L, "%s%s %s  poll %I  %d  %s%s%s", head, method, url,
                    n, status, rt->color ? colour : "", line,
                    rt->color ? PLAIN : "");
    rt->trace(lua_tostring(L, -1));
  }
  if(rt->progress) {
    rt->polls++;
    rt->progress(rt);
  }
  return 0;
}

void ltrace_register(lua_State *L)
{
  lua_pushcfunction(L, lcore_note_poll);
  lua_setfield(L, -2, "note_poll");
}
