/*
 * lua_task.c - the Lua type retryrun.Task (see lua_task.h): spawn, wait,
 * cancel, sleep, now, connection limits (retryrun.core;
 * lua/retryrun/run.lua builds run.all and run.map on top).
 *
 * The C halves of the coroutine functions and os.execute the host puts in
 * place of the base library's are in lua_stdlib.c.
 *
 * A task is a full userdata "retryrun.Task" holding struct task, with three
 * user values: 1 the coroutine (nil once it ended), 2 its results (a
 * table, or the error), 3 the tasks waiting on it (a table, made by the
 * first to wait, nil once the task ended). While it lives, a registry ref
 * keeps it from the collector, so a script may drop the handle of a task
 * it never waits on. The loop is found from the lua_State (runtime.h); the loop's part of a
 * task is changed only through loop.h.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_rate.h"
#include "lua_redact.h"
#include "lua_task.h"
#include "luax.h"
#include "report.h"
#include "runtime.h"


enum { UV_THREAD = 1, UV_RESULT, UV_WAITERS, UV_TRACE };

#define TASK_END_DEBT 16   /* KB: see task_finished */

struct task *task_check(lua_State *L, int idx)
{
  return luax_checksized(L, idx, LUAX_TASK_MT, sizeof(struct task));
}

/* The loop_task is a task's first member (lua_task.h). */
static struct task *task_of(struct loop_task *lt)
{
  return (struct task *)lt;
}

struct task *task_current(lua_State *L)
{
  struct runtime *rt = runtime_of(L);
  struct loop_task *lt = rt && rt->loop ? loop_current(rt->loop) : NULL;
  return lt ? task_of(lt) : NULL;
}

/* The task the running code belongs to; raises outside a task. */
static struct task *current_task(lua_State *L)
{
  struct task *t = task_current(L);
  if(!t)
    luaL_error(L, "not inside a task");
  return t;
}

/* Raises the error a cancelled task meets at its next wait. */
static int raise_cancelled(lua_State *L)
{
  return luaL_error(L, loop_interrupted() ? "interrupted" : "cancelled");
}

/* Raises when a timer cannot be armed: the wait must not be skipped. */
static int raise_no_timer(lua_State *L)
{
  return luaL_error(L, "not enough memory to arm a timer");
}

/* Raises the error a wait inside a policy's hook meets when the call the
 * hook belongs to reaches its deadline (task->hook_deadline). */
static int raise_past_deadline(lua_State *L)
{
  return luaL_error(L, "the deadline of the call whose hook is waiting "
                    "is reached");
}

/* The end of a task wait that has not got what it waits for: raises when
 * the task was cancelled or (ctx set: after a wait) a hook's deadline
 * passed, else waits again, coming back through k. */
static int wait_more(lua_State *L, struct task *me, lua_KContext ctx,
                     lua_KFunction k)
{
  if(loop_task_cancelled(&me->lt))
    return raise_cancelled(L);
  if(ctx && loop_task_fired(&me->lt))
    return raise_past_deadline(L);
  if(loop_wait_task(&me->lt, me->hook_deadline))
    return raise_no_timer(L);
  return loop_yield(&me->lt, L, 1, k);
}

/* run.spawn(fn, ...) -> Task. The task starts on the loop's next turn. */
static int lrun_spawn(lua_State *L)
{
  int nargs = lua_gettop(L) - 1;
  struct runtime *rt = runtime_of(L);
  struct task *t, *cur;
  lua_State *co;

  luaL_checktype(L, 1, LUA_TFUNCTION);
  if(!rt || !rt->loop)
    return luaL_error(L, "no event loop");
  t = lua_newuserdatauv(L, sizeof(*t), 4);
  memset(t, 0, sizeof(*t));
  t->ref = LUA_NOREF;
  t->id = ++rt->tasks;
  t->lt.state = TASK_DONE;        /* until started below */
  luaL_setmetatable(L, LUAX_TASK_MT);
  co = lua_newthread(L);
  lua_setiuservalue(L, -2, UV_THREAD);
  /* move fn and its arguments onto the new coroutine */
  lua_rotate(L, 1, 1);            /* Task, fn, args... */
  luaL_checkstack(co, nargs + 1, "too many arguments to spawn");
  lua_xmove(L, co, nargs + 1);
  /* a task spawned inside a policy(fn) wrapper is inside it too */
  if((cur = task_current(L))) {
    t->wrap_depth = cur->wrap_depth;
    t->wrap_deadline = cur->wrap_deadline;
  }
  /* it starts in its spawner's step (run.step, lua_step.c) */
  t->step = cur ? cur->step : 0;
  if(rt->report)
    report_task_begin(rt->report, t->id, loop_now());
  lua_pushvalue(L, 1);
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  loop_task_start(rt->loop, &t->lt, co, nargs);
  return 1;
}

