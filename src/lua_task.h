/*
 * lua_task.h - the Lua type retryrun.Task: a task as scripts see it
 * (spawn, wait, cancel, status, sleep, now, limits, current), and the
 * coroutine functions the host puts in place of the base library's.
 *
 * struct task embeds the loop's struct loop_task (loop.h), changed only
 * through loop.h's functions, and adds what only the bindings use. Uses
 * loop.h and runtime.h; never host.h.
 */
#ifndef RETRYRUN_LUA_TASK_H
#define RETRYRUN_LUA_TASK_H

#include <lua.h>

#include "loop.h"

struct task {
  struct loop_task lt;       /* the loop's part: first, so that a
                                struct loop_task * is its task's address */
  int ref;                   /* registry ref to the Task userdata while the
                                task lives, LUA_NOREF after */
  unsigned id;               /* 1 for the main task, then in spawn order */
  unsigned calls;            /* calls it has made: their numbers */
  int failed;                /* ended with an error */
  int error_seen;            /* someone took that error */
  int wrap_depth;            /* inside policy(fn) wrappers */
  double wrap_deadline;      /* the innermost wrapper's deadline
                                (monotonic), 0 outside any */
  double hook_deadline;      /* while a policy's hook runs in this task:
                                the deadline (monotonic) its waits end at;
                                0 when no hook runs */
  unsigned step;             /* the innermost run.step it is in (a report's
                                step id), 0 for none (lua_step.h) */
  int unparked;              /* core.unpark came and core.park has not
                                taken it yet */
};

/* The task whose code runs on L now, or NULL outside any task (while the
 * loop waits, or before the main task starts). */
struct task *task_current(lua_State *L);

/* The task at stack index idx; raises a bad-argument error if that is not
 * a Task. */
struct task *task_check(lua_State *L, int idx);

/* The loop_finish_fn that lua_task.c keeps results with: give it to
 * loop_new() with the main lua_State as data. On the main state it
 * stores the results (or the error, with the task's traceback) in the
 * Task, files a failure in FAILED_TASKS, calls loop_task_done() and wakes
 * the tasks waiting on it. Raises only when out of memory. */
void task_finished(struct loop_task *t, int status, int nres, void *L);

/* For the finished Task at idx: pushes its error and returns 1 if it
 * failed (marking the error as taken), else pushes its results table and
 * returns 0. */
int task_result(lua_State *L, int idx);

/* Pushes the traceback of the failed task at idx (a string), or nil. */
void task_push_traceback(lua_State *L, int idx);

/* Registry key of the table of failed tasks whose error nobody took
 * (made by ltask_register). */
#define FAILED_TASKS "retryrun.failed_tasks"

/* Adds spawn, sleep, now, limits, current, yield, isyieldable, resume,
 * after_child and SUSPEND to the table on top (retryrun.core), and makes
 * the retryrun.Task metatable and the FAILED_TASKS table. */
void ltask_register(lua_State *L);

#endif
