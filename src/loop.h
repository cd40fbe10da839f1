/*
 * loop.h - the event loop: one curl multi handle, a timer heap, and tasks.
 *
 * A task is a Lua coroutine that runs until it waits: on a transfer, a timer
 * or another task. Waiting suspends only that task; the loop resumes it when
 * what it waits on is done. Ready tasks sit in a FIFO run queue, timers in a
 * binary min-heap, transfers in the multi handle, so the cost of one turn of
 * the loop depends on what happened, not on how many tasks are idle.
 *
 * This file knows Lua only as lua_State pointers it resumes; the Lua side of
 * tasks (spawn, wait, results) is in lua_run.c.
 */
#ifndef RETRYRUN_LOOP_H
#define RETRYRUN_LOOP_H

#include <signal.h>
#include <stddef.h>
#include <lua.h>

struct transfer;

struct timer {
  double when;        /* monotonic seconds */
  size_t index;       /* position in the heap, or (size_t)-1 when not armed */
};

enum task_wait {
  WAIT_NONE = 0, WAIT_TRANSFER, WAIT_TIMER, WAIT_TASK,
  WAIT_SLOT                  /* for a free transfer slot */
};

enum task_state { TASK_READY, TASK_RUNNING, TASK_WAITING, TASK_DONE };

struct task {
  lua_State *co;             /* the coroutine; kept alive by the Task's
                                user value */
  int nargs;                 /* arguments waiting for the first resume */
  int ref;                   /* registry ref to the Task userdata while the
                                task lives, LUA_NOREF after */
  enum task_state state;
  enum task_wait wait;       /* what it waits on, while TASK_WAITING */
  struct transfer *transfer; /* WAIT_TRANSFER */
  struct timer timer;        /* WAIT_TIMER */
  int fired;                 /* the timer passed */
  int cancelled;             /* cancel(), a signal or loop_stop(): stop at
                                the next wait */
  int stopped;               /* cancelled by loop_stop(): its failure is
                                the run's end, not an error of its own */
  int failed;                /* ended with an error */
  int error_seen;            /* someone took that error */
  int wrap_depth;            /* inside policy(fn) wrappers */
  double wrap_deadline;      /* the innermost wrapper's deadline
                                (monotonic), 0 outside any */
  double hook_deadline;      /* while a policy's hook runs in this task:
                                the deadline (monotonic) its waits end at;
                                0 when no hook runs */
  struct task *next_ready;   /* run queue */
  struct task *slot_prev, *slot_next;  /* waiting for a transfer slot */
  int slot_granted;          /* a slot is held for its next transfer */
  struct task *prev, *next;  /* all live tasks */
};

struct loop {
  void *multi;               /* CURLM *, made at the first transfer */
  struct task **heap;        /* tasks whose timer is armed */
  size_t nheap, capheap;
  struct task *ready_head, *ready_tail;
  struct task *live;         /* every task not yet done */
  size_t nlive;
  struct task *current;      /* the task being resumed */
  size_t running_transfers;
  volatile sig_atomic_t interrupted;  /* SIGINT or SIGTERM seen: its
                                number, 0 before */
  int stopping;              /* loop_stop() ran: every task is cancelled */
  long max_total, max_host;  /* connection caps; 0: none */
  struct task *slot_head, *slot_tail;  /* tasks waiting for a slot */
  size_t slots_granted;      /* handed to woken tasks, not yet used */
  lua_State *L;              /* the main state */
};

/* The one loop of the process. loop_init() cannot fail: libcurl starts at
 * the first transfer. loop_free() releases the multi handle and the heap;
 * call it only after lua_close(), which may still release transfers. */
extern struct loop *the_loop;
void loop_init(lua_State *L);
void loop_free(void);

double loop_now(void);       /* monotonic seconds */
double loop_wall(void);      /* Unix time */

/* Runs until `until` is done (NULL: until every task is done). Returns
 * early, with tasks still live, only for `until`; loop_run(NULL) again
 * finishes them. */
void loop_run(struct task *until);

/* Ends the run: cancels every live task (and any started later), marking
 * each t->stopped. Their waits raise, their calls give up and run their
 * on_giveup hooks. */
void loop_stop(void);

/* Task life. loop_task_start() links a new task (state READY) into the live
 * list and the run queue; loop_task_done() unlinks it. */
void loop_task_start(struct task *t);
void loop_task_done(struct task *t);
void loop_wake(struct task *t);

/* Waits. Each arms one thing for the current task; the caller then yields
 * with loop_yield(). loop_wait_task() waits to be woken by another task,
 * or until `deadline` passes (t->fired) when it is not 0.
 * loop_wait_cancel() disarms whatever the task waits on (used by
 * cancellation, by a task that ends, and by the Lua objects' __gc). */
int loop_wait_transfer(struct task *t, struct transfer *tr);
void loop_wait_timer(struct task *t, double when);
void loop_wait_task(struct task *t, double deadline);
void loop_wait_cancel(struct task *t);

/* Transfer slots: at most max_total transfers are in libcurl at once, so a
 * task over the cap waits here holding no easy handle and no buffer (10,000
 * queued calls cost what 10,000 idle tasks cost), first come first served.
 * loop_slot_free() says whether t may start a transfer now: it holds a
 * slot handed to it, or one is free and nobody is in line. If not,
 * loop_wait_slot() puts it in line until a slot is handed to it
 * (t->slot_granted) or `deadline` passes (t->fired). loop_wait_transfer()
 * uses the slot; a task that will not, gives it back with
 * loop_slot_giveback(). */
int loop_slot_free(struct task *t);
void loop_wait_slot(struct task *t, double deadline);
void loop_slot_giveback(struct task *t);

/* Cancels a task: disarms its wait and wakes it with t->cancelled set. */
void loop_cancel(struct task *t);

/* Suspends the running task from a C function: pushes the suspend marker
 * and yields through lua_yieldk with k as continuation. */
int loop_yield(lua_State *L, lua_KContext ctx, lua_KFunction k);

/* The marker a task yields to say "I wait on the loop". Scripts see it as
 * a light userdata (retryrun.core.SUSPEND). */
extern char loop_suspend_marker;

/* Connection limits: 0 leaves a limit unchanged. The total is fitted to
 * the open-file limit (RLIMIT_NOFILE): the soft limit is raised toward
 * what the total needs, up to the hard limit, and a total the limit has
 * no room for is lowered, to at least 1. */
void loop_limits(long total, long per_host);

/* Called by the loop when a task's coroutine returns (LUA_OK, nres
 * results on its stack) or fails (an error status, the error on its
 * stack). Implemented by lua_run.c, which keeps the results. */
void task_finished(struct task *t, int status, int nres);

/* SIGINT and SIGTERM, from their handler or from a child process that
 * died of one (os.execute, io.popen). The first sets the_loop->interrupted
 * to sig, wakes the poll (the loop then calls loop_stop()) and, when Lua
 * code is running, sets a hook on the running thread that raises
 * "interrupted" in it at its next instruction, call or return, and marks
 * its task cancelled. A second one ends the process at once with 128 +
 * sig. Async-signal-safe: a flag, lua_sethook (as lua.c does) and one
 * write. */
void loop_signal(int sig);

/* The Lua thread that runs now: a task's coroutine, or a coroutine a
 * script resumes inside it; NULL while the loop waits. Whoever resumes a
 * thread sets it and restores the previous one after, so that
 * loop_signal() interrupts the code actually running. Returns the
 * previous one. */
lua_State *loop_set_running(lua_State *co);

#endif
