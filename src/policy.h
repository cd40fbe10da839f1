/*
 * policy.h - the retry decision, as pure functions over plain structs.
 *
 * Given how one attempt of an HTTP call ended and the policy that governs the
 * call, decide: accept it, retry it after a delay, or give up (and why).
 * Also backoff with jitter (AWS's formulas), Retry-After parsing, deadline
 * arithmetic and a small seeded generator.
 *
 * No Lua, no curl, no clock: callers pass every time in, so every function
 * here is deterministic and unit-tested without a network (spec/c/).
 */
#ifndef RETRYRUN_POLICY_H
#define RETRYRUN_POLICY_H

#include <stdint.h>

/* How one attempt ended. POLICY_RESPONSE: an HTTP response arrived; the
 * others are transport failures, classed by transfer_classify(). */
enum policy_class {
  POLICY_RESPONSE = 0,
  POLICY_CONNECT,     /* refused, unreachable, connect timeout: never sent */
  POLICY_DNS,         /* name not resolved: never sent */
  POLICY_TIMEOUT,     /* the attempt's timeout passed after connecting */
  POLICY_RESET,       /* send/receive error, empty reply, partial body */
  POLICY_TLS,         /* handshake or certificate failure */
  POLICY_TOO_LARGE,   /* body over max_body: never retried */
  POLICY_OTHER,       /* anything else libcurl reports */
  POLICY_NCLASSES
};

/* "response", "connect", "dns", "timeout", "reset", "tls", "too_large",
 * "other"; "unknown" for a value outside the enum. Static strings. */
const char *policy_class_name(enum policy_class cls);
/* The class for a name, or -1 when the name is unknown. */
int policy_class_from_name(const char *name);

enum policy_jitter {
  POLICY_JITTER_FULL = 0,
  POLICY_JITTER_EQUAL,
  POLICY_JITTER_DECORRELATED,
  POLICY_JITTER_NONE
};
/* The jitter for "full", "equal", "decorrelated", "none"; -1 if unknown. */
int policy_jitter_from_name(const char *name);

#define POLICY_MIN_STATUS 100
#define POLICY_MAX_STATUS 599

/* A compiled policy. policy_init() fills in the defaults README.md lists. */
struct policy {
  int attempts;                 /* tries in all, >= 1 */
  uint64_t retry_status[10];    /* bit s set: status s (0..639) is retried */
  unsigned retry_class;         /* bit (1u << class) set: class retried */
  double initial, factor, max;  /* backoff, seconds */
  enum policy_jitter jitter;
  double deadline;              /* seconds for the whole call */
  double timeout;               /* seconds for one attempt */
  double connect_timeout;       /* seconds */
  int retry_after;              /* honour Retry-After */
  double max_retry_after;       /* seconds */
  int unsafe;                   /* retry POST/PATCH even if sent */
};

void policy_init(struct policy *p);
/* Statuses outside 0..639 are ignored by set and never retried. */
void policy_set_status(struct policy *p, int status, int on);
int policy_status_retried(const struct policy *p, int status);
void policy_clear_retry_on(struct policy *p); /* no status, no class */

/* splitmix64: small, fast, and the same sequence for the same seed. */
struct policy_rng {
  uint64_t state;
};
void policy_rng_seed(struct policy_rng *r, uint64_t seed);
uint64_t policy_rng_u64(struct policy_rng *r);
double policy_rng_double(struct policy_rng *r); /* uniform in [0, 1) */

/* The wait before retry number n (n = 1 after the first attempt failed).
 * With b = initial * factor^(n-1) capped at max:
 *   none:         b
 *   full:         uniform [0, b]
 *   equal:        b/2 + uniform [0, b/2]
 *   decorrelated: min(max, uniform [initial, prev * 3]), prev = the previous
 *                 delay (initial when n == 1 or prev <= 0); when prev * 3 is
 *                 below initial the range is just initial
 * Always finite and in [0, max]; n < 1 counts as 1. Degenerate fields are
 * read safely: a NaN or negative initial or max as 0, a max over 1e9 (or
 * infinite) as 1e9, a NaN or negative factor as 1. */
double policy_backoff(const struct policy *p, int n, double prev,
                      struct policy_rng *rng);

