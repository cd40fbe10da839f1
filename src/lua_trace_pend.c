/*
 * lua_trace_pend.c - how a call that failed inside a policy(fn) wrapper
 * ended (see lua_trace.c): left to its wrapper when its error is what the
 * wrapper's attempt failed with; else, its error caught on the way (a
 * pcall, raise = false), a give-up or not as expected as anywhere. The
 * end of the wrapper's attempt tells which: until then the call's last
 * -v lines and --log records wait here in both wordings, and its summary,
 * report and progress counts with them.
 *
 * The calls waiting are the registry's PENDING list, in the order they
 * ended, each a table: task (light userdata), depth (the task's
 * wrap_depth), id, own and wrap (the lines, each 'L' or 'T' then the
 * text: a --log record or a -v line), and once the call has ended (done):
 * key (what its error is known by: the GiveUp, the Response expect=
 * refused, the error passed on), outcome (its own), attempts, duration,
 * endpoint, reason, policy; attempt, verdict and decision (the wrapper
 * wording of its last attempt's, for the report).
 */
#include <string.h>

#include <lauxlib.h>

#include "lua_call.h"
#include "lua_task.h"
#include "report.h"
#include "runtime.h"
#include "summary.h"

#define PENDING "retryrun.pending_calls"

static void push_list(lua_State *L)
{
  if(lua_getfield(L, LUA_REGISTRYINDEX, PENDING) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, PENDING);
  }
}

void lpend_push(lua_State *L, const struct call *c)
{
  lua_Integer i, n;
  push_list(L);
  n = (lua_Integer)lua_rawlen(L, -1);
  for(i = n; i >= 1; i--) {
    lua_rawgeti(L, -1, i);
    lua_getfield(L, -1, "id");
    if(lua_tointeger(L, -1) == (lua_Integer)c->id) {
      lua_pop(L, 1);
      lua_remove(L, -2);
      return;
    }
    lua_pop(L, 2);
  }
  lua_createtable(L, 0, 16);
  lua_pushlightuserdata(L, c->task);
  lua_setfield(L, -2, "task");
  lua_pushinteger(L, c->task->wrap_depth);
  lua_setfield(L, -2, "depth");
  lua_pushinteger(L, c->id);
  lua_setfield(L, -2, "id");
  lua_newtable(L);
  lua_setfield(L, -2, "own");
  lua_newtable(L);
  lua_setfield(L, -2, "wrap");
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, n + 1);
  lua_remove(L, -2);
}

