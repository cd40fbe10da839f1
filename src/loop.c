/*
 * loop.c - the event loop (see loop.h).
 *
 * One turn: resume every ready task; then wait in curl_multi_poll() until a
 * socket is ready, the next timer is due, or a signal (SIGINT, SIGTERM)
 * writes to the self-pipe; then let libcurl work, wake the tasks whose
 * transfers finished and those whose timers passed. A signal that comes
 * while Lua code runs also interrupts that code, through a hook. Uses
 * libcurl's multi interface and Lua's coroutine API; knows nothing of HTTP
 * requests or retry policies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <poll.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "loop.h"
#include "curlapi.h"
#include "transfer.h"

struct loop *the_loop;
char loop_suspend_marker;

static struct loop loop_storage;
static int sigpipe_fds[2] = {-1, -1};

/* The thread running Lua code now (see loop_set_running), read by the
 * signal handler: atomic so that it reads a whole pointer. */
static _Atomic(lua_State *) running_thread;
/* A signal whose "interrupted" is still to be raised by interrupt_hook;
 * loop_stop() clears it, as the loop then stops every task itself. */
static volatile sig_atomic_t interrupt_pending;

#define NOT_ARMED ((size_t)-1)

/* File descriptors one transfer may hold at once: its socket, a second
 * one while IPv4 and IPv6 race, and the resolver thread's socket pair. */
#define LOOP_FDS_PER_TRANSFER 4
/* Kept aside for all else (stdio, the self-pipe, libcurl's wake-up pair,
 * the script's own files): a quarter of the limit, at most this many. */
#define LOOP_FD_MARGIN 64

static void wake_slot_waiters(struct loop *lp);