/* Wakes the tasks waiting on t (they re-check what they wait for), and
 * drops their table: none comes after the task is done. */
static void wake_waiters(lua_State *L, int task_idx)
{
  if(lua_getiuservalue(L, task_idx, UV_WAITERS) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  lua_pushnil(L);
  while(lua_next(L, -2)) {
    struct task *w = lua_touserdata(L, -2);
    if(w && loop_task_wait(&w->lt) == WAIT_TASK) {
      loop_wait_cancel(&w->lt);     /* its deadline timer, if any */
      loop_wake(&w->lt);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_setiuservalue(L, task_idx, UV_WAITERS);
}

/* 1 when the error on top is a table with a traceback field of its own,
 * read raw: no metamethod runs here, in the loop, where nothing may
 * yield. */
static int own_traceback(lua_State *L)
{
  int own;
  if(!lua_istable(L, -1))
    return 0;
  lua_pushliteral(L, "traceback");
  own = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 1);
  return own;
}

void task_finished(struct loop_task *lt, int status, int nres, void *data)
{
  struct task *t = task_of(lt);
  lua_State *L = data;
  lua_State *co = lt->co;
  int top = lua_gettop(L);

  if(runtime_of(L)->report) {
    const char *err = NULL, *type = "error";
    if(status != LUA_OK && !lua_checkstack(co, 1))
      err = "(an error: out of memory)";
    else if(status != LUA_OK) {
      lua_pushvalue(co, -1);
      lua_xmove(co, L, 1);
      if(luax_is_a(L, -1, LUAX_GIVEUP_MT))
        type = "gave_up";
      err = lredact_push_error(L, -1);
    }
    report_task_end(runtime_of(L)->report, t->id, type, err, loop_now());
    lua_settop(L, top);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);   /* the Task */
  if(status == LUA_OK) {
    int i;
    lua_createtable(L, nres, 1);
    luaL_checkstack(L, nres, "too many results");
    lua_xmove(co, L, nres);
    for(i = nres; i >= 1; i--)
      lua_rawseti(L, top + 2, i);
    lua_pushinteger(L, nres);
    lua_setfield(L, -2, "n");
    /* gives back now the stack its deepest call grew (a JSON decode
     * reserves a few hundred slots): 10,000 ended tasks held 30 MB */
    lua_resetthread(co);
  }
  else {
    /* the error as it was raised, for wait(); its traceback apart, for
     * the host to print when nothing waited, unless the error is a table
     * with one of its own (a give-up's), which the host prints instead */
    t->failed = 1;
    lua_xmove(co, L, 1);
    if(!own_traceback(L)) {
      luaL_traceback(L, co, NULL, 0);
      lua_setiuservalue(L, top + 1, UV_TRACE);
    }
    lua_resetthread(co);
    lua_getfield(L, LUA_REGISTRYINDEX, FAILED_TASKS);
    lua_pushvalue(L, top + 1);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
  }
  lua_setiuservalue(L, top + 1, UV_RESULT);
  /* the coroutine is over: the Task lets it go, so that its object and
   * call frames are garbage while a script still holds the handle */
  lua_pushnil(L);
  lua_setiuservalue(L, top + 1, UV_THREAD);
  lt->co = NULL;
  loop_task_done(lt);
  wake_waiters(L, top + 1);
  luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
  t->ref = LUA_NOREF;
  lua_settop(L, top);
  /* What the task's calls left is garbage now, all at once; but the
   * collector paces itself by allocation alone, and after a collection
   * that ended with thousands of calls waiting it waits for the heap to
   * grow by as much again. So a task that made calls counts as
   * TASK_END_DEBT KB allocated as it ends (10,000 one-call tasks peaked
   * at 47 MB without, 42 MB so, generational; 57 and 49, incremental). */
  if(t->calls)
    lua_gc(L, LUA_GCSTEP, TASK_END_DEBT);
}

int task_result(lua_State *L, int idx)
{
  struct task *t = task_check(L, idx);
  idx = lua_absindex(L, idx);
  if(t->failed && !t->error_seen) {
    t->error_seen = 1;
    lua_getfield(L, LUA_REGISTRYINDEX, FAILED_TASKS);
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
  }
  lua_getiuservalue(L, idx, UV_RESULT);
  return t->failed;
}

void task_push_traceback(lua_State *L, int idx)
{
  lua_getiuservalue(L, idx, UV_TRACE);
}

/* Pushes a finished task's results, or raises its error. */
static int task_results(lua_State *L, int idx)
{
  int n, i;
  if(task_result(L, idx))
    return lua_error(L);
  lua_getfield(L, -1, "n");
  n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, n, "too many results");
  for(i = 1; i <= n; i++)
    lua_rawgeti(L, -i, i);
  return n;
}

/* Waits until task 1 is done; inside a policy's hook, no longer than the
 * call's deadline. ctx: 0 on the first call, 1 after a wait (only then
 * does a fired timer mean the deadline). */
static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
  struct task *t = task_check(L, 1);
  struct task *me = task_current(L);
  (void)status;
  (void)ctx;
  loop_wait_cancel(&me->lt);
  if(loop_task_state(&t->lt) == TASK_DONE) {
    lua_settop(L, 1);
    return task_results(L, 1);
  }
  return wait_more(L, me, ctx, wait_k);
}

