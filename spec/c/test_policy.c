/*
 * test_policy.c - unit tests for src/policy.c, in TAP (spec/c/tap.h).
 *
 * Covers the defaults, the retry_on sets, class and jitter names, the
 * splitmix64 generator, backoff bounds for every jitter, Retry-After parsing
 * (seconds and all three HTTP-date forms), deadline arithmetic and the
 * decision table. Links policy.o only: no Lua, no curl, no clock, no network.
 * Expected Unix times were computed independently (Python's calendar.timegm).
 */
#include "policy.h"
#include "tap.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* 1994-11-06 08:49:37 UTC, RFC 9110's example date */
#define T_1994 784111777.0
/* 2026-01-01 00:00:00 UTC */
#define T_2026 1767225600.0

/* ---- defaults and sets ------------------------------------------------ */

static void test_init(void)
{
  struct policy p;
  static const int on[] = {408, 429, 500, 502, 503, 504};
  static const int off[] = {0, 100, 200, 201, 301, 400, 401, 404, 409, 501,
                            505, 599};
  size_t i;

  memset(&p, 0xa5, sizeof(p));
  policy_init(&p);
  CHECK(p.attempts == 4, "init: attempts 4");
  CHECK(p.initial == 0.1 && p.factor == 2 && p.max == 10,
        "init: backoff initial 0.1, factor 2, max 10");
  CHECK(p.jitter == POLICY_JITTER_FULL, "init: jitter full");
  CHECK(p.deadline == 60 && p.timeout == 30 && p.connect_timeout == 10,
        "init: deadline 60, timeout 30, connect_timeout 10");
  CHECK(p.retry_after == 1 && p.max_retry_after == 120,
        "init: honours Retry-After up to 120 s");
  CHECK(p.unsafe == 0, "init: not unsafe");
  for(i = 0; i < sizeof(on) / sizeof(on[0]); i++)
    CHECK(policy_status_retried(&p, on[i]), "init: status %d retried", on[i]);
  for(i = 0; i < sizeof(off) / sizeof(off[0]); i++)
    CHECK(!policy_status_retried(&p, off[i]), "init: status %d not retried",
          off[i]);
  CHECK(p.retry_class == ((1u << POLICY_CONNECT) | (1u << POLICY_DNS) |
                          (1u << POLICY_TIMEOUT) | (1u << POLICY_RESET)),
        "init: classes connect, dns, timeout, reset and no others");
  {
    int n = 0, s;
    for(s = 0; s < 640; s++)
      n += policy_status_retried(&p, s);
    CHECK(n == 6, "init: exactly 6 statuses retried (got %d)", n);
  }
}

static void test_status_set(void)
{
  struct policy p;
  struct policy before;

  policy_init(&p);
  policy_set_status(&p, 200, 1);
  CHECK(policy_status_retried(&p, 200), "set_status: 200 on");
  policy_set_status(&p, 500, 0);
  CHECK(!policy_status_retried(&p, 500), "set_status: 500 off");
  CHECK(policy_status_retried(&p, 502), "set_status: 502 untouched");
  policy_set_status(&p, 0, 1);
  policy_set_status(&p, 63, 1);
  policy_set_status(&p, 64, 1);
  policy_set_status(&p, 639, 1);
  CHECK(policy_status_retried(&p, 0) && policy_status_retried(&p, 63) &&
        policy_status_retried(&p, 64) && policy_status_retried(&p, 639),
        "set_status: word boundaries 0, 63, 64, 639");
  CHECK(!policy_status_retried(&p, 62) && !policy_status_retried(&p, 65) &&
        !policy_status_retried(&p, 638),
        "set_status: neighbours of boundaries stay off");
  before = p;
  policy_set_status(&p, -1, 1);
  policy_set_status(&p, 640, 1);
  policy_set_status(&p, INT_MAX, 1);
  policy_set_status(&p, INT_MIN, 1);
  CHECK(!memcmp(before.retry_status, p.retry_status, sizeof(p.retry_status)),
        "set_status: out-of-range statuses are ignored");
  CHECK(!policy_status_retried(&p, -1) && !policy_status_retried(&p, 640) &&
        !policy_status_retried(&p, INT_MAX),
        "status_retried: out of range is 0");
  policy_clear_retry_on(&p);
  {
    int n = 0, s;
    for(s = 0; s < 640; s++)
      n += policy_status_retried(&p, s);
    CHECK(n == 0 && p.retry_class == 0,
          "clear_retry_on: no status, no class");
  }
  CHECK(p.attempts == 4 && p.max == 10,
        "clear_retry_on: leaves other fields alone");
}

/* ---- names ------------------------------------------------------------ */

static void test_names(void)
{
  static const char *const names[POLICY_NCLASSES] = {
    "response", "connect", "dns", "timeout", "reset", "tls", "too_large",
    "other"
  };
  int i;

  for(i = 0; i < POLICY_NCLASSES; i++) {
    CHECK(!strcmp(policy_class_name((enum policy_class)i), names[i]),
          "class_name(%d) is \"%s\"", i, names[i]);
    CHECK(policy_class_from_name(policy_class_name((enum policy_class)i)) == i,
          "class \"%s\" round-trips", names[i]);
  }
  CHECK(policy_class_from_name("Connect") == -1,
        "class_from_name: case-sensitive");
  CHECK(policy_class_from_name("") == -1, "class_from_name: empty is -1");
  CHECK(policy_class_from_name("bogus") == -1, "class_from_name: unknown -1");
  CHECK(policy_class_from_name(NULL) == -1, "class_from_name: NULL is -1");
  CHECK(policy_class_from_name(policy_class_name(POLICY_NCLASSES)) == -1,
        "class_name of an out-of-range class does not name a class");

  CHECK(policy_jitter_from_name("full") == POLICY_JITTER_FULL, "jitter full");
  CHECK(policy_jitter_from_name("equal") == POLICY_JITTER_EQUAL,
        "jitter equal");
  CHECK(policy_jitter_from_name("decorrelated") == POLICY_JITTER_DECORRELATED,
        "jitter decorrelated");
  CHECK(policy_jitter_from_name("none") == POLICY_JITTER_NONE, "jitter none");
  CHECK(policy_jitter_from_name("Full") == -1, "jitter: case-sensitive");
  CHECK(policy_jitter_from_name("ful") == -1, "jitter: prefix is unknown");
  CHECK(policy_jitter_from_name("fullx") == -1, "jitter: suffix is unknown");
  CHECK(policy_jitter_from_name("") == -1, "jitter: empty is unknown");
  CHECK(policy_jitter_from_name(NULL) == -1, "jitter: NULL is unknown");
}

