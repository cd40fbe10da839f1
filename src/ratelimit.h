/*
 * ratelimit.h - client-side rate limits per host: the rules a script sets
 * with run.limits{rate = ...}, and when each request may go out.
 *
 * A fixed rate is GCRA (the generic cell rate algorithm): a theoretical
 * arrival time per bucket, so a bucket is two numbers, and a request that
 * asks when it may go reserves its place at once (first come, first
 * served; no one polls). "adaptive" starts with no limit; a 429 sets one
 * at half the rate requests were being sent at, which then grows back by
 * a tenth of itself each second, and is lifted once it reaches twice the
 * rate that drew the 429.
 *
 * Pure C: no Lua, no libcurl, no clock (times are the caller's monotonic
 * seconds), no printing. url.c reads origins.
 */
#ifndef RETRYRUN_RATELIMIT_H
#define RETRYRUN_RATELIMIT_H

#include <stddef.h>

#define RATELIMIT_MAX_RATE 1e6        /* requests a second */
#define RATELIMIT_MAX_BURST 100000
#define RATELIMIT_ADAPTIVE_FLOOR 1.0  /* an adaptive limit never goes
                                         below a request a second */

/* A rate as written: "50/s", "3000/min", "2/h", "50/s burst 10",
 * "adaptive". */
struct rate_spec {
  int adaptive;
  double interval;             /* seconds between requests */
  long burst;                  /* requests that may go at once, >= 1 */
};

/* Parses s into sp. Returns 0, or -1 with a message in err that quotes s
 * and says what a rate looks like. */
int rate_spec_parse(const char *s, struct rate_spec *sp, char *err,
                    size_t errlen);

struct ratelimit;              /* opaque: the rules and their buckets */

/* An empty set of rules, or NULL when out of memory. */
struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl);

/* Adds a rule for key: "*" (every origin, each with its own bucket), a
 * host ("api.example.com"), a host and port ("api.example.com:8443") or
 * an origin ("https://api.example.com:443"); the requests a rule other
 * than "*" matches share its one bucket. Returns 0, -1 with a message in
 * err for a malformed key, -2 when out of memory. */
int ratelimit_add(struct ratelimit *rl, const char *key,
                  const struct rate_spec *sp, char *err, size_t errlen);

/* The rule a request to url falls under: the origin rule first, then
 * host:port, then host, then "*"; NULL when none. */
struct rate_rule *ratelimit_match(struct ratelimit *rl, const char *url);

/* Reserves the next place of a request to url asked for at now: sets
 * *at to when it may go (now when at once), or leaves nothing reserved
 * and returns 1 when that is later than deadline. Returns 0, or -2 when
 * out of memory (nothing reserved). */
int ratelimit_reserve(struct ratelimit *rl, const char *url, double now,
                      double deadline, double *at);

/* A 429 came back for a request to url sent at `sent`: an adaptive rule
 * lowers its rate (once for the requests sent before it lowered it).
 * Returns the new rate, requests a second, or 0 when it changed nothing. */
double ratelimit_throttled(struct ratelimit *rl, const char *url,
                           double sent, double now);

/* The rate a request to url is held to now, in requests a second; 0 when
 * none (no rule, or an adaptive one that sets no limit now). */
double ratelimit_rate(struct ratelimit *rl, const char *url, double now);

#endif
