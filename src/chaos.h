/*
 * chaos.h - client-side faults for rehearsing a runbook against a real
 * API (--chaos 'fail=0.01,status=503,latency=0.05:200ms,reset=0.01,seed=7'):
 * which fault, if any, each attempt gets.
 *
 * The draw for an attempt depends only on the seed, the task, the task's
 * call number and the attempt number, never on the order in which tasks
 * happen to run: the same seed gives the same faults to the same attempts.
 *
 * Pure C: no Lua, no libcurl, no clock, no printing.
 */
#ifndef RETRYRUN_CHAOS_H
#define RETRYRUN_CHAOS_H

#include <stddef.h>
#include <stdint.h>

enum chaos_fault {
  CHAOS_NONE = 0,
  CHAOS_FAIL,                  /* answer `status` without sending */
  CHAOS_RESET,                 /* fail as a reset, not sent */
  CHAOS_LATENCY,               /* wait `latency` before sending */
  CHAOS_NFAULTS
};

struct chaos {
  double fail, reset, latency_p;   /* probabilities, 0 to 1 */
  double latency;                  /* seconds */
  int status;                      /* 400 to 599 (503) */
  uint64_t seed;
  int seeded;                      /* seed= was given */
  long injected[CHAOS_NFAULTS];    /* counted by whoever injects them */
};

/* Finds the known name nearest to name for "did you mean" (lua_check.c's
 * check_suggest): writes " (did you mean 'x'?)" or "" into out. */
typedef void chaos_suggest_fn(const char *name, const char *const *known,
                              char *out, size_t n);

/* Parses spec into c: comma-separated key=value pairs, keys fail, reset
 * (probabilities), latency (P:DURATION, as 0.05:200ms or 0.1:1.5s),
 * status and seed, each at most once, and at least one fault. Returns 0,
 * or -1 with a message in err (a misspelt key gets suggest's "did you
 * mean" when suggest is not NULL). */
int chaos_parse(const char *spec, struct chaos *c, chaos_suggest_fn *suggest,
                char *err, size_t errlen);

/* The fault of attempt `attempt` of the task's call number `call`. */
enum chaos_fault chaos_draw(const struct chaos *c, unsigned task,
                            unsigned call, int attempt);

/* The faults that apply, and the seed: "fail=0.01 status=503
 * latency=0.05:200ms reset=0.01 seed=7" (a fault with probability 0 left
 * out). */
void chaos_describe(const struct chaos *c, char *out, size_t n);

/* "fail", "reset", "latency". */
const char *chaos_fault_name(enum chaos_fault f);

#endif
