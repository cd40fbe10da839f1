/*
 * loop_wait.c - what a task of the loop waits on, and its life (see
 * loop.h): the timer heap, the run queue's entry and exit, waits on a
 * transfer, a timer, another task and a transfer slot, and cancelling a
 * wait. The turn of the loop that fires timers and reaps transfers is
 * loop.c's. Knows Lua only as the coroutines it is handed.
 */
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "loop_internal.h"
#include "transfer.h"

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

enum loop_result heap_push(struct loop *lp, struct loop_task *t)
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

void heap_remove(struct loop *lp, struct loop_task *t)
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

enum loop_result loop_transfer_add(struct loop_task *t, struct transfer *tr)
{
  struct loop *lp = t->loop;
  if(!loop_multi(lp) || curl_multi_add_handle(lp->multi, tr->easy) != CURLM_OK)
    return LOOP_NOCURL;
  tr->owner = t;
  lp->running_transfers++;
  lp->added = 1;
  if(t->slot_granted) {
    t->slot_granted = 0;
    lp->slots_granted--;
  }
  return LOOP_OK;
}

enum loop_result loop_wait_transfer(struct loop_task *t, struct transfer *tr)
{
  enum loop_result r = loop_transfer_add(t, tr);
  if(r)
    return r;
  t->wait = WAIT_TRANSFER;
  t->transfer = tr;
  return LOOP_OK;
}

enum loop_result loop_wait_transfers(struct loop_task *t, double when)
{
  t->fired = 0;
  if(t->wait == WAIT_TRANSFER)
    t->transfer = NULL;              /* still owned: it wakes t below */
  t->wait = WAIT_NONE;
  if(when > 0) {
    t->when = when;
    if(heap_push(t->loop, t))
      return LOOP_NOMEM;
  }
  t->wait = WAIT_TRANSFERS;
  return LOOP_OK;
}

void loop_transfer_remove(struct transfer *tr)
{
  struct loop_task *t = tr->owner;
  struct loop *lp;
  if(!t)
    return;                          /* ended (or never added) */
  if(t->wait == WAIT_TRANSFER && t->transfer == tr) {
    loop_wait_cancel(t);
    return;
  }
  lp = t->loop;
  curl_multi_remove_handle(lp->multi, tr->easy);
  lp->running_transfers--;
  tr->owner = NULL;
  wake_slot_waiters(lp);
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

void slot_unlink(struct loop *lp, struct loop_task *t)
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
void wake_slot_waiters(struct loop *lp)
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
  case WAIT_TRANSFERS:               /* the transfers stay: see loop.h */
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