static void test_methods(void)
{
  static const char *const yes[] = {
    "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"
  };
  static const char *const no[] = {
    "POST", "PATCH", "CONNECT", "get", "Get", "", "GETX", "GE"
  };
  size_t i;

  for(i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
    CHECK(policy_method_idempotent(yes[i]) == 1, "%s is idempotent", yes[i]);
  for(i = 0; i < sizeof(no) / sizeof(no[0]); i++)
    CHECK(policy_method_idempotent(no[i]) == 0, "\"%s\" is not idempotent",
          no[i]);
  CHECK(policy_method_idempotent(NULL) == 0, "NULL method is not idempotent");
}

static void test_reason_text(void)
{
  CHECK(!strcmp(policy_reason_text(POLICY_OK), ""), "reason OK is empty");
  CHECK(!strcmp(policy_reason_text(POLICY_EXHAUSTED), "out of attempts"),
        "reason EXHAUSTED");
  CHECK(!strcmp(policy_reason_text(POLICY_DEADLINE), "deadline reached"),
        "reason DEADLINE");
  CHECK(!strcmp(policy_reason_text(POLICY_UNSAFE), "not safe to retry"),
        "reason UNSAFE");
  CHECK(!strcmp(policy_reason_text(POLICY_NOT_RETRYABLE), "not retryable"),
        "reason NOT_RETRYABLE");
  CHECK(!strcmp(policy_reason_text(POLICY_RETRY_AFTER_LONG),
                "Retry-After too long"), "reason RETRY_AFTER_LONG");
  CHECK(!strcmp(policy_reason_text(POLICY_RETRY_AFTER_DEADLINE),
                "Retry-After past the deadline"),
        "reason RETRY_AFTER_DEADLINE");
  CHECK(policy_reason_text((enum policy_reason)99) != NULL &&
        policy_reason_text((enum policy_reason)99)[0] != '\0',
        "an unknown reason still has a non-empty text");
}

/* ---- generator -------------------------------------------------------- */

static void test_rng(void)
{
  struct policy_rng a, b;
  int i, same = 1, in_range = 1, differs = 0, matches = 1;
  double lo = 1, hi = 0;

  /* reference values of splitmix64 from seed 0 */
  policy_rng_seed(&a, 0);
  CHECK(policy_rng_u64(&a) == UINT64_C(0xe220a8397b1dcdaf) &&
        policy_rng_u64(&a) == UINT64_C(0x6e789e6aa1b965f4) &&
        policy_rng_u64(&a) == UINT64_C(0x06c45d188009454f),
        "rng: splitmix64 reference sequence from seed 0");
  policy_rng_seed(&a, 42);
  CHECK(policy_rng_u64(&a) == UINT64_C(0xbdd732262feb6e95),
        "rng: splitmix64 reference value from seed 42");

  policy_rng_seed(&a, 12345);
  policy_rng_seed(&b, 12345);
  for(i = 0; i < 1000; i++)
    if(policy_rng_u64(&a) != policy_rng_u64(&b))
      same = 0;
  CHECK(same, "rng: same seed, same 1000 values");

  policy_rng_seed(&a, 1);
  policy_rng_seed(&b, 2);
  for(i = 0; i < 10; i++)
    if(policy_rng_u64(&a) != policy_rng_u64(&b))
      differs++;
  CHECK(differs == 10, "rng: different seeds, different values");

  policy_rng_seed(&a, 7);
  policy_rng_seed(&b, 7);
  for(i = 0; i < 100000; i++) {
    double d = policy_rng_double(&a);
    uint64_t u = policy_rng_u64(&b);
    if(!(d >= 0 && d < 1))
      in_range = 0;
    if(d != (double)(u >> 11) / 9007199254740992.0)
      matches = 0;
    if(d < lo)
      lo = d;
    if(d > hi)
      hi = d;
  }
  CHECK(in_range, "rng_double: always in [0, 1)");
  CHECK(matches, "rng_double: the top 53 bits of rng_u64 over 2^53");
  CHECK(lo < 0.001 && hi > 0.999, "rng_double: spans [0, 1) (%g..%g)", lo,
        hi);
}

/* ---- backoff ---------------------------------------------------------- */

static const int some_n[] = {
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 31, 32, 63, 64, 100, 500, 1000,
  1024, 1075, 100000, INT_MAX
};
#define NSOME ((int)(sizeof(some_n) / sizeof(some_n[0])))

/* b = initial * factor^(n-1) capped at max, by repeated multiplication */
static double ref_base(double initial, double factor, double max, int n)
{
  double b = initial;
  int i;

  for(i = 1; i < n && b < max; i++)
    b *= factor;
  return b < max ? b : max;
}

static void test_backoff_none(void)
{
  struct policy p;
  struct policy_rng r;
  int i, ok = 1;

  policy_init(&p);
  p.jitter = POLICY_JITTER_NONE;
  policy_rng_seed(&r, 1);
  CHECK(policy_backoff(&p, 1, 0, &r) == 0.1, "none: n=1 is initial 0.1");
  CHECK(policy_backoff(&p, 2, 0, &r) == 0.2, "none: n=2 is 0.2");
  CHECK(fabs(policy_backoff(&p, 5, 0, &r) - 1.6) < 1e-12, "none: n=5 is 1.6");
  CHECK(fabs(policy_backoff(&p, 7, 0, &r) - 6.4) < 1e-12, "none: n=7 is 6.4");
  CHECK(policy_backoff(&p, 8, 0, &r) == 10, "none: n=8 capped at max 10");
  CHECK(policy_backoff(&p, 1000, 0, &r) == 10, "none: n=1000 is max");
  CHECK(policy_backoff(&p, INT_MAX, 0, &r) == 10, "none: n=INT_MAX is max");
  CHECK(policy_backoff(&p, 0, 0, &r) == 0.1 &&
        policy_backoff(&p, -5, 0, &r) == 0.1,
        "none: n below 1 counts as the first retry");
  for(i = 0; i < NSOME; i++)
    if(fabs(policy_backoff(&p, some_n[i], 0, &r) -
            ref_base(0.1, 2, 10, some_n[i])) > 1e-12)
      ok = 0;
  CHECK(ok, "none: matches initial*factor^(n-1) capped, for every n");

  p.factor = 1;
  CHECK(policy_backoff(&p, 1000, 0, &r) == 0.1, "none: factor 1 is constant");
  p.factor = 0.5;
  CHECK(policy_backoff(&p, 2, 0, &r) == 0.05 &&
        policy_backoff(&p, 1000, 0, &r) >= 0,
        "none: factor 0.5 shrinks and stays >= 0");
  p.factor = 3;
  p.initial = 1;
  p.max = 1e6;
  CHECK(policy_backoff(&p, 4, 0, &r) == 27, "none: factor 3, n=4 is 27");
  CHECK(policy_backoff(&p, 1000, 0, &r) == 1e6,
        "none: factor 3, n=1000 is max without overflow");
  p.initial = 20;
  p.max = 10;
  CHECK(policy_backoff(&p, 1, 0, &r) == 10,
        "none: initial over max is capped at max");
}

/* For one jitter: bounds over many seeds and n, and how much of the range the
 * draws reach. */
static void test_backoff_bounds(enum policy_jitter j, const char *name)
{
  struct policy p;
  struct policy_rng r;
  uint64_t seed;
  int i, finite = 1, nonneg = 1, capped = 1, exact = 1;
  double lo_frac = 1, hi_frac = 0;

  policy_init(&p);
  p.jitter = j;
  for(seed = 0; seed < 300; seed++) {
    policy_rng_seed(&r, seed * 7919 + 1);
    for(i = 0; i < NSOME; i++) {
      int n = some_n[i];
      double b = ref_base(p.initial, p.factor, p.max, n);
      double d = policy_backoff(&p, n, 0, &r);
      double lo = j == POLICY_JITTER_EQUAL ? b / 2 : 0;
      if(!isfinite(d))
        finite = 0;
      if(d < 0)
        nonneg = 0;
      if(d > p.max)
        capped = 0;
      if(d < lo - 1e-12 || d > b + 1e-12)
        exact = 0;
      if(b > 0) {
        double f = (d - lo) / (b - lo);
        if(f < lo_frac)
          lo_frac = f;
        if(f > hi_frac)
          hi_frac = f;
      }
    }
  }
  CHECK(finite, "%s: always finite", name);
  CHECK(nonneg, "%s: never negative", name);
  CHECK(capped, "%s: never over max", name);
  CHECK(exact, "%s: within [%s, b] for b = min(max, initial*factor^(n-1))",
        name, j == POLICY_JITTER_EQUAL ? "b/2" : "0");
  CHECK(lo_frac < 0.05 && hi_frac > 0.95,
        "%s: draws cover the whole range (%.3f..%.3f)", name, lo_frac,
        hi_frac);
}

static void test_backoff_decorrelated(void)
{
  struct policy p;
  struct policy_rng r;
  static const double prevs[] = {0.1, 0.2, 0.5, 1, 2.5, 3.33, 9, 10, 50, 1e9,
                                 1e300};
  uint64_t seed;
  int i, n, ok = 1, first_ok = 1, nonpos_ok = 1, chain_ok = 1;
  double hi_seen = 0;

  policy_init(&p);
  p.jitter = POLICY_JITTER_DECORRELATED;
  for(seed = 0; seed < 200; seed++) {
    policy_rng_seed(&r, seed);
    for(i = 0; i < (int)(sizeof(prevs) / sizeof(prevs[0])); i++)
      for(n = 2; n <= 1000; n += 333) {
        double hi = fmin(p.max, 3 * prevs[i]);
        double d = policy_backoff(&p, n, prevs[i], &r);
        if(!(d >= p.initial && d <= hi))
          ok = 0;
      }
    /* n == 1 ignores prev: [initial, 3*initial] */
    {
      double d = policy_backoff(&p, 1, 5, &r);
      if(!(d >= 0.1 && d <= 0.3 + 1e-15))
        first_ok = 0;
      if(d > hi_seen)
        hi_seen = d;
    }
    /* prev <= 0 (or NaN) counts as initial */
    {
      double d1 = policy_backoff(&p, 3, 0, &r);
      double d2 = policy_backoff(&p, 3, -4, &r);
      double d3 = policy_backoff(&p, 3, NAN, &r);
      if(!(d1 >= 0.1 && d1 <= 0.3 + 1e-15 && d2 >= 0.1 &&
           d2 <= 0.3 + 1e-15 && d3 >= 0.1 && d3 <= 0.3 + 1e-15))
        nonpos_ok = 0;
    }
    /* a chain of retries feeding each delay back */
    {
      double prev = 0;
      for(n = 1; n <= 1000; n++) {
        double d = policy_backoff(&p, n, prev, &r);
        double hi = fmin(p.max, 3 * (n == 1 || prev <= 0 ? p.initial : prev));
        if(!(isfinite(d) && d >= p.initial && d <= hi))
          chain_ok = 0;
        prev = d;
      }
    }
  }
  CHECK(ok, "decorrelated: within [initial, min(max, 3*prev)]");
  CHECK(first_ok, "decorrelated: n=1 uses initial, not prev");
  CHECK(hi_seen > 0.25, "decorrelated: n=1 reaches near 3*initial (%g)",
        hi_seen);
  CHECK(nonpos_ok, "decorrelated: prev <= 0 or NaN counts as initial");
  CHECK(chain_ok, "decorrelated: 1000 chained retries stay in bounds");

  p.initial = 1;
  policy_rng_seed(&r, 3);
  {
    double d = policy_backoff(&p, 4, 0.1, &r);
    CHECK(d == 1, "decorrelated: 3*prev below initial gives initial (%g)", d);
  }
}

static void test_backoff_odd_params(void)
{
  struct policy p;
  struct policy_rng r;
  enum policy_jitter js[] = {POLICY_JITTER_FULL, POLICY_JITTER_EQUAL,
                             POLICY_JITTER_DECORRELATED, POLICY_JITTER_NONE};
  int k, i, ok;

  /* infinite max: results stay finite */
  ok = 1;
  for(k = 0; k < 4; k++) {
    policy_init(&p);
    p.jitter = js[k];
    p.max = INFINITY;
    policy_rng_seed(&r, 9);
    for(i = 0; i < NSOME; i++) {
      double d = policy_backoff(&p, some_n[i], 1e308, &r);
      if(!isfinite(d) || d < 0)
        ok = 0;
    }
  }
  CHECK(ok, "backoff: infinite max still gives finite, non-negative waits");

  /* huge factor and tiny initial: no inf, no NaN */
  ok = 1;
  for(k = 0; k < 4; k++) {
    policy_init(&p);
    p.jitter = js[k];
    p.initial = 1e-300;
    p.factor = 1e300;
    policy_rng_seed(&r, 9);
    for(i = 0; i < NSOME; i++) {
      double d = policy_backoff(&p, some_n[i], 0, &r);
      if(!isfinite(d) || d < 0 || d > p.max)
        ok = 0;
    }
  }
  CHECK(ok, "backoff: factor 1e300 from initial 1e-300 stays in [0, max]");

  policy_init(&p);
  p.jitter = POLICY_JITTER_NONE;
  p.factor = INFINITY;
  CHECK(policy_backoff(&p, 1, 0, &r) == 0.1 &&
        policy_backoff(&p, 2, 0, &r) == 10,
        "backoff: infinite factor gives initial, then max");
  p.factor = 2;
  p.initial = 0;
  CHECK(policy_backoff(&p, 1000, 0, &r) == 0, "backoff: initial 0 is 0");
  p.initial = NAN;
  CHECK(policy_backoff(&p, 3, 0, &r) == 0, "backoff: NaN initial is 0");
  p.initial = 0.1;
  p.max = 0;
  CHECK(policy_backoff(&p, 3, 0, &r) == 0, "backoff: max 0 is 0");
  p.max = -1;
  CHECK(policy_backoff(&p, 3, 0, &r) == 0, "backoff: negative max is 0");
  p.max = 10;
  p.factor = NAN;
  {
    double d = policy_backoff(&p, 50, 0, &r);
    CHECK(d == 0.1, "backoff: NaN factor does not grow (%g)", d);
  }
}

static void test_backoff_determinism(void)
{
  enum policy_jitter js[] = {POLICY_JITTER_FULL, POLICY_JITTER_EQUAL,
                             POLICY_JITTER_DECORRELATED, POLICY_JITTER_NONE};
  const char *names[] = {"full", "equal", "decorrelated", "none"};
  int k, n;

  for(k = 0; k < 4; k++) {
    struct policy p;
    struct policy_rng a, b, c;
    int same = 1, differs = 0;
    double pa = 0, pb = 0, pc = 0;

    policy_init(&p);
    p.jitter = js[k];
    policy_rng_seed(&a, 2024);
    policy_rng_seed(&b, 2024);
    policy_rng_seed(&c, 2025);
    for(n = 1; n <= 50; n++) {
      double da = policy_backoff(&p, n, pa, &a);
      double db = policy_backoff(&p, n, pb, &b);
      double dc = policy_backoff(&p, n, pc, &c);
      if(da != db)
        same = 0;
      if(da != dc)
        differs++;
      pa = da;
      pb = db;
      pc = dc;
    }
    CHECK(same, "%s: same seed, same 50 delays", names[k]);
    if(js[k] == POLICY_JITTER_NONE)
      CHECK(differs == 0, "none: the seed does not matter");
    else
      CHECK(differs > 40, "%s: another seed, other delays (%d of 50 differ)",
            names[k], differs);
  }
}

/* ---- Retry-After ------------------------------------------------------ */

#define UNTOUCHED -12345.0

/* v with control characters escaped, so that a TAP line stays one line. */
static const char *show(const char *v)
{
  static char buf[256];
  size_t i = 0;

  if(!v)
    return "(null)";
  for(; *v && i < sizeof(buf) - 5; v++) {
    if(*v == '\n' || *v == '\t') {
      buf[i++] = '\\';
      buf[i++] = *v == '\n' ? 'n' : 't';
    }
    else
      buf[i++] = *v;
  }
  buf[i] = '\0';
  return buf;
}

/* Parses v at now; returns the result code, *out the seconds (or UNTOUCHED) */
static int ra(const char *v, double now, double *out)
{
  *out = UNTOUCHED;
  return policy_parse_retry_after(v, now, out);
}

static void ra_ok(const char *v, double now, double want, const char *name)
{
  double s;
  int rc = ra(v, now, &s);

  CHECK(rc == 0 && s == want,
        "Retry-After %s: \"%s\" -> %.17g (rc %d, got %.17g)", name, show(v),
        want, rc, s);
}

static void ra_bad(const char *v, double now, const char *name)
{
  double s;
  int rc = ra(v, now, &s);

  CHECK(rc == -1 && s == UNTOUCHED,
        "Retry-After %s: \"%s\" rejected, seconds untouched (rc %d)", name,
        show(v), rc);
}

static void test_retry_after_seconds(void)
{
  char buf[128];

  ra_ok("120", T_1994, 120, "seconds");
  ra_ok("0", T_1994, 0, "zero");
  ra_ok("007", T_1994, 7, "leading zeros");
  ra_ok("  5", T_1994, 5, "leading spaces");
  ra_ok("5  ", T_1994, 5, "trailing spaces");
  ra_ok("\t 5 \t", T_1994, 5, "tabs around");
  ra_ok("5", NAN, 5, "seconds need no wall clock");
  ra_ok("999999999", T_1994, 999999999, "just under the clamp");
  ra_ok("1000000000", T_1994, 1e9, "at the clamp");
  ra_ok("1000000001", T_1994, 1e9, "over the clamp");
  ra_ok("99999999999999999999999999999999999999999999999", T_1994, 1e9,
        "huge number clamps");
  ra_bad("-5", T_1994, "negative");
  ra_bad("+5", T_1994, "plus sign");
  ra_bad("1.5", T_1994, "decimal");
  ra_bad("1 5", T_1994, "space inside");
  ra_bad("5s", T_1994, "unit suffix");
  ra_bad("0x10", T_1994, "hex");
  ra_bad("1e3", T_1994, "exponent");
  ra_bad("soon", T_1994, "garbage");
  ra_bad("", T_1994, "empty");
  ra_bad("   ", T_1994, "only spaces");
  ra_bad("\n5", T_1994, "newline is not whitespace here");
  ra_bad(NULL, T_1994, "NULL");

  /* 64 bytes is the limit, whitespace included */
  memset(buf, ' ', sizeof(buf));
  buf[63] = '5';
  buf[64] = '\0';
  ra_ok(buf, T_1994, 5, "64 bytes");
  buf[63] = ' ';
  buf[64] = '5';
  buf[65] = '\0';
  ra_bad(buf, T_1994, "65 bytes");
  memset(buf, '9', 65);
  buf[65] = '\0';
  ra_bad(buf, T_1994, "65 digits");
  memset(buf, '1', 100);
  buf[100] = '\0';
  ra_bad(buf, T_1994, "100 digits");
}

static void test_retry_after_dates(void)
{
  double before = T_1994 - 100;

  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", before, 100, "IMF-fixdate");
  ra_ok("Sunday, 06-Nov-94 08:49:37 GMT", before, 100, "RFC 850");
  ra_ok("Sun Nov  6 08:49:37 1994", before, 100, "asctime");
  ra_ok("Sun Nov 06 08:49:37 1994", before, 100, "asctime, 2-digit day");
  ra_ok("  Sun, 06 Nov 1994 08:49:37 GMT  ", before, 100,
        "IMF-fixdate with spaces around");
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", T_1994, 0, "now is 0");
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", before + 0.25, 99.75,
        "fractional now");
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", T_2026, 0, "past date is 0");
  ra_ok("Thu, 01 Jan 1970 00:00:00 GMT", T_1994, 0, "the epoch is past");
  ra_ok("Mon, 01 Jan 0001 00:00:00 GMT", T_1994, 0, "year 1 is past");
  ra_ok("Fri, 31 Dec 9999 23:59:59 GMT", T_2026, 1e9, "year 9999 clamps");
  ra_ok("Tue, 01 Jan 2030 00:00:00 GMT", 1893456000.0 - 3600, 3600,
        "2030, an hour ahead");
  ra_ok("Thu, 29 Feb 1996 00:00:00 GMT", 825552000.0 - 1, 1,
        "Feb 29 in a leap year");
  ra_ok("Tue, 29 Feb 2000 00:00:00 GMT", 951782400.0 - 2, 2,
        "Feb 29 in 2000 (divisible by 400)");
  ra_ok("Sun, 01 Jan 2017 00:00:00 GMT", 1483228800.0 - 10, 10,
        "new year 2017");
  ra_ok("Sat, 31 Dec 2016 23:59:60 GMT", 1483228800.0 - 10, 10,
        "leap second :60 is the next second");
  ra_ok("Thu, 01 Mar 1900 00:00:00 GMT", -2203891200.0 - 5, 5,
        "before 1970 with a matching clock");
  ra_ok("Mon, 06 Nov 1994 08:49:37 GMT", before, 100,
        "a wrong weekday name is accepted (not checked against the date)");
  ra_ok("Wed Dec 31 23:59:59 1969", -10, 9, "asctime one second before 1970");

  /* RFC 850 two-digit years: more than 50 years ahead means last century */
  ra_ok("Wednesday, 01-Jan-76 00:00:00 GMT", T_2026, 1e9,
        "RFC 850 year 76 in 2026 is 2076, 50 years ahead (clamped)");
  ra_ok("Friday, 01-Jan-77 00:00:00 GMT", T_2026, 0,
        "RFC 850 year 77 in 2026 is 1977 (past)");
  ra_ok("Tuesday, 01-Jan-30 00:00:00 GMT", T_2026, 1893456000.0 - T_2026,
        "RFC 850 year 30 in 2026 is 2030");
  ra_ok("Sunday, 06-Nov-94 08:49:37 GMT", T_2026, 0,
        "RFC 850 year 94 in 2026 is 1994 (past)");
  /* ... and within 50 years ahead may be next century (found by
   * fuzz_retry_after: the year was only ever moved back) */
  ra_ok("Tuesday, 30-May-00 17:53:53 GMT", 0, 959709233.0,
        "RFC 850 year 00 in 1970 is 2000");
  ra_ok("Friday, 01-Jan-00 00:00:00 GMT", 4102444740.0, 60,
        "RFC 850 year 00 a minute before 2100 is 2100");
  ra_ok("Thursday, 01-Jan-05 00:00:00 GMT", 2840140800.0, 1e9,
        "RFC 850 year 05 in 2060 is 2105, 45 years ahead (clamped)");
  ra_ok("Friday, 01-Jan-11 00:00:00 GMT", 2840140800.0, 0,
        "RFC 850 year 11 in 2060 is 2011, as 2111 is 51 years ahead");

  ra_bad("Sun, 06 Nov 1994 08:49:37 GMT", NAN, "date with NaN clock");
  ra_bad("Sun, 06 Nov 1994 08:49:37 GMT", INFINITY, "date with infinite clock");
  ra_bad("Foo, 06 Nov 1994 08:49:37 GMT", before, "unknown day name");
  ra_bad("sun, 06 Nov 1994 08:49:37 GMT", before, "lower-case day name");
  ra_bad("Sun, 06 nov 1994 08:49:37 GMT", before, "lower-case month");
  ra_bad("Sun, 06 Foo 1994 08:49:37 GMT", before, "unknown month");
  ra_bad("Sun, 06 Nov 1994 25:49:37 GMT", before, "hour 25");
  ra_bad("Sun, 06 Nov 1994 24:00:00 GMT", before, "hour 24");
  ra_bad("Sun, 06 Nov 1994 08:60:37 GMT", before, "minute 60");
  ra_bad("Sun, 06 Nov 1994 08:49:61 GMT", before, "second 61");
  ra_bad("Sun, 00 Nov 1994 08:49:37 GMT", before, "day 0");
  ra_bad("Sun, 32 Dec 1994 08:49:37 GMT", before, "day 32");
  ra_bad("Sun, 31 Nov 1994 08:49:37 GMT", before, "Nov 31");
  ra_bad("Fri, 30 Feb 1996 08:49:37 GMT", before, "Feb 30 is rejected");
  ra_bad("Mon, 29 Feb 1900 00:00:00 GMT", before, "Feb 29 in 1900");
  ra_bad("Sun, 29 Feb 1995 00:00:00 GMT", before, "Feb 29 in 1995");
  ra_bad("Sun, 6 Nov 1994 08:49:37 GMT", before, "IMF one-digit day");
  ra_bad("Sun, 06 Nov 94 08:49:37 GMT", before, "IMF two-digit year");
  ra_bad("Sun, 06 Nov 1994 08:49:37 UTC", before, "UTC instead of GMT");
  ra_bad("Sun, 06 Nov 1994 08:49:37", before, "IMF without GMT");
  ra_bad("Sun, 06 Nov 1994 08:49:37 GMT x", before, "trailing garbage");
  ra_bad("Sun, 06 Nov 1994 08:49:37 GMTGMT", before, "GMT twice");
  ra_bad("Sun,  06 Nov 1994 08:49:37 GMT", before, "two spaces after comma");
  ra_bad("Sun 06 Nov 1994 08:49:37 GMT", before, "IMF without comma");
  ra_bad("Sun, 06 Nov 1994 8:49:37 GMT", before, "one-digit hour");
  ra_bad("Sun, 06 Nov 1994 08:49 GMT", before, "no seconds");
  ra_bad("Sunday, 06 Nov 1994 08:49:37 GMT", before, "long name in IMF");
  ra_bad("Sun, 06-Nov-94 08:49:37 GMT", before, "short name in RFC 850");
  ra_bad("Sunday, 06-Nov-1994 08:49:37 GMT", before, "RFC 850 4-digit year");
  ra_bad("Sunday, 31-Apr-94 08:49:37 GMT", before, "RFC 850 Apr 31");
  ra_bad("Sunday, 06-Nov-94 08:49:37", before, "RFC 850 without GMT");
  ra_bad("Sun Nov 6 08:49:37 1994", before, "asctime single space, 1 digit");
  ra_bad("Sun Nov   6 08:49:37 1994", before, "asctime three spaces");
  ra_bad("Sun Nov  6 08:49:37 94", before, "asctime two-digit year");
  ra_bad("Sun Nov  6 08:49:37 1994 GMT", before, "asctime with GMT");
  ra_bad("Sun Nov  6 25:49:37 1994", before, "asctime hour 25");
  ra_bad("Sun Feb 30 08:49:37 1994", before, "asctime Feb 30");
  ra_bad("Sun, 06 Nov 1994 08:49:37 GMT\n", before, "trailing newline");
  {
    char buf[80];
    memset(buf, ' ', sizeof(buf));
    memcpy(buf, "Sun, 06 Nov 1994 08:49:37 GMT", 29);
    buf[64] = '\0';
    ra_ok(buf, before, 100, "a date padded to 64 bytes");
    buf[64] = ' ';
    buf[65] = '\0';
    ra_bad(buf, before, "a date padded to 65 bytes");
  }
}

