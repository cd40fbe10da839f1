/*
 * loop_internal.h - what loop.c and loop_wait.c share: the loop's state
 * and the queue operations the turn of the loop and the waits both use.
 * Nothing outside those two files includes it.
 */
#ifndef RETRYRUN_LOOP_INTERNAL_H
#define RETRYRUN_LOOP_INTERNAL_H

#include <stddef.h>

#include "curlapi.h"
#include "loop.h"

struct loop {
  void *multi;               /* CURLM *, made at the first transfer */
  struct loop_task **heap;   /* tasks whose timer is armed */
  size_t nheap, capheap;
  struct loop_task *ready_head, *ready_tail;
  struct loop_task *live;    /* every task not yet done */
  size_t nlive;
  struct loop_task *current; /* the task being resumed */
  size_t running_transfers;
  int added;                 /* a transfer was added since the last turn:
                                libcurl wants to be driven at once */
  int stopping;              /* loop_stop() ran: every task is cancelled */
  long max_total, max_host;  /* connection caps; 0: none */
  struct loop_task *slot_head, *slot_tail;  /* tasks waiting for a slot */
  size_t slots_granted;      /* handed to woken tasks, not yet used */
  int pipe_r;                /* the self-pipe's read end, or -1 */
  loop_finish_fn *finish;    /* reports an ended task to its owner */
  void *finish_data;
};

/* A task's heap_index when its timer is not armed. */
#define NOT_ARMED ((size_t)-1)

/* The multi handle, made at the first transfer (a script that makes no
 * HTTP call never starts libcurl); NULL if libcurl cannot start. */
CURLM *loop_multi(struct loop *lp);

/* The timer heap: a binary min-heap of tasks by their `when`. */
enum loop_result heap_push(struct loop *lp, struct loop_task *t);
void heap_remove(struct loop *lp, struct loop_task *t);

/* The line for transfer slots: take t out of it; hand free slots to the
 * tasks at its head. */
void slot_unlink(struct loop *lp, struct loop_task *t);
void wake_slot_waiters(struct loop *lp);

#endif
