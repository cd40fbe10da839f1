/*
 * loop.c - the event loop (see loop.h).
 *
 * One turn: resume every ready task; then wait in curl_multi_poll() until a
 * socket is ready, the next timer is due, or a signal (SIGINT, SIGTERM)
 * writes to the self-pipe; then let libcurl work, wake the tasks whose
 * transfers finished and those whose timers passed. Under a fake clock,
 * a turn with no transfer in flight and a timer armed does not wait: the
 * clock skips ahead to that timer. A signal that comes while Lua code
 * runs also interrupts that code, through a hook. Uses libcurl's multi
 * interface and Lua's coroutine API; knows nothing of HTTP requests or
 * retry policies, nor of who owns the tasks: an ended task is reported
 * through the callback given to loop_new(). Never prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <poll.h>
#include <signal.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "loop.h"
#include "loop_internal.h"
#include "curlapi.h"
#include "transfer.h"


char loop_suspend_marker;

/* What a signal handler needs, process-wide because a handler has no
 * argument to find a loop through: with the clock (below), the only
 * state of loop.c outside struct loop. `loop` is the one loop_new()
 * made, for the hook the handler arms (it marks the running task
 * cancelled). */
static struct {
  volatile sig_atomic_t interrupted;  /* the first SIGINT/SIGTERM, 0 before */
  /* a signal whose "interrupted" is still to be raised by interrupt_hook;
   * loop_stop() clears it, as the loop then stops every task itself */
  volatile sig_atomic_t pending;
  /* the thread running Lua code now (see loop_set_running): atomic so
   * that the handler reads a whole pointer */
  _Atomic(lua_State *) running;
  int pipe_w;                         /* the self-pipe's write end, or -1 */
  struct loop *loop;
} sig = {0, 0, NULL, -1, NULL};

/* File descriptors one transfer may hold at once: its socket, a second
 * one while IPv4 and IPv6 race, and the resolver thread's socket pair. */
#define LOOP_FDS_PER_TRANSFER 4
/* Kept aside for all else (stdio, the self-pipe, libcurl's wake-up pair,
 * the script's own files): a quarter of the limit, at most this many. */
#define LOOP_FD_MARGIN 64

/* The clock loop_now() and loop_wall() read: the system's, plus the
 * virtual seconds a fake clock has skipped (see loop_clock_fake). Process
 * wide, as the clock itself is: every part of a run reads the same time,
 * and loop_now() needs no loop to find it. Only loop_run() moves it. */
static struct {
  int fake;
  double skipped;
} clk;

double loop_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + clk.skipped;
}

double loop_wall(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + clk.skipped;
}

void loop_clock_fake(void)
{
  clk.fake = 1;
}

int loop_clock_is_fake(void)
{
  return clk.fake;
}

double loop_clock_skipped(void)
{
  return clk.skipped;
}

/* The multi handle, made at the first transfer: a script that makes no
 * HTTP call never starts libcurl (or its TLS library), which is most of
 * the start-up time. NULL if libcurl cannot start. */
CURLM *loop_multi(struct loop *lp)
{
  char err[TRANSFER_ERROR_SIZE];
  if(!lp->multi && transfer_global_init(err, sizeof(err)) == TRANSFER_OK) {
    lp->multi = curl_multi_init();
    if(lp->multi)
      loop_limits(lp, lp->max_total, lp->max_host);
  }
  return lp->multi;
}

/* The number of transfers, `want` or fewer, that the open-file limit
 * leaves room for: raises the soft limit toward what `want` needs where the
 * hard limit allows, then fits `want` under it. At least 1. */