/* task:wait() -> the task's results, or raises its error. */
static int ltask_wait(lua_State *L)
{
  struct task *t = task_check(L, 1);
  struct task *me = current_task(L);
  lua_settop(L, 1);
  if(t == me)
    return luaL_error(L, "a task cannot wait on itself");
  if(!lua_isyieldable(L))
    return luaL_error(L, "wait() cannot wait here: it runs inside require, "
                      "a metamethod or another C function");
  if(loop_task_state(&t->lt) != TASK_DONE) {
    if(lua_getiuservalue(L, 1, UV_WAITERS) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_newtable(L);             /* the first waiter makes it */
      lua_pushvalue(L, -1);
      lua_setiuservalue(L, 1, UV_WAITERS);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, me->ref);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
  }
  return wait_k(L, LUA_OK, 0);
}

/* task:cancel(): the task stops at its next wait, with an error. */
static int ltask_cancel(lua_State *L)
{
  struct task *t = task_check(L, 1);
  loop_cancel(&t->lt);
  if(t == task_current(L))
    return raise_cancelled(L);
  return 0;
}

/* task:status() -> "running", "waiting", "done" or "failed". */
static int ltask_status(lua_State *L)
{
  struct task *t = task_check(L, 1);
  switch(loop_task_state(&t->lt)) {
  case TASK_DONE:
    lua_pushstring(L, t->failed ? "failed" : "done");
    break;
  case TASK_WAITING:
    lua_pushliteral(L, "waiting");
    break;
  default:
    lua_pushliteral(L, "running");
    break;
  }
  return 1;
}

static int ltask_tostring(lua_State *L)
{
  struct task *t = task_check(L, 1);
  lua_pushfstring(L, "retryrun.Task (%p)", (void *)t);
  return 1;
}

/* ctx: 1 when the sleep was cut at a hook's deadline. */
static int sleep_k(lua_State *L, int status, lua_KContext ctx)
{
  struct task *me = task_current(L);
  (void)status;
  if(loop_task_cancelled(&me->lt)) {
    loop_wait_cancel(&me->lt);
    return raise_cancelled(L);
  }
  if(!loop_task_fired(&me->lt))
    return loop_yield(&me->lt, L, ctx, sleep_k);
  if(ctx)
    return raise_past_deadline(L);
  return 0;
}

/* run.sleep(seconds): suspends the task; other tasks go on. Inside a
 * policy's hook it ends at the call's deadline, raising. */
static int lrun_sleep(lua_State *L)
{
  double s = luaL_checknumber(L, 1), until;
  struct task *me = current_task(L);
  int cut = 0;
  luaL_argcheck(L, s == s && s >= 0, 1, "a non-negative number expected");
  if(!lua_isyieldable(L))
    return luaL_error(L, "sleep() cannot wait here: it runs inside require, "
                      "a metamethod or another C function");
  if(loop_task_cancelled(&me->lt))
    return raise_cancelled(L);
  if(s > 1e9)
    s = 1e9;
  until = loop_now() + s;
  if(me->hook_deadline > 0 && until > me->hook_deadline) {
    until = me->hook_deadline;
    cut = 1;
  }
  if(loop_wait_timer(&me->lt, until))
    return raise_no_timer(L);
  return loop_yield(&me->lt, L, cut, sleep_k);
}

/* ctx: 1 after a wait (only then does a fired timer mean the deadline). */
static int park_k(lua_State *L, int status, lua_KContext ctx)
{
  struct task *me = task_current(L);
  (void)status;
  loop_wait_cancel(&me->lt);
  if(me->unparked) {
    me->unparked = 0;
    return 0;
  }
  return wait_more(L, me, ctx, park_k);
}

