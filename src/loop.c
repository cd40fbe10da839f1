/*
 * loop.c - the event loop (see loop.h).
 *
 * One turn: resume every ready task; then wait in curl_multi_poll() until a
 * socket is ready, the next timer is due, or a signal (SIGINT, SIGTERM)
 * writes to the self-pipe; then let libcurl work, wake the tasks whose
 * transfers finished and those whose timers passed. A signal that comes
 * while Lua code runs also interrupts that code, through a hook. Uses
 * libcurl's multi interface and Lua's coroutine API; knows nothing of HTTP
 * requests or retry policies, nor of who owns the tasks: an ended task is
 * reported through the callback given to loop_new(). Never prints.
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
#include "curlapi.h"
#include "transfer.h"

struct loop {
  void *multi;               /* CURLM *, made at the first transfer */
  struct loop_task **heap;   /* tasks whose timer is armed */
  size_t nheap, capheap;
  struct loop_task *ready_head, *ready_tail;
  struct loop_task *live;    /* every task not yet done */
  size_t nlive;
  struct loop_task *current; /* the task being resumed */
  size_t running_transfers;
  int stopping;              /* loop_stop() ran: every task is cancelled */
  long max_total, max_host;  /* connection caps; 0: none */
  struct loop_task *slot_head, *slot_tail;  /* tasks waiting for a slot */
  size_t slots_granted;      /* handed to woken tasks, not yet used */
  int pipe_r;                /* the self-pipe's read end, or -1 */
  loop_finish_fn *finish;    /* reports an ended task to its owner */
  void *finish_data;
};

char loop_suspend_marker;

/* What a signal handler needs, process-wide because a handler has no
 * argument to find a loop through: this is the only state of loop.c
 * outside struct loop. `loop` is the one loop_new() made, for the hook the
 * handler arms (it marks the running task cancelled). */
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

int loop_interrupted(void)
{
  return sig.interrupted;
}

/* ---- the timer heap: a binary min-heap of tasks by their `when` ---- */

static void heap_set(struct loop *lp, size_t i, struct loop_task *t)
{
  lp->heap[i] = t;
  t->heap_index = i;
}

static void heap_up(struct loop *lp, size_t i)
{
  struct loop_task *t = lp->heap[i];
  while(i > 0) {
    size_t parent = (i - 1) / 2;
    if(lp->heap[parent]->when <= t->when)
      break;
    heap_set(lp, i, lp->heap[parent]);
    i = parent;
  }
  heap_set(lp, i, t);
}

static void heap_down(struct loop *lp, size_t i)
{
  struct loop_task *t = lp->heap[i];
  for(;;) {
    size_t c = 2 * i + 1;
    if(c >= lp->nheap)
      break;
    if(c + 1 < lp->nheap && lp->heap[c + 1]->when < lp->heap[c]->when)
      c++;
    if(t->when <= lp->heap[c]->when)
      break;
    heap_set(lp, i, lp->heap[c]);
    i = c;
  }
  heap_set(lp, i, t);
}

static enum loop_result heap_push(struct loop *lp, struct loop_task *t)
{
  if(lp->nheap == lp->capheap) {
    size_t cap = lp->capheap ? lp->capheap * 2 : 64;
    struct loop_task **h = realloc(lp->heap, cap * sizeof(*h));
    if(!h)
      return LOOP_NOMEM;
    lp->heap = h;
    lp->capheap = cap;
  }
  heap_set(lp, lp->nheap++, t);
  heap_up(lp, lp->nheap - 1);
  return LOOP_OK;
}

static void heap_remove(struct loop *lp, struct loop_task *t)
{
  size_t i = t->heap_index;
  if(i == NOT_ARMED)
    return;
  t->heap_index = NOT_ARMED;
  lp->nheap--;
  if(i == lp->nheap)
    return;
  heap_set(lp, i, lp->heap[lp->nheap]);
  heap_down(lp, i);
  heap_up(lp, lp->heap[i]->heap_index);
}

/* ---- tasks ---- */

