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

/* core.step_begin(name) -> id: the running task is inside step name now
 * (0 when no report is made, or out of memory: the step goes on
 * unreported). */
static int lstep_begin(lua_State *L)
{
  struct runtime *rt = runtime_of(L);
  const char *name = luaL_checkstring(L, 1);
  struct task *t = task_current(L);
  unsigned id = 0;
  if(rt->report && t) {
    size_t n, i;
    const char *red;
    lredact_push(L, name, lua_rawlen(L, 1), NULL);
    red = lua_tolstring(L, -1, &n);
    if(memchr(red, '\0', n)) {
      /* the report's names are C strings: a NUL would cut the name */
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for(i = 0; i < n; i++)
        luaL_addchar(&b, red[i] ? red[i] : '?');
      luaL_pushresult(&b);
    }
    id = report_step_begin(rt->report, t->id, t->step, lua_tostring(L, -1),
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
  if(!rt->report || id <= 0 || !t)
    return 0;
  if(lua_gettop(L) >= 2)
    parent = report_step_end(rt->report, (unsigned)id,
                             lgiveup_is(L, 2) ? "gave_up" : "error",
                             lredact_push_error(L, 2), loop_now());
  else
    parent = report_step_end(rt->report, (unsigned)id, NULL, NULL,
                             loop_now());
  if(t->step == (unsigned)id)
    t->step = parent;
  return 0;
}

void lstep_register(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"step_begin", lstep_begin},
    {"step_end", lstep_end},
    {NULL, NULL}
  };
  luaL_setfuncs(L, funcs, 0);
}
