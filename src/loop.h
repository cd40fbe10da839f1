/*
 * loop.h - the event loop: one curl multi handle, a timer heap, and tasks.
 *
 * A task is a Lua coroutine that runs until it waits: on a transfer, a timer
 * or another task. Waiting suspends only that task; the loop resumes it when
 * what it waits on is done. Ready tasks sit in a FIFO run queue, timers in a
 * binary min-heap, transfers in the multi handle, so the cost of one turn of
 * the loop depends on what happened, not on how many tasks are idle.
 *
 * The loop owns a struct loop_task; whoever owns tasks embeds one in its
 * own record, reads and changes it only through the functions below, and
 * learns that a task's coroutine ended through the callback it gave
 * loop_new() (as Redis's ae.c hands events a proc and clientData).
 * This file knows Lua only as lua_State pointers it resumes; it never calls
 * into the bindings by name and never prints.
 */
#ifndef RETRYRUN_LOOP_H
#define RETRYRUN_LOOP_H

#include <stddef.h>
#include <lua.h>

struct transfer;
struct loop;                 /* opaque: one a process, made by loop_new() */

enum loop_result {
  LOOP_OK = 0,
  LOOP_NOMEM,                /* out of memory: nothing was armed */
  LOOP_NOCURL,               /* libcurl cannot start or refused the handle */
  LOOP_DEADLOCK              /* loop_run(): every live task waited on
                                another task, so all were cancelled */
};

enum task_wait {
  WAIT_NONE = 0, WAIT_TRANSFER, WAIT_TIMER, WAIT_TASK,
  WAIT_SLOT,                 /* for a free transfer slot */
  WAIT_TRANSFERS             /* for any transfer it owns, or a timer */
};

enum task_state { TASK_READY, TASK_RUNNING, TASK_WAITING, TASK_DONE };

/* What the loop knows of a task. Its owner zeroes it (state TASK_DONE
 * until loop_task_start) and otherwise leaves every field to loop.c: read
 * them through the accessors below. */
struct loop_task {
  struct loop *loop;         /* set by loop_task_start() */
  lua_State *co;             /* the coroutine; kept alive by its owner */
  int nargs;                 /* arguments waiting for the first resume */
  enum task_state state;
  enum task_wait wait;       /* what it waits on, while TASK_WAITING */
  struct transfer *transfer; /* WAIT_TRANSFER */
  double when;               /* WAIT_TIMER, or the deadline of a
                                WAIT_TASK/WAIT_SLOT wait (monotonic) */
  size_t heap_index;         /* in the timer heap, or (size_t)-1 */
  int fired;                 /* the timer passed */
  int cancelled;             /* cancelled, a signal or loop_stop(): stop at
                                the next wait */
  int stopped;               /* cancelled by loop_stop(): its failure is
                                the run's end, not an error of its own */
  int slot_granted;          /* a slot is held for its next transfer */
  struct loop_task *next_ready;            /* run queue */
  struct loop_task *slot_prev, *slot_next; /* waiting for a transfer slot */
  struct loop_task *prev, *next;           /* all live tasks */
};

/* Called by the loop when a task's coroutine has returned (status LUA_OK,
 * nres results on t->co's stack) or failed (an error status, the error on
 * top of t->co), before the task is unlinked: the callback calls
 * loop_task_done(t). It runs on the thread that called loop_run() and may
 * raise there (out of memory): loop_run() is then left by that error, the
 * loop still consistent, t still live. */
typedef void loop_finish_fn(struct loop_task *t, int status, int nres,
                            void *data);

/* Makes the process's loop; NULL when out of memory. `finish` and `data`
 * are how the loop reports an ended task. libcurl starts at the first
 * transfer. Also makes the self-pipe that loop_signal() wakes the poll
 * through. loop_free() releases the multi handle, the heap and the pipe:
 * call it only after lua_close(), which may still release transfers. */
struct loop *loop_new(loop_finish_fn *finish, void *data);
void loop_free(struct loop *lp);

double loop_now(void);       /* monotonic seconds */
double loop_wall(void);      /* Unix time */

/* The fake clock (retryrun --fake-clock), for testing scripts: from the
 * call on, whenever the loop would block with no transfer in flight and
 * a timer armed (a backoff, a Retry-After, run.sleep, a deadline), it
 * does not wait: the clock skips ahead to that timer. loop_now() and
 * loop_wall() are the system's clocks plus the seconds skipped so far,
 * so waits take virtual time, transfers real time, and every elapsed
 * time and deadline counts both. Timers fire in the order they would on
 * the real clock; while a transfer is in flight real time passes, so a
 * sleeping task never wakes before the transfer would have finished.
 * loop_clock_skipped() is the virtual time so far (0 on a real clock). */
void loop_clock_fake(void);
int loop_clock_is_fake(void);
double loop_clock_skipped(void);

/* Runs until `until` is done (NULL: until every task is done). Returns
 * early, with tasks still live, only for `until`; loop_run(NULL) again
 * finishes them. LOOP_DEADLOCK when, on the way, every live task waited
 * on another task and all were cancelled (the caller says so); LOOP_OK
 * otherwise. Raises only what the finish callback raises. */
enum loop_result loop_run(struct loop *lp, struct loop_task *until);

/* Ends the run: cancels every live task (and any started later), marking
 * each stopped. Their waits raise, their calls give up and run their
 * on_giveup hooks. */
void loop_stop(struct loop *lp);

/* The task being resumed, or NULL while the loop itself runs. */
struct loop_task *loop_current(struct loop *lp);