static long fit_to_fd_limit(long want)
{
  struct rlimit rl;
  rlim_t need = (rlim_t)want * LOOP_FDS_PER_TRANSFER + LOOP_FD_MARGIN;
  rlim_t margin;
  long fit;

  if(getrlimit(RLIMIT_NOFILE, &rl))
    return want;
  if(rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    struct rlimit up = rl;
    up.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ?
                  rl.rlim_max : need;
    if(setrlimit(RLIMIT_NOFILE, &up) == 0)
      rl.rlim_cur = up.rlim_cur;
  }
  if(rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
    return want;
  margin = rl.rlim_cur / 4 < LOOP_FD_MARGIN ? rl.rlim_cur / 4 :
           LOOP_FD_MARGIN;
  fit = (long)((rl.rlim_cur - margin) / LOOP_FDS_PER_TRANSFER);
  return fit < 1 ? 1 : fit;
}

struct loop *loop_new(loop_finish_fn *finish, void *data)
{
  struct loop *lp = calloc(1, sizeof(*lp));
  int fds[2];
  if(!lp)
    return NULL;
  lp->finish = finish;
  lp->finish_data = data;
  lp->pipe_r = -1;
  /* A default that keeps 10,000 tasks from opening 10,000 sockets: calls
   * beyond the cap wait in the slot queue. run.limits{} changes it. Either
   * way it fits the open-file limit, so running out of descriptors makes
   * calls wait rather than fail. */
  lp->max_total = fit_to_fd_limit(256);
  if(pipe(fds) == 0) {
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    lp->pipe_r = fds[0];
    sig.pipe_w = fds[1];
  }
  sig.loop = lp;
  return lp;
}

void loop_free(struct loop *lp)
{
  if(!lp)
    return;
  if(lp->multi)
    curl_multi_cleanup(lp->multi);
  lp->multi = NULL;
  transfer_free_all();
  free(lp->heap);
  if(lp->pipe_r >= 0) {
    int w = sig.pipe_w;
    sig.pipe_w = -1;
    close(lp->pipe_r);
    close(w);
  }
  if(sig.loop == lp)
    sig.loop = NULL;
  free(lp);
}

void loop_limits(struct loop *lp, long total, long per_host)
{
  if(total > 0)
    lp->max_total = fit_to_fd_limit(total);
  if(per_host > 0)
    lp->max_host = per_host;
  else if(per_host < 0)
    lp->max_host = 0;
  wake_slot_waiters(lp);
  if(!lp->multi)
    return;                  /* applied when the multi handle is made */
  curl_multi_setopt(lp->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, lp->max_total);
  curl_multi_setopt(lp->multi, CURLMOPT_MAXCONNECTS, lp->max_total);
  /* 0 is libcurl's "no limit" */
  curl_multi_setopt(lp->multi, CURLMOPT_MAX_HOST_CONNECTIONS, lp->max_host);
}

/* Set by loop_signal() on the thread that was running: raises
 * "interrupted" there once, as a cancelled wait would, and marks the task
 * cancelled so that its next wait raises too. A hook left on a thread
 * after the loop has stopped the tasks itself only removes itself. */
static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  if(!sig.pending)
    return;
  sig.pending = 0;
  if(sig.loop && sig.loop->current)
    sig.loop->current->cancelled = 1;
  lua_pushliteral(L, "interrupted");
  lua_error(L);
}