/* core.park(): suspends the running task until core.unpark(it), at once
 * when that came first; raises when the task is cancelled, or inside a
 * policy's hook at the call's deadline. Other wake-ups (a task it once
 * waited on ending late) are ignored. Who waits for what is the caller's
 * business (run.lock keeps the queue). */
static int lrun_park(lua_State *L)
{
  current_task(L);
  if(!lua_isyieldable(L))
    return luaL_error(L, "a lock cannot wait here: it runs inside require, "
                      "a metamethod or another C function");
  return park_k(L, LUA_OK, 0);
}

/* core.unpark(task): ends the task's core.park, or the next one. */
static int lrun_unpark(lua_State *L)
{
  struct task *t = task_check(L, 1);
  t->unparked = 1;
  if(loop_task_state(&t->lt) != TASK_DONE &&
     loop_task_wait(&t->lt) == WAIT_TASK) {
    loop_wait_cancel(&t->lt);
    loop_wake(&t->lt);
  }
  return 0;
}

/* run.now() -> monotonic seconds. */
static int lrun_now(lua_State *L)
{
  lua_pushnumber(L, loop_now());
  return 1;
}

/* Reads limits field `name` of the table at 1: 0 when nil (or false,
 * where no_cap allows it, then -1); else a whole number in 0..100000, or
 * raises naming the field. */
static lua_Integer limit_field(lua_State *L, const char *name, int no_cap)
{
  lua_Integer v;
  int isnum, t = lua_getfield(L, 1, name);
  if(t == LUA_TNIL)
    v = 0;
  else if(no_cap && t == LUA_TBOOLEAN && !lua_toboolean(L, -1))
    v = -1;
  else {
    v = lua_tointegerx(L, -1, &isnum);
    if(!isnum || v < 0 || v > 100000)
      luaL_argerror(L, 1, lua_pushfstring(L, "%s must be between 1 and "
                    "100000%s", name, no_cap ? ", or false for no cap" : ""));
  }
  lua_pop(L, 1);
  return v;
}

/* run.limits{connections=N, per_host=N, rate=...}: a field left out
 * (nil) keeps its cap (so does connections = 0); per_host = false or 0
 * removes the per-host cap; rate replaces the rate limits (lua_rate.c).
 * Everything is checked before anything changes. */
static int lrun_limits(lua_State *L)
{
  lua_Integer total, per_host;
  struct ratelimit *rl;
  int has_rate;
  luaL_checktype(L, 1, LUA_TTABLE);
  total = limit_field(L, "connections", 0);
  per_host = limit_field(L, "per_host", 1);
  if(per_host == 0 && lua_getfield(L, 1, "per_host") != LUA_TNIL)
    per_host = -1;                    /* 0: no cap, as false */
  lua_settop(L, 1);
  lua_getfield(L, 1, "rate");
  has_rate = lrate_read(L, 2, 1, &rl);
  loop_limits(runtime_of(L)->loop, (long)total, (long)per_host);
  if(has_rate)
    lrate_install(L, rl);
  return 0;
}

/* core.progress(done, total) -> shown: run.map's items, for the
 * progress line; true when that line is drawn at all (the host decides
 * before the script runs), so that run.map may leave out the calls that
 * would draw nothing. */
static int lrun_progress(lua_State *L)
{
  struct runtime *rt = runtime_of(L);
  rt->map_done = (long)luaL_checkinteger(L, 1);
  rt->map_total = (long)luaL_checkinteger(L, 2);
  if(rt->progress)
    rt->progress(rt);
  lua_pushboolean(L, rt->progress != NULL);
  return 1;
}

/* run.current() -> the running Task. */
static int lrun_current(lua_State *L)
{
  struct task *me = current_task(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, me->ref);
  return 1;
}

void ltask_register(lua_State *L)
{
  static const luaL_Reg task_methods[] = {
    {"wait", ltask_wait},
    {"cancel", ltask_cancel},
    {"status", ltask_status},
    {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"spawn", lrun_spawn},
    {"sleep", lrun_sleep},
    {"park", lrun_park},
    {"unpark", lrun_unpark},
    {"now", lrun_now},
    {"limits", lrun_limits},
    {"current", lrun_current},
    {"progress", lrun_progress},
    {NULL, NULL}
  };
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, FAILED_TASKS);
  if(luaL_newmetatable(L, LUAX_TASK_MT)) {
    luaL_newlib(L, task_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ltask_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
  lua_pushlightuserdata(L, &loop_suspend_marker);
  lua_setfield(L, -2, "SUSPEND");
}