struct loop_task *loop_current(struct loop *lp)
{
  return lp->current;
}

enum task_state loop_task_state(const struct loop_task *t)
{
  return t->state;
}

enum task_wait loop_task_wait(const struct loop_task *t)
{
  return t->wait;
}

int loop_task_fired(const struct loop_task *t)
{
  return t->fired;
}

int loop_task_cancelled(const struct loop_task *t)
{
  return t->cancelled;
}

int loop_task_stopped(const struct loop_task *t)
{
  return t->stopped;
}

int loop_task_slot_granted(const struct loop_task *t)
{
  return t->slot_granted;
}

void loop_task_start(struct loop *lp, struct loop_task *t, lua_State *co,
                     int nargs)
{
  t->loop = lp;
  t->co = co;
  t->nargs = nargs;
  t->heap_index = NOT_ARMED;
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

void loop_task_done(struct loop_task *t)
{
  struct loop *lp = t->loop;
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

void loop_wake(struct loop_task *t)
{
  struct loop *lp = t->loop;
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

enum loop_result loop_wait_transfer(struct loop_task *t, struct transfer *tr)
{
  struct loop *lp = t->loop;
  if(!multi(lp) || curl_multi_add_handle(lp->multi, tr->easy) != CURLM_OK)
    return LOOP_NOCURL;
  tr->owner = t;
  t->wait = WAIT_TRANSFER;
  t->transfer = tr;
  lp->running_transfers++;
  if(t->slot_granted) {
    t->slot_granted = 0;
    lp->slots_granted--;
  }
  return LOOP_OK;
}

enum loop_result loop_wait_timer(struct loop_task *t, double when)
{
  t->fired = 0;
  t->when = when;
  if(heap_push(t->loop, t))
    return LOOP_NOMEM;
  t->wait = WAIT_TIMER;
  return LOOP_OK;
}

enum loop_result loop_wait_task(struct loop_task *t, double deadline)
{
  t->fired = 0;
  if(deadline > 0) {
    t->when = deadline;
    if(heap_push(t->loop, t))
      return LOOP_NOMEM;
  }
  t->wait = WAIT_TASK;
  return LOOP_OK;
}

static int slots_left(struct loop *lp)
{
  return lp->max_total <= 0 ||
         lp->running_transfers + lp->slots_granted < (size_t)lp->max_total;
}

int loop_slot_free(struct loop_task *t)
{
  struct loop *lp = t->loop;
  return t->slot_granted || (!lp->slot_head && slots_left(lp));
}

void loop_slot_giveback(struct loop_task *t)
{
  struct loop *lp = t->loop;
  if(!t->slot_granted)
    return;
  t->slot_granted = 0;
  lp->slots_granted--;
  wake_slot_waiters(lp);
}

enum loop_result loop_wait_slot(struct loop_task *t, double deadline)
{
  struct loop *lp = t->loop;
  t->fired = 0;
  t->when = deadline;
  if(heap_push(lp, t))
    return LOOP_NOMEM;
  t->wait = WAIT_SLOT;
  t->slot_next = NULL;
  t->slot_prev = lp->slot_tail;
  if(lp->slot_tail)
    lp->slot_tail->slot_next = t;
  else
    lp->slot_head = t;
  lp->slot_tail = t;
  return LOOP_OK;
}

static void slot_unlink(struct loop *lp, struct loop_task *t)
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
    struct loop_task *t = lp->slot_head;
    slot_unlink(lp, t);
    heap_remove(lp, t);
    t->slot_granted = 1;
    lp->slots_granted++;
    t->wait = WAIT_NONE;
    loop_wake(t);
  }
}

void loop_wait_cancel(struct loop_task *t)
{
  struct loop *lp = t->loop;
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

void loop_cancel(struct loop_task *t)
{
  if(t->state == TASK_DONE)
    return;
  t->cancelled = 1;
  if(t->state == TASK_WAITING) {
    loop_wait_cancel(t);
    loop_wake(t);
  }
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
