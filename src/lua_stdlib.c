/*
 * lua_stdlib.c - what retryrun.stdlib puts in place of the base library's
 * coroutine functions and os.execute, so that plain coroutines and child
 * processes work beside the loop (see lua_stdlib.h), and of
 * collectgarbage, so that a step in generational mode can make a major
 * collection.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lua_stdlib.h"
#include "lua_task.h"
#include "runtime.h"

/* core.resume: coroutine.resume as the base library's (upvalue 1), telling
 * the loop which thread runs (loop_set_running) so that a signal
 * interrupts the code actually running. With --report, a coroutine keeps
 * its own current step (run.step; upvalue 2: coroutine -> step id, weak):
 * it runs in the step it was in when it last yielded (at first, its
 * resumer's), and its resumer is back in its own when it yields or ends.
 * So a step the coroutine leaves open, never resumed, holds nothing of
 * its resumer's. */
static int lrun_resume(lua_State *L)
{
  lua_State *co = lua_tothread(L, 1), *prev;
  struct task *t = runtime_of(L)->report ? task_current(L) : NULL;
  unsigned outer = t ? t->step : 0;
  int status;
  luaL_argexpected(L, co != NULL, 1, "coroutine");
  lua_pushvalue(L, 1);
  if(t && lua_rawget(L, lua_upvalueindex(2)) == LUA_TNUMBER)
    t->step = (unsigned)lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_pushvalue(L, 1);                 /* co, kept below the results */
  lua_insert(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 2);
  prev = loop_set_running(co);
  status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  loop_set_running(prev);
  if(t) {
    unsigned inner = t->step;
    t->step = outer;
    luaL_checkstack(L, 2, NULL);
    lua_pushvalue(L, 1);
    if(inner != outer)
      lua_pushinteger(L, inner);
    else
      lua_pushnil(L);
    lua_rawset(L, lua_upvalueindex(2));
  }
  if(status != LUA_OK)
    return lua_error(L);
  return lua_gettop(L) - 1;
}

/* 1 when co is the coroutine of a task: it yields to the loop alone. */
static int is_task_thread(lua_State *co)
{
  struct task *t = task_current(co);
  return t && t->lt.co == co;
}

/* core.yield: coroutine.yield for scripts. Where no coroutine of the
 * script runs (a task's own code, its hooks included) it raises, as plain
 * Lua does in its main thread, so the script's pcall catches it. */
static int lrun_yield(lua_State *L)
{
  if(is_task_thread(L))
    return luaL_error(L, "attempt to yield from outside a coroutine");
  return lua_yield(L, lua_gettop(L));
}

/* core.isyieldable([co]): false for a task's own coroutine, which
 * core.yield refuses. */
static int lrun_isyieldable(lua_State *L)
{
  lua_State *co = lua_isnone(L, 1) ? L : lua_tothread(L, 1);
  luaL_argexpected(L, co != NULL, 1, "coroutine");
  lua_pushboolean(L, !is_task_thread(co) && lua_isyieldable(co));
  return 1;
}

/* core.after_child(...) -> ...: passes on what os.execute or a pipe's
 * close returned. A child that died of SIGINT or SIGTERM ("signal", 2 or
 * 15) counts as that signal coming to retryrun, as shells count it: the
 * run is interrupted, and so is the code that ran the child. */
static int lrun_after_child(lua_State *L)
{
  int n = lua_gettop(L);
  if(n == 3 && lua_type(L, 2) == LUA_TSTRING && lua_isinteger(L, 3) &&
     !strcmp(lua_tostring(L, 2), "signal")) {
    lua_Integer sig = lua_tointeger(L, 3);
    if(sig == SIGINT || sig == SIGTERM)
      loop_signal((int)sig);
  }
  return n;
}

/* core.execute([cmd]) -> as os.execute, but retryrun keeps its signal
 * handlers while the child runs (system() ignores SIGINT in the parent,
 * so a `kill -INT` to retryrun alone was lost): the first SIGINT or
 * SIGTERM is passed on to the child and interrupts the run when the child
 * ends; a second stops retryrun at once, as anywhere else. Without a
 * terminal the child's shell and what it runs get a process group of
 * their own, so the signal reaches them all; with one, the terminal's ^C
 * reaches them already, and they stay in the foreground to read it. */
