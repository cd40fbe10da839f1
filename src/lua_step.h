/*
 * lua_step.h - run.step's part in C: core.step_begin(name) and
 * core.step_end(id [, err]) keep each task's current step (struct task's
 * step; a spawned task starts in its spawner's, lua_task.c) and hand the
 * steps and their errors, redacted, to the report (report.h) when
 * --report asks for one. Does nothing when none is made.
 */
#ifndef RETRYRUN_LUA_STEP_H
#define RETRYRUN_LUA_STEP_H

#include <lua.h>

/* Adds step_begin and step_end to the table on top (retryrun.core). */
void lstep_register(lua_State *L);

#endif
