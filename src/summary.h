/*
 * summary.h - the end-of-run summary: per endpoint (a method and a URL
 * path with its ids folded, "GET /items/{id}"), the calls, attempts,
 * retries by reason, give-ups, first-try and final success, latency
 * percentiles and time spent waiting; and the reliability the retries
 * bought, in the terms of a flow of ten calls.
 *
 * Pure C: records in (from the bindings, through struct runtime), text or
 * JSON out into a caller's buffer. No Lua, no libcurl, no printing.
 */
#ifndef RETRYRUN_SUMMARY_H
#define RETRYRUN_SUMMARY_H

#include <stddef.h>

struct summary_endpoint;
struct guard;

struct summary {
  struct summary_endpoint *eps;   /* owned, in the order first seen */
  size_t n, cap;
  int oom;                        /* a record was lost to memory */
  /* the run's clock was fake (retryrun --fake-clock): its waits took no
   * real time, `skipped` seconds in all, and call times count them */
  int fake_clock;
  double skipped;
  /* set by the host at the end: --chaos as it applied ("" when off) and
   * the faults it injected; the time requests waited for rate limits */
  char chaos[160];
  long chaos_fail, chaos_reset, chaos_latency;
  double rate_waited;
  long rate_waits, rate_cuts;
  const struct guard *guard;      /* the per-host guards' rows, or NULL */
};

/* Writes the endpoint of method and url into key (n bytes): the method,
 * a space, and the URL's path with every segment that looks like an id
 * (digits, a UUID, a long hex string) written {id}; no query. */
void summary_endpoint_key(const char *method, const char *url, char *key,
                          size_t n);

/* One attempt of a call to endpoint key: why the attempt before it was
 * retried ("" for a first attempt or a hedge's copy: no retry), how long
 * it took, and the wait after it (0 when it is not retried). */
void summary_attempt(struct summary *s, const char *key, const char *why,
                     double duration, double wait);
/* How a call ended. OK: it returned, with a response expect= took when
 * it had one. GAVE_UP: it ran out of tries (or its policy refused one).
 * UNEXPECTED: it returned a response, and its expect= raised on it.
 * TO_WRAPPER: made inside a policy(fn) wrapper, it failed (either way)
 * and its error went to the wrapper: one of the wrapper's attempts, which
 * the wrapper's own call counts, never a give-up of the run. */
enum summary_outcome {
  SUMMARY_OK, SUMMARY_GAVE_UP, SUMMARY_UNEXPECTED, SUMMARY_TO_WRAPPER
};

/* A finished call: how it ended, its attempts (ok first time when 1: the
 * caller leaves out hedged copies none of which won), its duration. */
void summary_call(struct summary *s, const char *key,
                  enum summary_outcome outcome, int attempts,
                  double duration);
/* A call made as a poll (its own summary_call comes first): not_ready 1
 * when its answer was not ready yet. A poll is never a retry: it counts
 * here, not in the retries. */
void summary_poll(struct summary *s, const char *key, int not_ready);

/* A hedged call's hedges: sent, won (0 or 1), attempts cancelled. */
void summary_hedges(struct summary *s, const char *key, int sent, int won,
                    int cancelled);

/* The summary as text lines, or as one JSON object, into a malloc'd
 * string; NULL when memory ran out. */
char *summary_text(const struct summary *s);
char *summary_json(const struct summary *s);

/* A threshold: "[ENDPOINT:] METRIC OP VALUE[UNIT]", e.g. "giveups > 0",
 * "retry_rate > 5%", "GET /items/{id}: p95 > 200ms". Metrics: calls,
 * attempts, retries, giveups, polls, retry_rate (retries per attempt),
 * giveup_rate, first_try_rate, ok_rate (per call that ended on its own:
 * one left to its wrapper is the wrapper's), p50, p95, p99 (call
 * latency), attempt_p50, attempt_p95, attempt_p99, waited. Units: %,
 * ms, s. */
struct summary_threshold {
  char endpoint[200];          /* "" for the whole run */
  int metric;
  int op;                      /* '<', '>', 'l' (<=), 'g' (>=), '=' */
  double value;                /* seconds for times, 0..1 for rates */
};

/* Parses expr into t. Returns 0, or -1 with the reason in err. */
int summary_threshold_parse(const char *expr, struct summary_threshold *t,
                            char *err, size_t errlen);

/* 1 when the run's records break t (what happened in msg), else 0. A
 * named endpoint that made no call breaks it; over the whole run, counts
 * are 0 when no call was made, and rates and latencies break nothing. */
int summary_threshold_broken(const struct summary *s,
                             const struct summary_threshold *t, char *msg,
                             size_t msglen);

void summary_free(struct summary *s);

#endif