static int lrun_execute(lua_State *L)
{
  const char *cmd = luaL_optstring(L, 1, NULL);
  int status, passed_on = 0, own_group = !isatty(STDIN_FILENO);
  pid_t pid;
  if(!cmd) {
    lua_pushboolean(L, access("/bin/sh", X_OK) == 0);
    return 1;
  }
  fflush(NULL);
  pid = fork();
  if(pid < 0)
    return luaL_fileresult(L, 0, NULL);
  if(own_group)
    setpgid(pid, pid);            /* as the child does: whichever is first */
  if(pid == 0) {
    if(own_group)
      setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  while(waitpid(pid, &status, 0) < 0) {
    if(errno != EINTR)
      return luaL_fileresult(L, 0, NULL);
    if(!passed_on && loop_interrupted()) {
      kill(own_group ? -pid : pid, loop_interrupted());
      passed_on = 1;
    }
  }
  errno = 0;                      /* luaL_execresult reads it */
  return luaL_execresult(L, status);
}

/* Debt, in KB, that makes a step in generational mode collect at once:
 * far more than any heap, and set afresh by the collection. */
#define GEN_STEP_KB (1 << 20)

/* Registry keys of the base library's collectgarbage and of whether the
 * collector is generational (a boolean). They are not upvalues, so that
 * the function looks like the one it replaces to the debug library
 * (debug.getupvalue finds nothing to change); no global or module field
 * holds them. */
static const char base_gc_key = 'g', generational_key = 'm';

/* core.base.collectgarbage: the base library's collectgarbage, the same
 * for every option but a basic step ("step" with size 0, or none) in
 * generational mode, the mode the Lua state starts in. Lua 5.4 makes that
 * step a minor collection always and clears the debt that would have
 * made a later one major, so a script that steps often would never free
 * what it dropped after it had aged: its heap grew without bound. Here it
 * is one collection as the collector's own pacing makes it: minor, or
 * major when the heap has grown past what the last major one left by the
 * share state.c sets. The options and numbers are checked as the base
 * library checks them, so that errors name collectgarbage; the mode is
 * noted when a switch succeeds (not in a finalizer, where it fails). */
static int lrun_collectgarbage(lua_State *L)
{
  static const char *const opts[] = {"stop", "restart", "collect", "count",
    "step", "setpause", "setstepmul", "isrunning", "generational",
    "incremental", NULL};
  static const int numbers[] = {0, 0, 0, 0, 1, 1, 1, 0, 2, 3};
  int o = luaL_checkoption(L, 1, "collect", opts), i;
  for(i = 2; i <= 1 + numbers[o]; i++)
    luaL_optinteger(L, i, 0);
  if(o == 4 && luaL_optinteger(L, 2, 0) == 0) {
    int gen;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &generational_key);
    gen = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if(gen) {
      int res = lua_gc(L, LUA_GCSTEP, GEN_STEP_KB);
      if(res == -1)                 /* inside a finalizer */
        luaL_pushfail(L);
      else
        lua_pushboolean(L, res);
      return 1;
    }
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &base_gc_key);
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  if(o >= 8 && lua_type(L, 1) == LUA_TSTRING) {
    lua_pushboolean(L, o == 8);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &generational_key);
  }
  return lua_gettop(L);
}

void lstdlib_register(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"yield", lrun_yield},
    {"isyieldable", lrun_isyieldable},
    {"after_child", lrun_after_child},
    {"execute", lrun_execute},
    {NULL, NULL}
  };
  luaL_setfuncs(L, funcs, 0);
  /* in a table of its own, so that no module holds it by name and its
   * errors name it as the global it replaces */
  lua_createtable(L, 0, 1);
  lua_getglobal(L, "collectgarbage");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &base_gc_key);
  lua_pushboolean(L, 1);            /* state.c starts it generational */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &generational_key);
  lua_pushcfunction(L, lrun_collectgarbage);
  lua_setfield(L, -2, "collectgarbage");
  lua_setfield(L, -2, "base");
  luaopen_coroutine(L);             /* a fresh table: the originals */
  lua_getfield(L, -1, "resume");
  lua_newtable(L);                  /* coroutine -> its step, weak keys */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushcclosure(L, lrun_resume, 2);
  lua_setfield(L, -3, "resume");
  lua_pop(L, 1);
}