/* ---- deadlines -------------------------------------------------------- */

static void test_attempt_timeout(void)
{
  struct policy p;

  policy_init(&p);
  CHECK(policy_attempt_timeout(&p, 100, 100) == 30,
        "attempt_timeout: fresh call gets the full timeout");
  CHECK(policy_attempt_timeout(&p, 100, 130) == 30,
        "attempt_timeout: 30 s left, timeout 30");
  CHECK(policy_attempt_timeout(&p, 100, 145) == 15,
        "attempt_timeout: 15 s before the deadline gives 15");
  CHECK(policy_attempt_timeout(&p, 100, 159.5) == 0.5,
        "attempt_timeout: half a second left");
  CHECK(policy_attempt_timeout(&p, 100, 160) == 0,
        "attempt_timeout: at the deadline is 0");
  CHECK(policy_attempt_timeout(&p, 100, 500) == 0,
        "attempt_timeout: after the deadline is 0, never negative");
  p.timeout = 2;
  CHECK(policy_attempt_timeout(&p, 0, 10) == 2,
        "attempt_timeout: a short timeout wins");
  p.timeout = 100;
  p.deadline = INFINITY;
  CHECK(policy_attempt_timeout(&p, 0, 1e6) == 100,
        "attempt_timeout: infinite deadline gives the timeout");
}