static void arm_interrupt_hook(lua_State *co)
{
  lua_sethook(co, interrupt_hook,
              LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* An exchange, not a relaxed store: the handler may run on another
 * thread (libcurl's resolver's), which must see the store before this
 * thread reads sig.pending. */
lua_State *loop_set_running(lua_State *co)
{
  lua_State *prev = atomic_exchange(&sig.running, co);
  /* a signal between a switch and this store armed the thread left */
  if(co && sig.pending)
    arm_interrupt_hook(co);
  return prev;
}

void loop_signal(int signo)
{
  int saved = errno;
  lua_State *co;
  if(sig.interrupted)
    _exit(128 + signo);               /* the second one: stop now */
  sig.interrupted = signo;
  sig.pending = 1;
  co = atomic_load(&sig.running);
  if(co)
    arm_interrupt_hook(co);
  if(sig.pipe_w >= 0) {
    ssize_t n = write(sig.pipe_w, "i", 1);
    (void)n;
  }
  errno = saved;
}

size_t loop_transfers(const struct loop *lp)
{
  return lp->running_transfers;
}

int loop_interrupted(void)
{
  return sig.interrupted;
}

int loop_yield(struct loop_task *t, lua_State *L, lua_KContext ctx,
               lua_KFunction k)
{
  if(!t)
    return luaL_error(L, "attempt to wait outside a task");
  t->state = TASK_WAITING;
  lua_pushlightuserdata(L, &loop_suspend_marker);
  return lua_yieldk(L, 1, ctx, k);
}

/* Resumes one task; when its coroutine ends, reports it to the task's
 * owner through lp->finish. */
static void resume(struct loop *lp, struct loop_task *t)
{
  int nres = 0, status;
  lua_State *co = t->co;

  t->state = TASK_RUNNING;
  lp->current = t;
  loop_set_running(co);
  status = lua_resume(co, NULL, t->nargs, &nres);
  loop_set_running(NULL);
  t->nargs = 0;
  lp->current = NULL;
  if(status == LUA_YIELD) {
    if(nres == 1 && lua_touserdata(co, -1) == &loop_suspend_marker &&
       t->state == TASK_WAITING) {
      lua_pop(co, 1);
      return;
    }
    /* a plain coroutine.yield() at the top of a task: nothing resumes it */
    lua_pop(co, nres);
    lua_pushliteral(co, "attempt to yield from outside a coroutine");
    status = LUA_ERRRUN;
    nres = 1;
  }
  lp->finish(t, status, nres, lp->finish_data);
}

static void fire_timers(struct loop *lp, double now)
{
  while(lp->nheap && lp->heap[0]->when <= now) {
    struct loop_task *t = lp->heap[0];
    heap_remove(lp, t);
    if(t->wait == WAIT_SLOT)
      slot_unlink(lp, t);
    t->fired = 1;
    t->wait = WAIT_NONE;
    loop_wake(t);
  }
}

static void reap_transfers(struct loop *lp)
{
  CURLMsg *msg;
  int left;
  double now = loop_now();

  while((msg = curl_multi_info_read(lp->multi, &left))) {
    struct transfer *tr = NULL;
    CURL *easy;
    CURLcode code;
    if(msg->msg != CURLMSG_DONE)
      continue;
    easy = msg->easy_handle;
    code = msg->data.result;
    /* msg is invalid once the handle is removed */
    curl_multi_remove_handle(lp->multi, easy);
    lp->running_transfers--;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&tr);
    if(!tr)
      continue;
    transfer_finish(tr, code, now);
    if(tr->owner) {
      struct loop_task *t = tr->owner;
      tr->owner = NULL;
      if(t->wait == WAIT_TRANSFER && t->transfer == tr) {
        t->wait = WAIT_NONE;
        t->transfer = NULL;
        loop_wake(t);
      }
      else if(t->wait == WAIT_TRANSFERS) {
        heap_remove(lp, t);
        t->wait = WAIT_NONE;
        loop_wake(t);
      }
    }
  }
  wake_slot_waiters(lp);
}

static void cancel_all(struct loop *lp)
{
  struct loop_task *t;
  for(t = lp->live; t; t = t->next)
    loop_cancel(t);
}

void loop_stop(struct loop *lp)
{
  struct loop_task *t;
  lp->stopping = 1;
  sig.pending = 0;
  for(t = lp->live; t; t = t->next)
    t->stopped = 1;
  cancel_all(lp);
}

static void drain_sigpipe(struct loop *lp)
{
  char b[64];
  while(lp->pipe_r >= 0 && read(lp->pipe_r, b, sizeof(b)) > 0)
    ;
}

/* A signal came: stop every task, once. */
static void check_interrupt(struct loop *lp)
{
  if(sig.interrupted && !lp->stopping) {
    drain_sigpipe(lp);
    loop_stop(lp);
  }
}

enum loop_result loop_run(struct loop *lp, struct loop_task *until)
{
  enum loop_result result = LOOP_OK;

  while(lp->nlive && !(until && until->state == TASK_DONE)) {
    int timeout_ms;
    double now;

    while(lp->ready_head) {
      struct loop_task *t = lp->ready_head;
      lp->ready_head = t->next_ready;
      if(!lp->ready_head)
        lp->ready_tail = NULL;
      t->next_ready = NULL;
      /* a signal that came while a task ran stops the ones after it */
      check_interrupt(lp);
      if(t->state == TASK_READY)
        resume(lp, t);
    }
    if(!lp->nlive || (until && until->state == TASK_DONE))
      break;

    now = loop_now();
    if(lp->nheap) {
      double d = (lp->heap[0]->when - now) * 1000.0;
      timeout_ms = d <= 0 ? 0 : (int)ceil(d);
      if(d > 60000.0)
        timeout_ms = 60000;
    }
    else
      timeout_ms = 60000;
    if(clk.fake && lp->nheap && !lp->running_transfers) {
      /* Nothing but timers to wait on: the clock jumps to the first one
       * instead of waiting for it. While a transfer is in flight real
       * time passes, so no timer fires before it would have. */
      double ahead = lp->heap[0]->when - now;
      if(ahead > 0)
        clk.skipped += ahead;
      timeout_ms = 0;
    }
    if(!lp->running_transfers && !lp->nheap && !lp->ready_head) {
      /* Every live task waits on another task: none can ever wake. */
      result = LOOP_DEADLOCK;
      cancel_all(lp);
      continue;
    }
    if(lp->multi) {
      struct curl_waitfd extra;
      int numfds, still;
      extra.fd = lp->pipe_r;
      extra.events = CURL_WAIT_POLLIN;
      extra.revents = 0;
      /* after an add, libcurl's own timeout is 0: a poll would return at
       * once having seen nothing, so the transfers are driven without it */
      if(lp->added && lp->running_transfers)
        lp->added = 0;
      else
        curl_multi_poll(lp->multi, lp->pipe_r >= 0 ? &extra : NULL,
                        lp->pipe_r >= 0 ? 1 : 0, timeout_ms, &numfds);
      if(lp->running_transfers)
        curl_multi_perform(lp->multi, &still);
      reap_transfers(lp);
    }
    else {
      struct pollfd pfd;
      pfd.fd = lp->pipe_r;
      pfd.events = POLLIN;
      poll(&pfd, lp->pipe_r >= 0 ? 1 : 0, timeout_ms);
    }
    fire_timers(lp, loop_now());
    check_interrupt(lp);
  }
  return result;
}
