/*
 * runtime.h - the process state of one run, found from any lua_State of it
 * (as luv's luv_context): the event loop and the generator behind jitter.
 *
 * host.c owns the one struct runtime and, when it makes the Lua state and
 * before any thread exists, stores a pointer to it in the state's extra
 * space (lua_getextraspace); every coroutine starts with a copy of that
 * space, so runtime_of() works on any thread. The bindings reach the loop
 * and the generator only this way, never through a global. Holds no Lua
 * values and calls nothing.
 */
#ifndef RETRYRUN_RUNTIME_H
#define RETRYRUN_RUNTIME_H

#include <string.h>
#include <lua.h>

#include "guard.h"
#include "policy.h"

struct chaos;
struct loop;
struct ratelimit;
struct summary;
struct report;

/* 1 when the bindings must report each attempt and call: to -v, --log,
 * the summary, the progress line or --report. */
#define runtime_observed(rt) ((rt)->trace || (rt)->log || (rt)->summary || \
                              (rt)->progress || (rt)->report)

struct runtime {
  struct loop *loop;         /* never NULL while scripts run */
  struct policy_rng rng;     /* jitter; seeded by --seed, RETRYRUN_SEED or
                                core.seed() */
  unsigned tasks;            /* tasks spawned so far: their ids */
  /* -v: the bindings hand a line per attempt to trace, which the host
   * sets (and which prints); NULL when not tracing */
  void (*trace)(const char *line);
  int wire;                  /* -vv: the trace adds each attempt's request
                                and response headers (lua_wire.c) */
  /* --log: a JSON object per attempt and per finished call, handed to
   * log, which the host sets (and which writes); NULL when not logging */
  void (*log)(void *ud, const char *line);
  void *log_ud;
  unsigned calls;            /* calls made so far: their ids */
  struct summary *summary;   /* the end-of-run summary's records, or NULL
                                when none is asked for */
  /* the progress line on a terminal: the host's drawing function, called
   * after every attempt and call (it limits itself); NULL when off */
  void (*progress)(struct runtime *rt);
  long done_calls, retries, giveups;  /* counted while progress is on */
  long polls;                /* http.poll's polls, likewise */
  long map_done, map_total;  /* the latest run.map's items */
  struct report *report;     /* --report's records (report.h), or NULL
                                when no report is asked for */
  struct report *steps;      /* without a report, under -v: the run.step
                                names alone, for the trace; else NULL */
  int color;                 /* the trace may use colour */
  double started;            /* loop_now() when the run began */
  struct ratelimit *rate;    /* run.limits{rate = ...}, or NULL */
  double rate_waited;        /* seconds requests waited for rate limits */
  long rate_waits;           /* requests that waited */
  long rate_cuts;            /* times an adaptive rate was lowered */
  struct chaos *chaos;       /* --chaos, or NULL: off */
  struct guard guard;        /* each host's budget, breaker and cool-down
                                (guard.h); host.c frees it */
  /* the bytes of the URL string lua_guard.c last found a host's state
   * for (kept in luax.h's LUAX_K_GUARD_URL, so that it stays alive), or
   * NULL, and that state */
  const char *guard_url;
  struct guard_state *guard_last;
};

/* The runtime of the state L belongs to (set by runtime_set on its main
 * thread before any other thread was made). */
static inline struct runtime *runtime_of(lua_State *L)
{
  struct runtime *rt;
  memcpy(&rt, lua_getextraspace(L), sizeof(rt));
  return rt;
}

/* Stores rt in L's extra space: call on the main thread, before any
 * coroutine exists. */
static inline void runtime_set(lua_State *L, struct runtime *rt)
{
  memcpy(lua_getextraspace(L), &rt, sizeof(rt));
}

#endif