/* ---- decisions -------------------------------------------------------- */

struct dcase {
  const char *method;
  int has_key, attempt;
  double now, prev;
  enum policy_class cls;
  int status, sent, invalid;
  const char *retry_after;
};

/* A GET, first attempt just ended at the start of the call, wall clock 100 s
 * before RFC 9110's example date. */
static struct dcase dc(enum policy_class cls, int status)
{
  struct dcase c;

  c.method = "GET";
  c.has_key = 0;
  c.attempt = 1;
  c.now = 0;
  c.prev = 0;
  c.cls = cls;
  c.status = status;
  c.sent = cls == POLICY_RESPONSE || cls == POLICY_TIMEOUT ||
           cls == POLICY_RESET || cls == POLICY_TOO_LARGE;
  c.invalid = 0;
  c.retry_after = NULL;
  return c;
}

static struct policy_decision run(const struct policy *p, struct dcase k,
                                  uint64_t seed)
{
  struct policy_call call;
  struct policy_outcome o;
  struct policy_rng r;
  struct policy_decision d;

  call.method = k.method;
  call.has_key = k.has_key;
  call.attempt = k.attempt;
  call.started = 0;
  call.now = k.now;
  call.now_wall = T_1994 - 100;
  call.prev_delay = k.prev;
  o.cls = k.cls;
  o.status = k.status;
  o.sent = k.sent;
  o.invalid = k.invalid;
  o.retry_after = k.retry_after;
  policy_rng_seed(&r, seed);
  memset(&d, 0x5a, sizeof(d));
  policy_decide(p, &call, &o, &r, &d);
  return d;
}