void lpend_add(lua_State *L, int e, int wrap, char kind)
{
  int w;
  e = lua_absindex(L, e);
  lua_pushfstring(L, "%c%s", kind, lua_tostring(L, -1));
  for(w = 0; w < 2; w++) {
    if(wrap >= 0 && wrap != w)
      continue;
    lua_getfield(L, e, w ? "wrap" : "own");
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
}

/* lpend_wire's catch of the -vv lines (lwire_trace hands each to the
 * runtime's trace function, which takes no state of its own). */
static lua_State *wire_L;
static int wire_e;

static void catch_wire(const char *line)
{
  luaL_checkstack(wire_L, 4, NULL);
  lua_pushstring(wire_L, line);
  lpend_add(wire_L, wire_e, -1, 'T');
}

void lpend_wire(lua_State *L, int e)
{
  struct runtime *rt = runtime_of(L);
  void (*trace)(const char *) = rt->trace;
  wire_L = L;
  wire_e = lua_absindex(L, e);
  rt->trace = catch_wire;
  lwire_trace(L);
  rt->trace = trace;
}

static const char *const outcome_names[] = {
  "ok", "gave_up", "unexpected", "to_wrapper"
};

/* Writes the entry at e's lines in the wording of how it ended, and
 * counts it (when it ended). */
static void flush(lua_State *L, int e, int to_wrapper)
{
  struct runtime *rt = runtime_of(L);
  lua_Integer i, n;
  enum summary_outcome o;
  double duration;
  int attempts;
  lua_getfield(L, e, to_wrapper ? "wrap" : "own");
  n = (lua_Integer)lua_rawlen(L, -1);
  for(i = 1; i <= n; i++) {
    const char *s;
    lua_rawgeti(L, -1, i);
    s = lua_tostring(L, -1);
    if(s && s[0] == 'L' && rt->log)
      rt->log(rt->log_ud, s + 1);
    else if(s && s[0] == 'T' && rt->trace)
      rt->trace(s + 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if(lua_getfield(L, e, "outcome") != LUA_TNUMBER) {
    lua_pop(L, 1);
    return;                          /* its end was never recorded */
  }
  o = to_wrapper ? SUMMARY_TO_WRAPPER :
      (enum summary_outcome)lua_tointeger(L, -1);
  lua_getfield(L, e, "attempts");
  attempts = (int)lua_tointeger(L, -1);
  lua_getfield(L, e, "duration");
  duration = lua_tonumber(L, -1);
  lua_getfield(L, e, "id");
  lua_getfield(L, e, "endpoint");
  lua_getfield(L, e, "reason");
  lua_getfield(L, e, "policy");
  lua_getfield(L, e, "attempt");
  lua_getfield(L, e, "verdict");
  lua_getfield(L, e, "decision");
  if(rt->summary && lua_isstring(L, -6))
    summary_call(rt->summary, lua_tostring(L, -6), o, attempts, duration);
  if(rt->report) {
    if(to_wrapper && lua_isstring(L, -1))
      report_attempt_relabel(rt->report, (unsigned)lua_tointeger(L, -7),
                             (int)lua_tointeger(L, -3), lua_tostring(L, -2),
                             lua_tostring(L, -1));
    report_call(rt->report, (unsigned)lua_tointeger(L, -7),
                outcome_names[o], lua_tostring(L, -5), duration,
                lua_tostring(L, -4));
  }
  lua_pop(L, 10);
  if(rt->progress) {
    rt->done_calls++;
    rt->giveups += o == SUMMARY_GAVE_UP;
    rt->progress(rt);
  }
}

/* 1 when the entry at e is of a call made in task t at depth or deeper. */
static int made_in(lua_State *L, int e, const struct task *t, int depth)
{
  int in;
  e = lua_absindex(L, e);
  lua_getfield(L, e, "task");
  lua_getfield(L, e, "depth");
  in = lua_touserdata(L, -2) == t && lua_tointeger(L, -1) >= depth;
  lua_pop(L, 2);
  return in;
}

void lpend_resolve(lua_State *L, const struct task *t, int depth, int err)
{
  int top = lua_gettop(L), list = top + 1, resp = top + 2;
  lua_Integer i, n, k = 0, hit = 0;
  if(err)
    err = lua_absindex(L, err);
  if(lua_getfield(L, LUA_REGISTRYINDEX, PENDING) != LUA_TTABLE) {
    lua_settop(L, top);
    return;
  }
  n = (lua_Integer)lua_rawlen(L, list);
  /* the Response an expect= error carries */
  if(err && lua_istable(L, err)) {
    lua_pushliteral(L, "response");
    lua_rawget(L, err);
  }
  else
    lua_pushnil(L);
  /* the call whose error the attempt failed with: the last to end */
  for(i = n; err && i >= 1 && !hit; i--) {
    lua_rawgeti(L, list, i);
    if(made_in(L, -1, t, depth)) {
      lua_getfield(L, -1, "key");
      if(!lua_isnil(L, -1) && (lua_rawequal(L, -1, err) ||
                               lua_rawequal(L, -1, resp)))
        hit = i;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  for(i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    if(made_in(L, -1, t, depth))
      flush(L, lua_gettop(L), i == hit);
    else {
      lua_pushvalue(L, -1);
      lua_rawseti(L, list, ++k);
    }
    lua_pop(L, 1);
  }
  for(i = k + 1; i <= n; i++) {
    lua_pushnil(L);
    lua_rawseti(L, list, i);
  }
  lua_settop(L, top);
}
