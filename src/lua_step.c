/*
 * lua_step.c - run.step's bookkeeping (see lua_step.h).
 */
#include <string.h>

#include <lauxlib.h>

#include "loop.h"
#include "lua_giveup.h"
#include "lua_redact.h"
#include "lua_step.h"
#include "lua_task.h"
#include "report.h"
#include "runtime.h"

/* The string at the top, replaced by a copy with each NUL byte written
 * '?' (the report takes C strings; a NUL would cut the text short). */
static const char *nul_free(lua_State *L)
{
  size_t n, i;
  const char *s = lua_tolstring(L, -1, &n);
  luaL_Buffer b;
  if(!s || !memchr(s, '\0', n))
    return s;
  luaL_buffinit(L, &b);
  for(i = 0; i < n; i++)
    luaL_addchar(&b, s[i] ? s[i] : '?');
  luaL_pushresult(&b);
  lua_remove(L, -2);
  return lua_tostring(L, -1);
}

/* The steps are kept in the report, or, when there is none, for -v alone
 * (runtime.h); NULL when neither wants them. */
static struct report *steps_of(const struct runtime *rt)
{
  return rt->report ? rt->report : rt->steps;
}

/* core.step_begin(name) -> id: the running task is inside step name now
 * (0 when no report is made and no trace, or out of memory: the step goes
 * on unreported). */
static int lstep_begin(lua_State *L)
{
  struct runtime *rt = runtime_of(L);
  const char *name = luaL_checkstring(L, 1);
  struct task *t = task_current(L);
  unsigned id = 0;
  if(steps_of(rt) && t) {
    lredact_push(L, name, lua_rawlen(L, 1), NULL);
    id = report_step_begin(steps_of(rt), t->id, t->step, nul_free(L),
                           loop_now());
    if(id)
      t->step = id;
  }
  lua_pushinteger(L, id);
  return 1;
}

/* core.step_end(id [, err]): step id ended, with err when it raised;
 * its task is back in the step around it. */
static int lstep_end(lua_State *L)
{
  struct runtime *rt = runtime_of(L);
  lua_Integer id = luaL_checkinteger(L, 1);
  struct task *t = task_current(L);
  unsigned parent;
  if(!steps_of(rt) || id <= 0 || !t)
    return 0;
  if(lua_gettop(L) >= 2) {
    lredact_push_error(L, 2);
    parent = report_step_end(steps_of(rt), (unsigned)id,
                             lgiveup_is(L, 2) ? "gave_up" : "error",
                             nul_free(L), loop_now());
  }
  else
    parent = report_step_end(steps_of(rt), (unsigned)id, NULL, NULL,
                             loop_now());
  if(t->step == (unsigned)id)
    t->step = parent;
  return 0;
}

/* core.task_error(err): an item the running task ran for run.map raised
 * err, which the task caught: its report case fails with it. */
static int lstep_task_error(lua_State *L)
{
  struct runtime *rt = runtime_of(L);
  struct task *t = task_current(L);
  if(!rt->report || !t)
    return 0;
  lua_settop(L, 1);
  lredact_push_error(L, 1);
  report_task_fail(rt->report, t->id, lgiveup_is(L, 1) ? "gave_up" :
                   "error", nul_free(L));
  return 0;
}

void lstep_register(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"step_begin", lstep_begin},
    {"step_end", lstep_end},
    {"task_error", lstep_task_error},
    {NULL, NULL}
  };
  luaL_setfuncs(L, funcs, 0);
}