static int is(struct policy_decision d, enum policy_verdict v,
              enum policy_reason why)
{
  return d.verdict == v && d.reason == why;
}

static void test_decide_classes(void)
{
  struct policy p;
  struct policy_decision d;
  int c;

  policy_init(&p);
  for(c = POLICY_CONNECT; c < POLICY_NCLASSES; c++) {
    int want = c == POLICY_CONNECT || c == POLICY_DNS ||
               c == POLICY_TIMEOUT || c == POLICY_RESET;
    d = run(&p, dc((enum policy_class)c, 0), 1);
    if(want)
      CHECK(is(d, POLICY_RETRY, POLICY_OK),
            "decide: %s retried by default", policy_class_name(c));
    else
      CHECK(is(d, POLICY_GIVEUP, POLICY_NOT_RETRYABLE),
            "decide: %s not retried by default", policy_class_name(c));
  }
  p.retry_class |= 1u << POLICY_TLS;
  d = run(&p, dc(POLICY_TLS, 0), 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK), "decide: tls retried when enabled");
  p.retry_class |= 1u << POLICY_TOO_LARGE;
  d = run(&p, dc(POLICY_TOO_LARGE, 0), 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_NOT_RETRYABLE),
        "decide: too_large never retried, even when its bit is set");
  d = run(&p, dc((enum policy_class)POLICY_NCLASSES, 0), 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_NOT_RETRYABLE),
        "decide: an out-of-range class is not retryable");
  p.retry_class = ~0u;
  p.retry_class &= ~(1u << POLICY_RESET);
  d = run(&p, dc(POLICY_RESET, 0), 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_NOT_RETRYABLE),
        "decide: reset not retried once its bit is cleared");
}