/* Parses a Retry-After value: delay-seconds (digits only) or an HTTP-date
 * (IMF-fixdate, RFC 850 or asctime form, always GMT). now_wall is the Unix
 * time. On success returns 0 and sets *seconds (a date in the past gives 0;
 * huge values are clamped to 1e9). A malformed, empty or over-long (> 64
 * bytes) value returns -1 and leaves *seconds alone.
 * Spaces and tabs around the value are allowed and count toward the 64
 * bytes. Dates follow RFC 9110's grammar exactly: case-sensitive names, a
 * two-digit day (asctime also SP DIGIT), HH:MM:SS. The day must exist in its
 * month (Feb 30, and Feb 29 of a common year, are rejected); second 60 is
 * allowed; the weekday name must be a real one but is not checked against
 * the date. An RFC 850 two-digit year is the latest year ending in those
 * digits that is at most 50 years ahead of now_wall's year (in 2026, "76"
 * is 2076 and "77" 1977; in 1970, "00" is 2000). A date with now_wall not
 * finite or beyond +-1e15 returns -1. */
int policy_parse_retry_after(const char *value, double now_wall,
                             double *seconds);

/* 1 for GET, HEAD, PUT, DELETE, OPTIONS, TRACE (case-sensitive, as HTTP
 * methods are); 0 for POST, PATCH and anything else. */
int policy_method_idempotent(const char *method);

/* How one attempt ended, as the engine saw it. */
struct policy_outcome {
  enum policy_class cls;
  int status;               /* when cls == POLICY_RESPONSE */
  int sent;                 /* the request may have reached the server */
  int invalid;              /* valid() returned false or raised */
  const char *retry_after;  /* Retry-After header value or NULL */
  int has_wait;             /* the server's ask is known in seconds: wait */
  double wait;              /* (a wrapper judging its inner call) */
};

/* The state of one logical call. Times are monotonic seconds except
 * now_wall, the Unix time, used for Retry-After dates. */
struct policy_call {
  int idempotent;           /* the method may be repeated (see
                               policy_method_idempotent) */
  int has_key;              /* carries an idempotency key */
  int attempt;              /* attempts made, the one just ended included */
  double started;           /* when the call began */
  double now;
  double now_wall;
  double prev_delay;        /* the previous wait, 0 before any */
};

enum policy_verdict { POLICY_ACCEPT = 0, POLICY_RETRY, POLICY_GIVEUP };

enum policy_reason {
  POLICY_OK = 0,
  POLICY_EXHAUSTED,         /* out of attempts */
  POLICY_DEADLINE,          /* the wait (or no time left) would cross it */
  POLICY_UNSAFE,            /* POST/PATCH that may have been sent */
  POLICY_NOT_RETRYABLE,     /* class or status not in retry_on */
  POLICY_RETRY_AFTER_LONG,  /* Retry-After over max_retry_after */
  POLICY_RETRY_AFTER_DEADLINE, /* Retry-After past the deadline */
  /* set by the per-host guards (guard.h, lua_guard.c), never by
   * policy_decide: */
  POLICY_BUDGET,            /* the host's retry budget refused a retry */
  POLICY_CIRCUIT_OPEN,      /* the host's circuit breaker is open */
  POLICY_COOL_DOWN          /* the host's cool-down ends past the deadline */
};

struct policy_decision {
  enum policy_verdict verdict;
  enum policy_reason reason;
  double delay;             /* POLICY_RETRY: seconds to wait; else 0 */
  double retry_after;       /* the server's ask in seconds, or -1 if none;
                               set only at step 4 (honoured and parsed) */
};

/*
 * The decision after one attempt:
 * 1. A response whose status is not retried and that is not invalid:
 *    ACCEPT. A transport failure whose class is not retried: GIVEUP
 *    (NOT_RETRYABLE). Otherwise the outcome is retryable:
 * 2. A method that is not idempotent, sent, with no key, under a policy
 *    that is not unsafe: GIVEUP (UNSAFE).
 * 3. Out of attempts: GIVEUP (EXHAUSTED).
 * 4. The wait: a valid Retry-After when the policy honours it (over
 *    max_retry_after: GIVEUP RETRY_AFTER_LONG; crossing the deadline:
 *    GIVEUP RETRY_AFTER_DEADLINE), else the backoff for this retry.
 * 5. A wait that would reach the deadline: GIVEUP (DEADLINE).
 * Otherwise RETRY after d->delay. Draws from rng only for the backoff.
 */
void policy_decide(const struct policy *p, const struct policy_call *c,
                   const struct policy_outcome *o, struct policy_rng *rng,
                   struct policy_decision *d);

/* Seconds the next attempt may take: min(timeout, time left before the
 * deadline), never negative; own > 0 is the call's own timeout, in place
 * of the policy's. */
double policy_attempt_timeout(const struct policy *p, double started,
                              double now, double own);

/* A short phrase for a reason: "out of attempts", "deadline reached", ...
 * Static strings. */
const char *policy_reason_text(enum policy_reason reason);

#endif
