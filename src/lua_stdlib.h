/*
 * lua_stdlib.h - core.resume, core.yield, core.isyieldable,
 * core.after_child and core.execute: the coroutine functions and
 * os.execute that retryrun.stdlib installs for scripts. core.resume tells
 * the loop which thread runs (a signal interrupts the code actually
 * running) and keeps each coroutine's current run.step; core.yield refuses
 * a task's own coroutine, which yields to the loop alone; core.execute
 * keeps retryrun's signal handlers while a child runs.
 */
#ifndef RETRYRUN_LUA_STDLIB_H
#define RETRYRUN_LUA_STDLIB_H

#include <lua.h>

/* Adds those functions to the table on top (retryrun.core). */
void lstdlib_register(lua_State *L);

#endif