static void test_decide_statuses(void)
{
  struct policy p;
  struct policy_decision d;
  struct dcase k;
  static const int accepted[] = {200, 201, 204, 301, 400, 401, 404, 501};
  static const int retried[] = {408, 429, 500, 502, 503, 504};
  size_t i;

  policy_init(&p);
  for(i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
    d = run(&p, dc(POLICY_RESPONSE, accepted[i]), 1);
    CHECK(is(d, POLICY_ACCEPT, POLICY_OK) && d.delay == 0 &&
          d.retry_after == -1,
          "decide: %d accepted (delay 0, retry_after -1)", accepted[i]);
  }
  for(i = 0; i < sizeof(retried) / sizeof(retried[0]); i++) {
    d = run(&p, dc(POLICY_RESPONSE, retried[i]), 1);
    CHECK(is(d, POLICY_RETRY, POLICY_OK) && d.delay >= 0 && d.delay <= 0.1 &&
          d.retry_after == -1,
          "decide: %d retried after a full-jitter delay in [0, 0.1] (%g)",
          retried[i], d.delay);
  }
  k = dc(POLICY_RESPONSE, 200);
  k.invalid = 1;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK), "decide: invalid 200 retried");
  k.status = 404;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK), "decide: invalid 404 retried");

  policy_clear_retry_on(&p);
  d = run(&p, dc(POLICY_RESPONSE, 500), 1);
  CHECK(is(d, POLICY_ACCEPT, POLICY_OK),
        "decide: empty retry_on accepts a 500");
  d = run(&p, dc(POLICY_CONNECT, 0), 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_NOT_RETRYABLE),
        "decide: empty retry_on gives up on connect");
  k = dc(POLICY_RESPONSE, 200);
  k.invalid = 1;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK),
        "decide: empty retry_on still retries an invalid response");
  policy_set_status(&p, 404, 1);
  d = run(&p, dc(POLICY_RESPONSE, 404), 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK), "decide: 404 retried when listed");
}