/* Task life. loop_task_start() links a new task (state READY) into lp's
 * live list and run queue, to run co with the nargs values on its stack;
 * loop_task_done() unlinks it (state DONE). */
void loop_task_start(struct loop *lp, struct loop_task *t, lua_State *co,
                     int nargs);
void loop_task_done(struct loop_task *t);
void loop_wake(struct loop_task *t);

/* Accessors: the loop's part of a task, read-only outside loop.c. */
enum task_state loop_task_state(const struct loop_task *t);
enum task_wait loop_task_wait(const struct loop_task *t);
int loop_task_fired(const struct loop_task *t);
int loop_task_cancelled(const struct loop_task *t);
int loop_task_stopped(const struct loop_task *t);
int loop_task_slot_granted(const struct loop_task *t);

/* Waits. Each arms one thing for t; the caller then yields with
 * loop_yield(). loop_wait_transfer() puts tr in the multi handle
 * (LOOP_NOCURL when libcurl cannot start or refuses it). loop_wait_timer()
 * wakes t at `when` (loop_task_fired). loop_wait_task() waits to be woken
 * by another task, or until `deadline` passes (fired) when it is not 0.
 * Both return LOOP_NOMEM when the timer heap cannot grow, and then nothing
 * is armed: the caller raises rather than skip the wait or its deadline.
 * loop_wait_cancel() disarms whatever t waits on (used by cancellation, by
 * a task that ends, and by the Lua objects' __gc). */
enum loop_result loop_wait_transfer(struct loop_task *t, struct transfer *tr);
/* Several transfers at once (hedged requests). loop_transfer_add() puts
 * tr in the multi handle for t, as loop_wait_transfer() does, without
 * making t wait on it. loop_wait_transfers() makes t wait until any
 * transfer t owns ends (one it waits on with loop_wait_transfer() too), or
 * `when` passes (fired; 0: no timer); LOOP_NOMEM as above. Transfers that
 * have not ended stay in the multi handle whatever t waits on next, and
 * their end wakes t only through this wait; loop_transfer_remove() takes
 * one out (cleanly, at any time; nothing if it has ended). An owner must
 * remove its transfers before its task ends: loop_wait_cancel() leaves
 * them. */
enum loop_result loop_transfer_add(struct loop_task *t, struct transfer *tr);
enum loop_result loop_wait_transfers(struct loop_task *t, double when);
void loop_transfer_remove(struct transfer *tr);
enum loop_result loop_wait_timer(struct loop_task *t, double when);
enum loop_result loop_wait_task(struct loop_task *t, double deadline);
void loop_wait_cancel(struct loop_task *t);

/* Transfer slots: at most max_total transfers are in libcurl at once, so a
 * task over the cap waits here holding no easy handle and no buffer (10,000
 * queued calls cost what 10,000 idle tasks cost), first come first served.
 * loop_slot_free() says whether t may start a transfer now: it holds a
 * slot handed to it, or one is free and nobody is in line. If not,
 * loop_wait_slot() puts it in line until a slot is handed to it
 * (slot_granted) or `deadline` passes (fired); LOOP_NOMEM, with t not in
 * line, when the timer heap cannot grow. loop_wait_transfer() uses the
 * slot; a task that will not, gives it back with loop_slot_giveback(). */
int loop_slot_free(struct loop_task *t);
enum loop_result loop_wait_slot(struct loop_task *t, double deadline);
void loop_slot_giveback(struct loop_task *t);

/* Cancels a task: marks it cancelled, and when it waits disarms the wait
 * and wakes it. The running task is only marked: its next wait raises. */
void loop_cancel(struct loop_task *t);

/* Suspends the running task t (running on L) from a C function: pushes
 * the suspend marker and yields through lua_yieldk with k as
 * continuation. */
int loop_yield(struct loop_task *t, lua_State *L, lua_KContext ctx,
               lua_KFunction k);

/* The marker a task yields to say "I wait on the loop". Scripts see it as
 * a light userdata (retryrun.core.SUSPEND). */
extern char loop_suspend_marker;

/* Connection limits. total: > 0 sets the cap on transfers at once, 0
 * leaves it. per_host: > 0 sets the cap a host, 0 leaves it, -1 removes
 * it. The total is fitted to the open-file limit (RLIMIT_NOFILE): the soft
 * limit is raised toward what the total needs, up to the hard limit, and a
 * total the limit has no room for is lowered, to at least 1. */
void loop_limits(struct loop *lp, long total, long per_host);

/* SIGINT and SIGTERM, from their handler or from a child process that
 * died of one (os.execute, io.popen). The first records sig, wakes the
 * poll through the self-pipe (the loop then calls loop_stop()) and, when
 * Lua code is running, sets a hook on the running thread that raises
 * "interrupted" in it at its next instruction, call or return, and marks
 * its task cancelled. A second one ends the process at once with 128 +
 * sig. Async-signal-safe: sig_atomic_t flags, lua_sethook (which lua.c's
 * own handler calls, and Lua documents as safe there) and one write. */
void loop_signal(int sig);

/* The signal loop_signal() recorded first (SIGINT, SIGTERM), 0 before. */
int loop_interrupted(void);

/* Transfers in libcurl now. */
size_t loop_transfers(const struct loop *lp);

/* The Lua thread that runs now: a task's coroutine, or a coroutine a
 * script resumes inside it; NULL while the loop waits. Whoever resumes a
 * thread sets it and restores the previous one after, so that
 * loop_signal() interrupts the code actually running. Returns the
 * previous one. */
lua_State *loop_set_running(lua_State *co);

#endif
