/*
 * guard.h - what keeps retries from becoming a storm, per host: a retry
 * budget, a circuit breaker and a shared cool-down, as plain state and
 * pure functions.
 *
 * One struct guard_state a key (a URL's scheme, host and port, or a name a
 * policy gives), kept for the whole run and shared by every task: every
 * call to a host spends from the same budget, trips the same breaker and
 * waits out the same cool-down. A call reads its own settings (struct
 * guard_conf, from its policy) and applies them to the shared state.
 *
 * No Lua, no curl, no clock: callers pass every time in (monotonic
 * seconds), so the arithmetic is unit-tested without a network
 * (spec/c/test_guard.c). lua_guard.c makes calls use it.
 */
#ifndef RETRYRUN_GUARD_H
#define RETRYRUN_GUARD_H

#include <stddef.h>

struct dynbuf;

enum guard_budget_mode { GUARD_BUDGET_OFF = 0, GUARD_BUDGET_BUCKET,
                         GUARD_BUDGET_RATIO };

/* A call's settings, compiled from its policy's budget, breaker and
 * when_open fields. guard_conf_init() gives the defaults. */
struct guard_conf {
  enum guard_budget_mode budget;
  double tokens, retry_cost, timeout_cost, refill;   /* bucket */
  double ratio, min_per_second;                       /* ratio */
  int breaker;                /* the breaker is on */
  double fail_ratio;          /* opens at this share of failed attempts */
  int min_calls;              /* ... among at least this many */
  double window;              /* ... in the last `window` seconds */
  double break_for;           /* stays open this long */
  int consecutive;            /* or opens after this many failures in a
                                 row; 0: only the ratio */
  int when_open_wait;         /* wait for the probe instead of failing */
  int named_key;              /* the policy names its key */
};

void guard_conf_init(struct guard_conf *g);

/* Buckets of the sliding windows: the breaker's spans `window`, the
 * ratio budget's GUARD_RATIO_WINDOW seconds. */
#define GUARD_SLOTS 10
#define GUARD_RATIO_WINDOW 10.0

enum guard_breaker { GUARD_CLOSED = 0, GUARD_OPEN, GUARD_HALF_OPEN };

/* Where a task waits for the breaker's probe: a node the caller embeds
 * in its own record. ud is the caller's. */
struct guard_waiter {
  struct guard_waiter *prev, *next;
  void *ud;
};

struct guard_state {
  struct guard_state *next;   /* hash chain */
  char *key;                  /* owned */
  char *label;                /* "host:port" or the name; owned */
  /* budget */
  int budget_used;            /* the bucket has been drawn from */
  double tokens;
  long firsts[GUARD_SLOTS], retries[GUARD_SLOTS];
  long ratio_slot;            /* the newest slot of the ratio window */
  int refusing;               /* the last ask was refused (-v said so) */
  /* breaker */
  enum guard_breaker breaker;
  double open_until;          /* OPEN: when a probe may go */
  double probe_until;         /* HALF_OPEN: when the probe's lease ends */
  int consecutive;
  long calls[GUARD_SLOTS], fails[GUARD_SLOTS];
  long window_slot;           /* the index of the newest slot */
  struct guard_waiter waiters;     /* list head: waiting for the probe */
  /* cool-down */
  double cool_until;
  const char *cool_source;    /* the header it came from; static */
  /* what happened, for the summary */
  long charged, refused, opened, failed_fast, probes, cool_downs,
       cool_waits;
  double cool_longest, cool_waited;
};

/* Every key's state. Zero it to start; guard_free() at the end. */
struct guard {
  struct guard_state **tab;
  size_t cap, n;
};

/* The state of key, made on first use and labelled label; with label
 * NULL, only found (NULL when there is none yet). NULL when memory runs
 * out. Pointers stay valid until guard_free(). */
struct guard_state *guard_get(struct guard *g, const char *key,
                              const char *label);
void guard_free(struct guard *g);

/* ---- the retry budget ---- */