static void test_decide_safety(void)
{
  struct policy p;
  struct policy_decision d;
  struct dcase k;

  policy_init(&p);
  k = dc(POLICY_RESPONSE, 500);
  k.method = "POST";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_UNSAFE),
        "decide: POST sent without key, 500 -> UNSAFE");
  k.method = "PATCH";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_UNSAFE),
        "decide: PATCH sent without key, 500 -> UNSAFE");
  k = dc(POLICY_RESET, 0);
  k.method = "POST";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_UNSAFE),
        "decide: POST reset after sending -> UNSAFE");
  k = dc(POLICY_CONNECT, 0);
  k.method = "POST";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK),
        "decide: POST not sent (connect) -> RETRY");
  k = dc(POLICY_RESPONSE, 500);
  k.method = "POST";
  k.has_key = 1;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK),
        "decide: POST with idempotency key -> RETRY");
  k.has_key = 0;
  p.unsafe = 1;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK), "decide: unsafe policy -> RETRY");
  p.unsafe = 0;
  k = dc(POLICY_RESPONSE, 201);
  k.method = "POST";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_ACCEPT, POLICY_OK), "decide: POST 201 accepted");
  k = dc(POLICY_TLS, 0);
  k.method = "POST";
  k.sent = 1;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_NOT_RETRYABLE),
        "decide: not retryable comes before unsafe");
  k = dc(POLICY_RESPONSE, 500);
  k.method = "POST";
  k.attempt = 4;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_UNSAFE),
        "decide: unsafe comes before out of attempts");
  k = dc(POLICY_RESPONSE, 500);
  k.method = "PUT";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK), "decide: PUT 500 -> RETRY");
  k.method = "post";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_UNSAFE),
        "decide: lower-case \"post\" is not idempotent either");
}

static void test_decide_attempts(void)
{
  struct policy p;
  struct policy_decision d;
  struct dcase k;

  policy_init(&p);
  k = dc(POLICY_RESPONSE, 503);
  k.attempt = 3;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK), "decide: attempt 3 of 4 -> RETRY");
  k.attempt = 4;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_EXHAUSTED) && d.delay == 0,
        "decide: attempt 4 of 4 -> EXHAUSTED");
  k.attempt = 9;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_EXHAUSTED),
        "decide: past attempts -> EXHAUSTED");
  k = dc(POLICY_RESPONSE, 200);
  k.attempt = 4;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_ACCEPT, POLICY_OK),
        "decide: a good last attempt is accepted");
  k = dc(POLICY_CONNECT, 0);
  k.attempt = 4;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_EXHAUSTED),
        "decide: connect on the last attempt -> EXHAUSTED");
  p.attempts = 1;
  d = run(&p, dc(POLICY_RESPONSE, 500), 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_EXHAUSTED),
        "decide: attempts 1 never retries");
  p.attempts = 4;
  k = dc(POLICY_RESPONSE, 503);
  k.attempt = 4;
  k.retry_after = "1";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_EXHAUSTED),
        "decide: out of attempts comes before Retry-After");
}