double loop_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double loop_wall(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The multi handle, made at the first transfer: a script that makes no
 * HTTP call never starts libcurl (or its TLS library), which is most of
 * the start-up time. NULL if libcurl cannot start. */
static CURLM *multi(struct loop *lp)
{
  if(!lp->multi && transfer_global_init() == 0) {
    lp->multi = curl_multi_init();
    if(lp->multi)
      loop_limits(lp->max_total, lp->max_host);
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

void loop_init(lua_State *L)
{
  struct loop *lp = &loop_storage;
  memset(lp, 0, sizeof(*lp));
  lp->L = L;
  /* A default that keeps 10,000 tasks from opening 10,000 sockets: calls
   * beyond the cap wait in the slot queue. run.limits{} changes it. Either
   * way it fits the open-file limit, so running out of descriptors makes
   * calls wait rather than fail. */
  lp->max_total = fit_to_fd_limit(256);
  if(pipe(sigpipe_fds) == 0) {
    fcntl(sigpipe_fds[0], F_SETFL, O_NONBLOCK);
    fcntl(sigpipe_fds[1], F_SETFL, O_NONBLOCK);
    fcntl(sigpipe_fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(sigpipe_fds[1], F_SETFD, FD_CLOEXEC);
  }
  the_loop = lp;
}

void loop_free(void)
{
  struct loop *lp = the_loop;
  if(!lp)
    return;
  if(lp->multi)
    curl_multi_cleanup(lp->multi);
  lp->multi = NULL;
  transfer_free_all();
  free(lp->heap);
  lp->heap = NULL;
  if(sigpipe_fds[0] >= 0) {
    close(sigpipe_fds[0]);
    close(sigpipe_fds[1]);
    sigpipe_fds[0] = sigpipe_fds[1] = -1;
  }
  the_loop = NULL;
}

void loop_limits(long total, long per_host)
{
  struct loop *lp = the_loop;
  if(total > 0)
    lp->max_total = fit_to_fd_limit(total);
  if(per_host > 0)
    lp->max_host = per_host;
  wake_slot_waiters(lp);
  if(!lp->multi)
    return;                  /* applied when the multi handle is made */
  curl_multi_setopt(lp->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, lp->max_total);
  curl_multi_setopt(lp->multi, CURLMOPT_MAXCONNECTS, lp->max_total);
  if(lp->max_host)
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
  if(!interrupt_pending)
    return;
  interrupt_pending = 0;
  if(the_loop && the_loop->current)
    the_loop->current->cancelled = 1;
  lua_pushliteral(L, "interrupted");
  lua_error(L);
}

static void arm_interrupt_hook(lua_State *co)
{
  lua_sethook(co, interrupt_hook,
              LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

lua_State *loop_set_running(lua_State *co)
{
  lua_State *prev = atomic_exchange(&running_thread, co);
  /* a signal between a switch and this store armed the thread left */
  if(co && interrupt_pending)
    arm_interrupt_hook(co);
  return prev;
}

void loop_signal(int sig)
{
  int saved = errno;
  lua_State *co;
  if(loop_storage.interrupted)
    _exit(128 + sig);                 /* the second one: stop now */
  loop_storage.interrupted = sig;
  interrupt_pending = 1;
  co = atomic_load(&running_thread);
  if(co)
    arm_interrupt_hook(co);
  if(sigpipe_fds[1] >= 0) {
    ssize_t n = write(sigpipe_fds[1], "i", 1);
    (void)n;
  }
  errno = saved;
}

/* ---- the timer heap: a binary min-heap of tasks by timer.when ---- */

static void heap_set(struct loop *lp, size_t i, struct task *t)
{
  lp->heap[i] = t;
  t->timer.index = i;
}

static void heap_up(struct loop *lp, size_t i)
{
  struct task *t = lp->heap[i];
  while(i > 0) {
    size_t parent = (i - 1) / 2;
    if(lp->heap[parent]->timer.when <= t->timer.when)
      break;
    heap_set(lp, i, lp->heap[parent]);
    i = parent;
  }
  heap_set(lp, i, t);
}

static void heap_down(struct loop *lp, size_t i)
{
  struct task *t = lp->heap[i];
  for(;;) {
    size_t c = 2 * i + 1;
    if(c >= lp->nheap)
      break;
    if(c + 1 < lp->nheap &&
       lp->heap[c + 1]->timer.when < lp->heap[c]->timer.when)
      c++;
    if(t->timer.when <= lp->heap[c]->timer.when)
      break;
    heap_set(lp, i, lp->heap[c]);
    i = c;
  }
  heap_set(lp, i, t);
}

static int heap_push(struct loop *lp, struct task *t)
{
  if(lp->nheap == lp->capheap) {
    size_t cap = lp->capheap ? lp->capheap * 2 : 64;
    struct task **h = realloc(lp->heap, cap * sizeof(*h));
    if(!h)
      return -1;
    lp->heap = h;
    lp->capheap = cap;
  }
  heap_set(lp, lp->nheap++, t);
  heap_up(lp, lp->nheap - 1);
  return 0;
}

static void heap_remove(struct loop *lp, struct task *t)
{
  size_t i = t->timer.index;
  if(i == NOT_ARMED)
    return;
  t->timer.index = NOT_ARMED;
  lp->nheap--;
  if(i == lp->nheap)
    return;
  heap_set(lp, i, lp->heap[lp->nheap]);
  heap_down(lp, i);
  heap_up(lp, lp->heap[i]->timer.index);
}

/* ---- tasks ---- */

void loop_task_start(struct task *t)
{
  struct loop *lp = the_loop;
  t->timer.index = NOT_ARMED;
  t->state = TASK_WAITING;
  t->next = lp->live;
  t->prev = NULL;
  if(lp->live)
    lp->live->prev = t;
  lp->live = t;
  lp->nlive++;
  if(lp->stopping)
    t->cancelled = t->stopped = 1;
  loop_wake(t);
}

void loop_task_done(struct task *t)
{
  struct loop *lp = the_loop;
  loop_wait_cancel(t);
  loop_slot_giveback(t);
  if(t->prev)
    t->prev->next = t->next;
  else
    lp->live = t->next;
  if(t->next)
    t->next->prev = t->prev;
  t->prev = t->next = NULL;
  lp->nlive--;
  t->state = TASK_DONE;
}

void loop_wake(struct task *t)
{
  struct loop *lp = the_loop;
  if(t->state != TASK_WAITING)
    return;
  t->state = TASK_READY;
  t->next_ready = NULL;
  if(lp->ready_tail)
    lp->ready_tail->next_ready = t;
  else
    lp->ready_head = t;
  lp->ready_tail = t;
}

int loop_wait_transfer(struct task *t, struct transfer *tr)
{
  struct loop *lp = the_loop;
  if(!multi(lp) || curl_multi_add_handle(lp->multi, tr->easy) != CURLM_OK)
    return -1;
  tr->owner = t;
  t->wait = WAIT_TRANSFER;
  t->transfer = tr;
  lp->running_transfers++;
  if(t->slot_granted) {
    t->slot_granted = 0;
    lp->slots_granted--;
  }
  return 0;
}

void loop_wait_timer(struct task *t, double when)
{
  t->fired = 0;
  t->timer.when = when;
  t->wait = WAIT_TIMER;
  if(heap_push(the_loop, t)) {
    t->fired = 1;     /* out of memory: do not wait at all */
    t->wait = WAIT_NONE;
  }
}

void loop_wait_task(struct task *t, double deadline)
{
  t->fired = 0;
  t->wait = WAIT_TASK;
  if(deadline > 0) {
    t->timer.when = deadline;
    if(heap_push(the_loop, t))
      t->timer.index = NOT_ARMED;     /* out of memory: wait without it */
  }
}

static int slots_left(struct loop *lp)
{
  return lp->max_total <= 0 ||
         lp->running_transfers + lp->slots_granted < (size_t)lp->max_total;
}

int loop_slot_free(struct task *t)
{
  struct loop *lp = the_loop;
  return t->slot_granted || (!lp->slot_head && slots_left(lp));
}

void loop_slot_giveback(struct task *t)
{
  struct loop *lp = the_loop;
  if(!t->slot_granted)
    return;
  t->slot_granted = 0;
  lp->slots_granted--;
  wake_slot_waiters(lp);
}

void loop_wait_slot(struct task *t, double deadline)
{
  struct loop *lp = the_loop;
  t->fired = 0;
  t->timer.when = deadline;
  if(heap_push(lp, t))
    t->timer.index = NOT_ARMED;     /* out of memory: wait without it */
  t->wait = WAIT_SLOT;
  t->slot_next = NULL;
  t->slot_prev = lp->slot_tail;
  if(lp->slot_tail)
    lp->slot_tail->slot_next = t;
  else
    lp->slot_head = t;
  lp->slot_tail = t;
}

static void slot_unlink(struct loop *lp, struct task *t)
{
  if(t->slot_prev)
    t->slot_prev->slot_next = t->slot_next;
  else
    lp->slot_head = t->slot_next;
  if(t->slot_next)
    t->slot_next->slot_prev = t->slot_prev;
  else
    lp->slot_tail = t->slot_prev;
  t->slot_prev = t->slot_next = NULL;
}

/* Hands each free slot to the first task in line, and wakes it. */
static void wake_slot_waiters(struct loop *lp)
{
  while(lp->slot_head && slots_left(lp)) {
    struct task *t = lp->slot_head;
    slot_unlink(lp, t);
    heap_remove(lp, t);
    t->slot_granted = 1;
    lp->slots_granted++;
    t->wait = WAIT_NONE;
    loop_wake(t);
  }
}

void loop_wait_cancel(struct task *t)
{
  struct loop *lp = the_loop;
  switch(t->wait) {
  case WAIT_TRANSFER:
    if(t->transfer && !t->transfer->done) {
      curl_multi_remove_handle(lp->multi, t->transfer->easy);
      lp->running_transfers--;
      t->transfer->owner = NULL;
      wake_slot_waiters(lp);
    }
    t->transfer = NULL;
    break;
  case WAIT_TIMER:
  case WAIT_TASK:
    heap_remove(lp, t);
    break;
  case WAIT_SLOT:
    slot_unlink(lp, t);
    heap_remove(lp, t);
    break;
  case WAIT_NONE:
    break;
  }
  t->wait = WAIT_NONE;
}

void loop_cancel(struct task *t)
{
  if(t->state == TASK_DONE)
    return;
  t->cancelled = 1;
  if(t->state == TASK_WAITING) {
    loop_wait_cancel(t);
    loop_wake(t);
  }
}

int loop_yield(lua_State *L, lua_KContext ctx, lua_KFunction k)
{
  struct task *t = the_loop->current;
  if(!t)
    return luaL_error(L, "attempt to wait outside a task");
  t->state = TASK_WAITING;
  lua_pushlightuserdata(L, &loop_suspend_marker);
  return lua_yieldk(L, 1, ctx, k);
}

/* Resumes one task. What happens when it ends is lua_run.c's business,
 * through task_finished(). */
static void resume(struct loop *lp, struct task *t)
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
  task_finished(t, status, nres);
}

static void fire_timers(struct loop *lp, double now)
{
  while(lp->nheap && lp->heap[0]->timer.when <= now) {
    struct task *t = lp->heap[0];
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
      struct task *t = tr->owner;
      tr->owner = NULL;
      if(t->wait == WAIT_TRANSFER && t->transfer == tr) {
        t->wait = WAIT_NONE;
        t->transfer = NULL;
        loop_wake(t);
      }
    }
  }
  wake_slot_waiters(lp);
}

static void cancel_all(struct loop *lp)
{
  struct task *t;
  for(t = lp->live; t; t = t->next)
    loop_cancel(t);
}

void loop_stop(void)
{
  struct loop *lp = the_loop;
  struct task *t;
  lp->stopping = 1;
  interrupt_pending = 0;
  for(t = lp->live; t; t = t->next)
    t->stopped = 1;
  cancel_all(lp);
}

static void drain_sigpipe(void)
{
  char b[64];
  while(sigpipe_fds[0] >= 0 && read(sigpipe_fds[0], b, sizeof(b)) > 0)
    ;
}

/* A signal came: stop every task, once. */
static void check_interrupt(struct loop *lp)
{
  if(lp->interrupted && !lp->stopping) {
    drain_sigpipe();
    loop_stop();
  }
}

void loop_run(struct task *until)
{
  struct loop *lp = the_loop;

  while(lp->nlive && !(until && until->state == TASK_DONE)) {
    int timeout_ms;
    double now;

    while(lp->ready_head) {
      struct task *t = lp->ready_head;
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
      double d = (lp->heap[0]->timer.when - now) * 1000.0;
      timeout_ms = d <= 0 ? 0 : (int)ceil(d);
      if(d > 60000.0)
        timeout_ms = 60000;
    }
    else
      timeout_ms = 60000;
    if(!lp->running_transfers && !lp->nheap && !lp->ready_head) {
      /* Every live task waits on another task: none can ever wake. */
      fprintf(stderr, "retryrun: every task waits on another task: "
              "cancelling them all\n");
      cancel_all(lp);
      continue;
    }
    if(lp->multi) {
      struct curl_waitfd extra;
      int numfds, still;
      extra.fd = sigpipe_fds[0];
      extra.events = CURL_WAIT_POLLIN;
      extra.revents = 0;
      curl_multi_poll(lp->multi, sigpipe_fds[0] >= 0 ? &extra : NULL,
                      sigpipe_fds[0] >= 0 ? 1 : 0, timeout_ms, &numfds);
      if(lp->running_transfers)
        curl_multi_perform(lp->multi, &still);
      reap_transfers(lp);
    }
    else {
      struct pollfd pfd;
      pfd.fd = sigpipe_fds[0];
      pfd.events = POLLIN;
      poll(&pfd, sigpipe_fds[0] >= 0 ? 1 : 0, timeout_ms);
    }
    fire_timers(lp, loop_now());
    check_interrupt(lp);
  }
}