/* Asks for a retry after an attempt that failed (timeout: it timed out).
 * Bucket: costs retry_cost (timeout_cost after a timeout) from a bucket
 * that holds `tokens` when full; refused when the bucket has less.
 * Ratio: allowed while the retries of the last GUARD_RATIO_WINDOW seconds
 * are fewer than ratio times the first attempts in them, or fewer than
 * min_per_second were made in this second. Returns 1 (and charges it) or
 * 0 (and counts the refusal). */
int guard_budget_take(struct guard_state *s, const struct guard_conf *c,
                      int timeout, double now);
/* A bucket's retry charged `cost` that was not sent after all (the
 * breaker, a cool-down or the deadline stopped it): the cost goes back. */
void guard_budget_refund(struct guard_state *s, const struct guard_conf *c,
                         double cost);

/* ---- the breaker ---- */

enum guard_admit {
  GUARD_GO = 0,               /* closed: send */
  GUARD_PROBE,                /* half-open: this attempt is the probe */
  GUARD_WAIT_BREAK,           /* open until *until */
  GUARD_WAIT_PROBE            /* a probe is out; its lease ends *until */
};

/* May an attempt be sent now? An open breaker whose break is over lets
 * the first attempt that asks through as the probe (lease: the probe
 * holds half-open until now + lease, when another may go). */
enum guard_admit guard_admit(struct guard_state *s, const struct guard_conf *c,
                             double now, double lease, double *until);

/* What guard_note() saw happen to the breaker. */
enum guard_change { GUARD_SAME = 0, GUARD_OPENED, GUARD_CLOSED_AGAIN,
                    GUARD_REOPENED };

/* An attempt ended. first: it was a call's first; failed: a transport
 * failure or a 5xx (the breaker's failure); accepted: the call took it;
 * probe: it was the breaker's probe; retry_cost: what its retry was
 * charged. Counts it for the ratio budget; when it succeeded (accepted
 * and not failed: a 500 taken as the answer is no success) refills the
 * bucket by refill, or refunds retry_cost, as AWS does; moves the
 * breaker. Wakes no one: on a change the caller wakes the waiters
 * (guard_waiters_take). */
enum guard_change guard_note(struct guard_state *s,
                             const struct guard_conf *c, int first,
                             int failed, int accepted, int probe,
                             double retry_cost, double now);

/* The waiters list: add, remove (idempotent), and take them all: the
 * list is empty after, and the caller walks from the returned node by
 * next to NULL, zeroing each node's next and prev before it wakes it. */
void guard_waiter_add(struct guard_state *s, struct guard_waiter *w);
void guard_waiter_remove(struct guard_waiter *w);
struct guard_waiter *guard_waiters_take(struct guard_state *s);

/* ---- the cool-down ---- */

/* The headers a cool-down is read from, in the order they are tried. */
#define GUARD_COOL_HEADERS 4
extern const char *const guard_cool_headers[GUARD_COOL_HEADERS];

/* The server's ask in seconds from the values of guard_cool_headers
 * (NULL for a header that is absent), the first that parses winning:
 * Retry-After as seconds or an HTTP date; the others as seconds, or,
 * when 1e9 or more, as a Unix time. Returns the index of the header
 * used and sets *seconds (>= 0), or -1 when none parses. */
int guard_cool_ask(const char *const values[GUARD_COOL_HEADERS],
                   double now_wall, double *seconds);

/* Starts (or lengthens) the cool-down until `until`; returns 1 when it
 * starts or lengthens it by a second or more (worth a line in -v). */
int guard_cool_down(struct guard_state *s, double until, const char *source,
                     double seconds);

/* ---- reporting ---- */

/* Rows for the text summary (one line a strategy that did something, per
 * key), or the JSON array "guards":[...] (with a leading comma). */
void guard_say_text(const struct guard *g, struct dynbuf *t);
void guard_say_json(const struct guard *g, struct dynbuf *t);

#endif