static void test_decide_wait(void)
{
  struct policy p;
  struct policy_decision d;
  struct dcase k;

  /* the delay is the backoff for retry n = attempt, drawn from the rng */
  policy_init(&p);
  k = dc(POLICY_RESPONSE, 500);
  k.attempt = 3;
  {
    struct policy_rng r;
    double want;
    policy_rng_seed(&r, 77);
    want = policy_backoff(&p, 3, 0, &r);
    d = run(&p, k, 77);
    CHECK(is(d, POLICY_RETRY, POLICY_OK) && d.delay == want,
          "decide: delay is policy_backoff(attempt) with the same rng (%g)",
          d.delay);
  }
  p.jitter = POLICY_JITTER_NONE;
  d = run(&p, k, 1);
  CHECK(d.delay == 0.4, "decide: jitter none, attempt 3 waits 0.4 (%g)",
        d.delay);
  p.jitter = POLICY_JITTER_DECORRELATED;
  k.prev = 2;
  d = run(&p, k, 5);
  CHECK(is(d, POLICY_RETRY, POLICY_OK) && d.delay >= 0.1 && d.delay <= 6,
        "decide: decorrelated uses prev_delay, in [0.1, 6] (%g)", d.delay);

  /* deadline with the backoff: started 0, deadline 60 */
  policy_init(&p);
  p.jitter = POLICY_JITTER_NONE;
  p.initial = 0.5;
  k = dc(POLICY_RESPONSE, 500);
  k.now = 59.25;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK) && d.delay == 0.5,
        "decide: a wait ending before the deadline -> RETRY");
  k.now = 59.5;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_DEADLINE) && d.delay == 0,
        "decide: a wait ending exactly at the deadline -> DEADLINE");
  k.now = 59.75;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_DEADLINE),
        "decide: a wait crossing the deadline -> DEADLINE");
  p.initial = 0;
  k.now = 60;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_DEADLINE),
        "decide: no time left, even a zero wait -> DEADLINE");
  k.now = 100;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_DEADLINE),
        "decide: already past the deadline -> DEADLINE");
  p.deadline = INFINITY;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK), "decide: infinite deadline retries");
}

static void test_decide_retry_after(void)
{
  struct policy p;
  struct policy_decision d;
  struct dcase k;

  policy_init(&p);
  k = dc(POLICY_RESPONSE, 503);
  k.retry_after = "5";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK) && d.delay == 5 && d.retry_after == 5,
        "decide: Retry-After 5 waits 5 s and reports it");
  k.retry_after = "0";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK) && d.delay == 0 && d.retry_after == 0,
        "decide: Retry-After 0 retries at once");
  k.status = 429;
  k.retry_after = "Sun, 06 Nov 1994 08:49:37 GMT";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_RETRY_AFTER_DEADLINE) &&
        d.retry_after == 100,
        "decide: a Retry-After date 100 s ahead, deadline 60 s -> "
        "RETRY_AFTER_DEADLINE");
  p.deadline = 1000;
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK) && d.delay == 100 &&
        d.retry_after == 100,
        "decide: Retry-After as a date waits until then");
  p.deadline = 1000;
  k.retry_after = "121";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_RETRY_AFTER_LONG) && d.retry_after == 121,
        "decide: Retry-After over max_retry_after -> RETRY_AFTER_LONG");
  k.retry_after = "120";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK) && d.delay == 120,
        "decide: Retry-After at max_retry_after is honoured");
  p.deadline = 60;
  k.retry_after = "999999999999";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_RETRY_AFTER_LONG) && d.retry_after == 1e9,
        "decide: a huge Retry-After is clamped and too long");

  /* against the deadline: started 0, deadline 60, now 50 */
  k.now = 50;
  k.retry_after = "9";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK) && d.delay == 9,
        "decide: Retry-After ending before the deadline -> RETRY");
  k.retry_after = "10";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_RETRY_AFTER_DEADLINE) &&
        d.retry_after == 10,
        "decide: Retry-After ending at the deadline -> RETRY_AFTER_DEADLINE");
  k.retry_after = "11";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_GIVEUP, POLICY_RETRY_AFTER_DEADLINE),
        "decide: Retry-After crossing the deadline -> RETRY_AFTER_DEADLINE");

  /* malformed or ignored: back to the backoff */
  k.now = 0;
  k.retry_after = "soon";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK) && d.delay <= 0.1 &&
        d.retry_after == -1,
        "decide: malformed Retry-After falls back to the backoff");
  p.retry_after = 0;
  k.retry_after = "30";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_RETRY, POLICY_OK) && d.delay <= 0.1 &&
        d.retry_after == -1,
        "decide: a policy that ignores Retry-After uses the backoff");
  p.retry_after = 1;
  k = dc(POLICY_RESPONSE, 200);
  k.retry_after = "5";
  d = run(&p, k, 1);
  CHECK(is(d, POLICY_ACCEPT, POLICY_OK) && d.retry_after == -1,
        "decide: Retry-After on an accepted response changes nothing");
}

/* The rng is drawn from only when the backoff decides the wait. */
static void test_decide_rng_use(void)
{
  struct policy p;
  struct policy_call call;
  struct policy_outcome o;
  struct policy_rng r;
  struct policy_decision d;

  policy_init(&p);
  memset(&call, 0, sizeof(call));
  call.method = "GET";
  call.attempt = 1;
  call.now_wall = T_1994;
  memset(&o, 0, sizeof(o));

  policy_rng_seed(&r, 5);
  o.status = 200;
  policy_decide(&p, &call, &o, &r, &d);
  CHECK(r.state == 5, "rng untouched when accepting");
  o.status = 503;
  o.retry_after = "3";
  policy_decide(&p, &call, &o, &r, &d);
  CHECK(d.verdict == POLICY_RETRY && r.state == 5,
        "rng untouched when Retry-After sets the wait");
  o.retry_after = NULL;
  policy_decide(&p, &call, &o, &r, &d);
  CHECK(d.verdict == POLICY_RETRY && r.state != 5,
        "rng advanced when the backoff sets the wait");
}

int main(void)
{
  test_init();
  test_status_set();
  test_names();
  test_methods();
  test_reason_text();
  test_rng();
  test_backoff_none();
  test_backoff_bounds(POLICY_JITTER_FULL, "full");
  test_backoff_bounds(POLICY_JITTER_EQUAL, "equal");
  test_backoff_decorrelated();
  test_backoff_odd_params();
  test_backoff_determinism();
  test_retry_after_seconds();
  test_retry_after_dates();
  test_attempt_timeout();
  test_decide_classes();
  test_decide_statuses();
  test_decide_safety();
  test_decide_attempts();
  test_decide_wait();
  test_decide_retry_after();
  test_decide_rng_use();
  return tap_done();
}
