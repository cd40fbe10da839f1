/*
 * test_policy.c - unit tests for src/policy.c, in TAP (spec/c/tap.h).
 *
 * Covers the defaults, the retry_on sets, class and jitter names, the
 * splitmix64 generator, backoff bounds for every jitter, Retry-After parsing
 * (seconds and all three HTTP-date forms), deadline arithmetic and the
 * decision table. Links policy.o only: no Lua, no curl, no clock, no network.
 * Expected Unix times were computed independently (Python's calendar.timegm).
 * Cases that differ only in their inputs are rows of a table, {inputs,
 * expected}, each table checked by one loop: a new case is a new row.
 */
#include "policy.h"
#include "tap.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* 1994-11-06 08:49:37 UTC, RFC 9110's example date */
#define T_1994 784111777.0
/* ... and as an IMF-fixdate */
#define IMF_1994 "Sun, 06 Nov 1994 08:49:37 GMT"
/* 2026-01-01 00:00:00 UTC */
#define T_2026 1767225600.0

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

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
  static const struct {
    const char *name, *why;
  } unknown_classes[] = {
    {"Connect", "case-sensitive"}, {"", "empty"}, {"bogus", "unknown"},
    {NULL, "NULL"},
  };
  static const struct {
    const char *name;
    int want;
    const char *why;
  } jitters[] = {
    {"full", POLICY_JITTER_FULL, "full"},
    {"equal", POLICY_JITTER_EQUAL, "equal"},
    {"decorrelated", POLICY_JITTER_DECORRELATED, "decorrelated"},
    {"none", POLICY_JITTER_NONE, "none"},
    {"Full", -1, "Full: case-sensitive"},
    {"ful", -1, "ful: a prefix is unknown"},
    {"fullx", -1, "fullx: a suffix is unknown"},
    {"", -1, "\"\": empty is unknown"},
    {NULL, -1, "NULL is unknown"},
  };
  int i;

  for(i = 0; i < POLICY_NCLASSES; i++) {
    CHECK(!strcmp(policy_class_name((enum policy_class)i), names[i]),
          "class_name(%d) is \"%s\"", i, names[i]);
    CHECK(policy_class_from_name(policy_class_name((enum policy_class)i)) == i,
          "class \"%s\" round-trips", names[i]);
  }
  for(i = 0; i < (int)NROWS(unknown_classes); i++)
    CHECK(policy_class_from_name(unknown_classes[i].name) == -1,
          "class_from_name: %s is -1", unknown_classes[i].why);
  CHECK(policy_class_from_name(policy_class_name(POLICY_NCLASSES)) == -1,
        "class_name of an out-of-range class does not name a class");
  for(i = 0; i < (int)NROWS(jitters); i++)
    CHECK(policy_jitter_from_name(jitters[i].name) == jitters[i].want,
          "jitter %s", jitters[i].why);
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

  for(i = 0; i < NROWS(yes); i++)
    CHECK(policy_method_idempotent(yes[i]) == 1, "%s is idempotent", yes[i]);
  for(i = 0; i < NROWS(no); i++)
    CHECK(policy_method_idempotent(no[i]) == 0, "\"%s\" is not idempotent",
          no[i]);
  CHECK(policy_method_idempotent(NULL) == 0, "NULL method is not idempotent");
}

static void test_reason_text(void)
{
  static const struct {
    enum policy_reason reason;
    const char *text, *name;
  } rows[] = {
    {POLICY_OK, "", "OK"},
    {POLICY_EXHAUSTED, "out of attempts", "EXHAUSTED"},
    {POLICY_DEADLINE, "deadline reached", "DEADLINE"},
    {POLICY_UNSAFE, "not safe to retry", "UNSAFE"},
    {POLICY_NOT_RETRYABLE, "not retryable", "NOT_RETRYABLE"},
    {POLICY_RETRY_AFTER_LONG, "Retry-After too long", "RETRY_AFTER_LONG"},
    {POLICY_RETRY_AFTER_DEADLINE, "Retry-After past the deadline",
     "RETRY_AFTER_DEADLINE"},
  };
  size_t i;

  for(i = 0; i < NROWS(rows); i++)
    CHECK(!strcmp(policy_reason_text(rows[i].reason), rows[i].text),
          "reason %s is \"%s\"", rows[i].name, rows[i].text);
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

/* One wait under jitter "none": the policy's backoff fields, the retry n,
 * and the bounds the wait must fall in. */
struct none_row {
  double initial, factor, max;
  int n;
  double lo, hi;
  const char *name;
};

#define EXACTLY(x) (x), (x)
#define NEAR(x) (x) - 1e-12, (x) + 1e-12

static void test_backoff_none(void)
{
  static const struct none_row rows[] = {
    {0.1, 2, 10, 1, EXACTLY(0.1), "none: n=1 is initial 0.1"},
    {0.1, 2, 10, 2, EXACTLY(0.2), "none: n=2 is 0.2"},
    {0.1, 2, 10, 5, NEAR(1.6), "none: n=5 is 1.6"},
    {0.1, 2, 10, 7, NEAR(6.4), "none: n=7 is 6.4"},
    {0.1, 2, 10, 8, EXACTLY(10), "none: n=8 capped at max 10"},
    {0.1, 2, 10, 1000, EXACTLY(10), "none: n=1000 is max"},
    {0.1, 2, 10, INT_MAX, EXACTLY(10), "none: n=INT_MAX is max"},
    {0.1, 2, 10, 0, EXACTLY(0.1), "none: n=0 counts as the first retry"},
    {0.1, 2, 10, -5, EXACTLY(0.1), "none: n=-5 counts as the first retry"},
    {0.1, 1, 10, 1000, EXACTLY(0.1), "none: factor 1 is constant"},
    {0.1, 0.5, 10, 2, EXACTLY(0.05), "none: factor 0.5 shrinks"},
    {0.1, 0.5, 10, 1000, 0, 0.1, "none: factor 0.5 stays >= 0"},
    {1, 3, 1e6, 4, EXACTLY(27), "none: factor 3, n=4 is 27"},
    {1, 3, 1e6, 1000, EXACTLY(1e6),
     "none: factor 3, n=1000 is max without overflow"},
    {20, 3, 10, 1, EXACTLY(10), "none: initial over max is capped at max"},
    /* odd parameters */
    {0.1, INFINITY, 10, 1, EXACTLY(0.1),
     "backoff: infinite factor gives initial at n=1"},
    {0.1, INFINITY, 10, 2, EXACTLY(10),
     "backoff: infinite factor gives max at n=2"},
    {0, 2, 10, 1000, EXACTLY(0), "backoff: initial 0 is 0"},
    {NAN, 2, 10, 3, EXACTLY(0), "backoff: NaN initial is 0"},
    {0.1, 2, 0, 3, EXACTLY(0), "backoff: max 0 is 0"},
    {0.1, 2, -1, 3, EXACTLY(0), "backoff: negative max is 0"},
    {0.1, NAN, 10, 50, EXACTLY(0.1), "backoff: NaN factor does not grow"},
  };
  struct policy p;
  struct policy_rng r;
  size_t i;
  int ok = 1;

  policy_init(&p);
  p.jitter = POLICY_JITTER_NONE;
  policy_rng_seed(&r, 1);
  for(i = 0; i < (size_t)NSOME; i++)
    if(fabs(policy_backoff(&p, some_n[i], 0, &r) -
            ref_base(0.1, 2, 10, some_n[i])) > 1e-12)
      ok = 0;
  CHECK(ok, "none: matches initial*factor^(n-1) capped, for every n");

  for(i = 0; i < NROWS(rows); i++) {
    const struct none_row *w = &rows[i];
    double d;
    p.initial = w->initial;
    p.factor = w->factor;
    p.max = w->max;
    d = policy_backoff(&p, w->n, 0, &r);
    CHECK(d >= w->lo && d <= w->hi, "%s (%g)", w->name, d);
  }
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

/* One Retry-After value parsed at a wall-clock time: the seconds it
 * gives, or BAD when it must be rejected. */
struct ra_row {
  const char *value;
  double now, want;
  const char *name;
};

#define BAD NAN
#define BEFORE (T_1994 - 100)

/* Checks that v parsed at now gives want seconds, or, when want is BAD,
 * is rejected with the seconds left untouched. */
static void ra_check(const char *v, double now, double want, const char *name)
{
  double s = UNTOUCHED;
  int rc = policy_parse_retry_after(v, now, &s);

  if(isnan(want))
    CHECK(rc == -1 && s == UNTOUCHED,
          "Retry-After %s: \"%s\" rejected, seconds untouched (rc %d)", name,
          show(v), rc);
  else
    CHECK(rc == 0 && s == want,
          "Retry-After %s: \"%s\" -> %.17g (rc %d, got %.17g)", name,
          show(v), want, rc, s);
}

static void ra_rows(const struct ra_row *rows, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++)
    ra_check(rows[i].value, rows[i].now, rows[i].want, rows[i].name);
}

static void test_retry_after_seconds(void)
{
  static const struct ra_row rows[] = {
    {"120", T_1994, 120, "seconds"},
    {"0", T_1994, 0, "zero"},
    {"007", T_1994, 7, "leading zeros"},
    {"  5", T_1994, 5, "leading spaces"},
    {"5  ", T_1994, 5, "trailing spaces"},
    {"\t 5 \t", T_1994, 5, "tabs around"},
    {"5", NAN, 5, "seconds need no wall clock"},
    {"999999999", T_1994, 999999999, "just under the clamp"},
    {"1000000000", T_1994, 1e9, "at the clamp"},
    {"1000000001", T_1994, 1e9, "over the clamp"},
    {"99999999999999999999999999999999999999999999999", T_1994, 1e9,
     "huge number clamps"},
    {"-5", T_1994, BAD, "negative"},
    {"+5", T_1994, BAD, "plus sign"},
    {"1.5", T_1994, BAD, "decimal"},
    {"1 5", T_1994, BAD, "space inside"},
    {"5s", T_1994, BAD, "unit suffix"},
    {"0x10", T_1994, BAD, "hex"},
    {"1e3", T_1994, BAD, "exponent"},
    {"soon", T_1994, BAD, "garbage"},
    {"", T_1994, BAD, "empty"},
    {"   ", T_1994, BAD, "only spaces"},
    {"\n5", T_1994, BAD, "newline is not whitespace here"},
    {NULL, T_1994, BAD, "NULL"},
  };
  char buf[128];

  ra_rows(rows, NROWS(rows));

  /* 64 bytes is the limit, whitespace included */
  memset(buf, ' ', sizeof(buf));
  buf[63] = '5';
  buf[64] = '\0';
  ra_check(buf, T_1994, 5, "64 bytes");
  buf[63] = ' ';
  buf[64] = '5';
  buf[65] = '\0';
  ra_check(buf, T_1994, BAD, "65 bytes");
  memset(buf, '9', 65);
  buf[65] = '\0';
  ra_check(buf, T_1994, BAD, "65 digits");
  memset(buf, '1', 100);
  buf[100] = '\0';
  ra_check(buf, T_1994, BAD, "100 digits");
}

static void test_retry_after_dates(void)
{
  static const struct ra_row rows[] = {
    {"Sun, 06 Nov 1994 08:49:37 GMT", BEFORE, 100, "IMF-fixdate"},
    {"Sunday, 06-Nov-94 08:49:37 GMT", BEFORE, 100, "RFC 850"},
    {"Sun Nov  6 08:49:37 1994", BEFORE, 100, "asctime"},
    {"Sun Nov 06 08:49:37 1994", BEFORE, 100, "asctime, 2-digit day"},
    {"  Sun, 06 Nov 1994 08:49:37 GMT  ", BEFORE, 100,
     "IMF-fixdate with spaces around"},
    {"Sun, 06 Nov 1994 08:49:37 GMT", T_1994, 0, "now is 0"},
    {"Sun, 06 Nov 1994 08:49:37 GMT", BEFORE + 0.25, 99.75, "fractional now"},
    {"Sun, 06 Nov 1994 08:49:37 GMT", T_2026, 0, "past date is 0"},
    {"Thu, 01 Jan 1970 00:00:00 GMT", T_1994, 0, "the epoch is past"},
    {"Mon, 01 Jan 0001 00:00:00 GMT", T_1994, 0, "year 1 is past"},
    {"Fri, 31 Dec 9999 23:59:59 GMT", T_2026, 1e9, "year 9999 clamps"},
    {"Tue, 01 Jan 2030 00:00:00 GMT", 1893456000.0 - 3600, 3600,
     "2030, an hour ahead"},
    {"Thu, 29 Feb 1996 00:00:00 GMT", 825552000.0 - 1, 1,
     "Feb 29 in a leap year"},
    {"Tue, 29 Feb 2000 00:00:00 GMT", 951782400.0 - 2, 2,
     "Feb 29 in 2000 (divisible by 400)"},
    {"Sun, 01 Jan 2017 00:00:00 GMT", 1483228800.0 - 10, 10, "new year 2017"},
    {"Sat, 31 Dec 2016 23:59:60 GMT", 1483228800.0 - 10, 10,
     "leap second :60 is the next second"},
    {"Thu, 01 Mar 1900 00:00:00 GMT", -2203891200.0 - 5, 5,
     "before 1970 with a matching clock"},
    {"Mon, 06 Nov 1994 08:49:37 GMT", BEFORE, 100,
     "a wrong weekday name is accepted (not checked against the date)"},
    {"Wed Dec 31 23:59:59 1969", -10, 9, "asctime one second before 1970"},
    /* RFC 850 two-digit years: more than 50 years ahead means last century */
    {"Wednesday, 01-Jan-76 00:00:00 GMT", T_2026, 1e9,
     "RFC 850 year 76 in 2026 is 2076, 50 years ahead (clamped)"},
    {"Friday, 01-Jan-77 00:00:00 GMT", T_2026, 0,
     "RFC 850 year 77 in 2026 is 1977 (past)"},
    {"Tuesday, 01-Jan-30 00:00:00 GMT", T_2026, 1893456000.0 - T_2026,
     "RFC 850 year 30 in 2026 is 2030"},
    {"Sunday, 06-Nov-94 08:49:37 GMT", T_2026, 0,
     "RFC 850 year 94 in 2026 is 1994 (past)"},
    /* ... and within 50 years ahead may be next century (found by
     * fuzz_retry_after: the year was only ever moved back) */
    {"Tuesday, 30-May-00 17:53:53 GMT", 0, 959709233.0,
     "RFC 850 year 00 in 1970 is 2000"},
    {"Friday, 01-Jan-00 00:00:00 GMT", 4102444740.0, 60,
     "RFC 850 year 00 a minute before 2100 is 2100"},
    {"Thursday, 01-Jan-05 00:00:00 GMT", 2840140800.0, 1e9,
     "RFC 850 year 05 in 2060 is 2105, 45 years ahead (clamped)"},
    {"Friday, 01-Jan-11 00:00:00 GMT", 2840140800.0, 0,
     "RFC 850 year 11 in 2060 is 2011, as 2111 is 51 years ahead"},
    {"Sun, 06 Nov 1994 08:49:37 GMT", NAN, BAD, "date with NaN clock"},
    {"Sun, 06 Nov 1994 08:49:37 GMT", INFINITY, BAD,
     "date with infinite clock"},
    {"Foo, 06 Nov 1994 08:49:37 GMT", BEFORE, BAD, "unknown day name"},
    {"sun, 06 Nov 1994 08:49:37 GMT", BEFORE, BAD, "lower-case day name"},
    {"Sun, 06 nov 1994 08:49:37 GMT", BEFORE, BAD, "lower-case month"},
    {"Sun, 06 Foo 1994 08:49:37 GMT", BEFORE, BAD, "unknown month"},
    {"Sun, 06 Nov 1994 25:49:37 GMT", BEFORE, BAD, "hour 25"},
    {"Sun, 06 Nov 1994 24:00:00 GMT", BEFORE, BAD, "hour 24"},
    {"Sun, 06 Nov 1994 08:60:37 GMT", BEFORE, BAD, "minute 60"},
    {"Sun, 06 Nov 1994 08:49:61 GMT", BEFORE, BAD, "second 61"},
    {"Sun, 00 Nov 1994 08:49:37 GMT", BEFORE, BAD, "day 0"},
    {"Sun, 32 Dec 1994 08:49:37 GMT", BEFORE, BAD, "day 32"},
    {"Sun, 31 Nov 1994 08:49:37 GMT", BEFORE, BAD, "Nov 31"},
    {"Fri, 30 Feb 1996 08:49:37 GMT", BEFORE, BAD, "Feb 30 is rejected"},
    {"Mon, 29 Feb 1900 00:00:00 GMT", BEFORE, BAD, "Feb 29 in 1900"},
    {"Sun, 29 Feb 1995 00:00:00 GMT", BEFORE, BAD, "Feb 29 in 1995"},
    {"Sun, 6 Nov 1994 08:49:37 GMT", BEFORE, BAD, "IMF one-digit day"},
    {"Sun, 06 Nov 94 08:49:37 GMT", BEFORE, BAD, "IMF two-digit year"},
    {"Sun, 06 Nov 1994 08:49:37 UTC", BEFORE, BAD, "UTC instead of GMT"},
    {"Sun, 06 Nov 1994 08:49:37", BEFORE, BAD, "IMF without GMT"},
    {"Sun, 06 Nov 1994 08:49:37 GMT x", BEFORE, BAD, "trailing garbage"},
    {"Sun, 06 Nov 1994 08:49:37 GMTGMT", BEFORE, BAD, "GMT twice"},
    {"Sun,  06 Nov 1994 08:49:37 GMT", BEFORE, BAD, "two spaces after comma"},
    {"Sun 06 Nov 1994 08:49:37 GMT", BEFORE, BAD, "IMF without comma"},
    {"Sun, 06 Nov 1994 8:49:37 GMT", BEFORE, BAD, "one-digit hour"},
    {"Sun, 06 Nov 1994 08:49 GMT", BEFORE, BAD, "no seconds"},
    {"Sunday, 06 Nov 1994 08:49:37 GMT", BEFORE, BAD, "long name in IMF"},
    {"Sun, 06-Nov-94 08:49:37 GMT", BEFORE, BAD, "short name in RFC 850"},
    {"Sunday, 06-Nov-1994 08:49:37 GMT", BEFORE, BAD, "RFC 850 4-digit year"},
    {"Sunday, 31-Apr-94 08:49:37 GMT", BEFORE, BAD, "RFC 850 Apr 31"},
    {"Sunday, 06-Nov-94 08:49:37", BEFORE, BAD, "RFC 850 without GMT"},
    {"Sun Nov 6 08:49:37 1994", BEFORE, BAD, "asctime single space, 1 digit"},
    {"Sun Nov   6 08:49:37 1994", BEFORE, BAD, "asctime three spaces"},
    {"Sun Nov  6 08:49:37 94", BEFORE, BAD, "asctime two-digit year"},
    {"Sun Nov  6 08:49:37 1994 GMT", BEFORE, BAD, "asctime with GMT"},
    {"Sun Nov  6 25:49:37 1994", BEFORE, BAD, "asctime hour 25"},
    {"Sun Feb 30 08:49:37 1994", BEFORE, BAD, "asctime Feb 30"},
    {"Sun, 06 Nov 1994 08:49:37 GMT\n", BEFORE, BAD, "trailing newline"},
  };
  char buf[80];

  ra_rows(rows, NROWS(rows));

  memset(buf, ' ', sizeof(buf));
  memcpy(buf, "Sun, 06 Nov 1994 08:49:37 GMT", 29);
  buf[64] = '\0';
  ra_check(buf, BEFORE, 100, "a date padded to 64 bytes");
  buf[64] = ' ';
  buf[65] = '\0';
  ra_check(buf, BEFORE, BAD, "a date padded to 65 bytes");
}

/* ---- deadlines -------------------------------------------------------- */

static void test_attempt_timeout(void)
{
  static const struct {
    double timeout, deadline, started, now, want, own;
    const char *name;
  } rows[] = {
    {30, 60, 100, 100, 30,  0, "fresh call gets the full timeout"},
    {30, 60, 100, 130, 30,  0, "30 s left, timeout 30"},
    {30, 60, 100, 145, 15,  0, "15 s before the deadline gives 15"},
    {30, 60, 100, 159.5, 0.5,  0, "half a second left"},
    {30, 60, 100, 160, 0,  0, "at the deadline is 0"},
    {30, 60, 100, 500, 0,  0, "after the deadline is 0, never negative"},
    {2, 60, 0, 10, 2,  0, "a short timeout wins"},
    {100, INFINITY, 0, 1e6, 100, 0, "infinite deadline gives the timeout"},
    {0.2, 60, 0, 0, 2, 2, "the call's own timeout over a shorter one"},
    {30, 60, 100, 159, 1, 2, "the call's own timeout, never past the deadline"},
  };
  struct policy p;
  size_t i;

  policy_init(&p);
  for(i = 0; i < NROWS(rows); i++) {
    double got;
    p.timeout = rows[i].timeout;
    p.deadline = rows[i].deadline;
    got = policy_attempt_timeout(&p, rows[i].started, rows[i].now,
                                 rows[i].own);
    CHECK(got == rows[i].want, "attempt_timeout: %s (%g)", rows[i].name, got);
  }
}

/* ---- decisions -------------------------------------------------------- */

/* One decision. Inputs: changes to policy_init's policy (a zero field
 * changes nothing), then the attempt that just ended: a GET's first
 * attempt, at the call's start (monotonic 0, wall clock 100 s before RFC
 * 9110's example date), unless a field says otherwise. Expected: the
 * verdict and reason, and where asked the delay's bounds and the
 * retry_after reported. */
struct drow {
  const char *name;
  /* the policy */
  int clear_retry_on;          /* policy_clear_retry_on first */
  int status_on;               /* a status to retry, or 0 */
  unsigned classes_on, classes_off;  /* retry_class bits to set, clear */
  int attempts, unsafe, ignore_retry_after;
  const char *jitter;          /* a jitter's name, or NULL */
  int set_initial, set_deadline;
  double initial, deadline;
  /* the attempt */
  enum policy_class cls;
  int status;
  const char *method;          /* NULL: "GET" */
  int has_key, attempt;        /* attempt 0: 1 */
  int sent;                    /* 0: as the class says (a response, a
                                  timeout, a reset or too_large was sent);
                                  1: sent whatever the class */
  int invalid;
  double now, prev;
  const char *retry_after;
  uint64_t seed;               /* the rng's seed; 0: 1 */
  /* the decision */
  enum policy_verdict verdict;
  enum policy_reason reason;
  int check_delay, check_ra;
  double delay_lo, delay_hi, ra;
};

#define RESP(s) .cls = POLICY_RESPONSE, .status = (s)
#define ACCEPT .verdict = POLICY_ACCEPT, .reason = POLICY_OK
#define RETRY .verdict = POLICY_RETRY, .reason = POLICY_OK
#define GIVEUP(why) .verdict = POLICY_GIVEUP, .reason = (why)
#define DELAY(lo, hi) .check_delay = 1, .delay_lo = (lo), .delay_hi = (hi)
#define RA(s) .check_ra = 1, .ra = (s)
#define INITIAL(x) .set_initial = 1, .initial = (x)
#define DEADLINE(x) .set_deadline = 1, .deadline = (x)
#define BIT(c) (1u << (c))

/* Builds w's policy and attempt, decides, and says whether the decision
 * is the one w expects; *d gets the decision. */
static int decide(const struct drow *w, struct policy_decision *d)
{
  struct policy p;
  struct policy_call call;
  struct policy_outcome o;
  struct policy_rng r;
  int ok;

  policy_init(&p);
  if(w->clear_retry_on)
    policy_clear_retry_on(&p);
  if(w->status_on)
    policy_set_status(&p, w->status_on, 1);
  p.retry_class = (p.retry_class | w->classes_on) & ~w->classes_off;
  if(w->attempts)
    p.attempts = w->attempts;
  if(w->unsafe)
    p.unsafe = 1;
  if(w->ignore_retry_after)
    p.retry_after = 0;
  if(w->jitter)
    p.jitter = (enum policy_jitter)policy_jitter_from_name(w->jitter);
  if(w->set_initial)
    p.initial = w->initial;
  if(w->set_deadline)
    p.deadline = w->deadline;

  call.idempotent = policy_method_idempotent(w->method ? w->method : "GET");
  call.has_key = w->has_key;
  call.attempt = w->attempt ? w->attempt : 1;
  call.started = 0;
  call.now = w->now;
  call.now_wall = T_1994 - 100;
  call.prev_delay = w->prev;
  memset(&o, 0, sizeof(o));
  o.cls = w->cls;
  o.status = w->status;
  o.sent = w->sent || w->cls == POLICY_RESPONSE ||
           w->cls == POLICY_TIMEOUT || w->cls == POLICY_RESET ||
           w->cls == POLICY_TOO_LARGE;
  o.invalid = w->invalid;
  o.retry_after = w->retry_after;
  policy_rng_seed(&r, w->seed ? w->seed : 1);
  memset(d, 0x5a, sizeof(*d));
  policy_decide(&p, &call, &o, &r, d);

  ok = d->verdict == w->verdict && d->reason == w->reason;
  if(w->check_delay)
    ok = ok && d->delay >= w->delay_lo && d->delay <= w->delay_hi;
  if(w->check_ra)
    ok = ok && d->retry_after == w->ra;
  return ok;
}

/* One check a row, named by the row. */
static void decide_rows(const struct drow *rows, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++) {
    struct policy_decision d;
    int ok = decide(&rows[i], &d);
    CHECK(ok, "decide: %s (verdict %d, reason %d, delay %g, retry_after %g)",
          rows[i].name, (int)d.verdict, (int)d.reason, d.delay,
          d.retry_after);
  }
}

static void test_decide_classes(void)
{
  static const struct drow rows[] = {
    {"tls retried when enabled", .classes_on = BIT(POLICY_TLS),
     .cls = POLICY_TLS, RETRY},
    {"too_large never retried, even when its bit is set",
     .classes_on = BIT(POLICY_TLS) | BIT(POLICY_TOO_LARGE),
     .cls = POLICY_TOO_LARGE, GIVEUP(POLICY_NOT_RETRYABLE)},
    {"an out-of-range class is not retryable",
     .classes_on = BIT(POLICY_TLS) | BIT(POLICY_TOO_LARGE),
     .cls = (enum policy_class)POLICY_NCLASSES, GIVEUP(POLICY_NOT_RETRYABLE)},
    {"reset not retried once its bit is cleared", .classes_on = ~0u,
     .classes_off = BIT(POLICY_RESET), .cls = POLICY_RESET,
     GIVEUP(POLICY_NOT_RETRYABLE)},
  };
  struct policy_decision d;
  int c;

  for(c = POLICY_CONNECT; c < POLICY_NCLASSES; c++) {
    int want = c == POLICY_CONNECT || c == POLICY_DNS ||
               c == POLICY_TIMEOUT || c == POLICY_RESET;
    struct drow w = {"", .cls = (enum policy_class)c,
                     GIVEUP(POLICY_NOT_RETRYABLE)};
    if(want) {
      w.verdict = POLICY_RETRY;
      w.reason = POLICY_OK;
    }
    CHECK(decide(&w, &d), "decide: %s %s by default", policy_class_name(c),
          want ? "retried" : "not retried");
  }
  decide_rows(rows, NROWS(rows));
}

static void test_decide_statuses(void)
{
  static const int accepted[] = {200, 201, 204, 301, 400, 401, 404, 501};
  static const int retried[] = {408, 429, 500, 502, 503, 504};
  static const struct drow rows[] = {
    {"invalid 200 retried", RESP(200), .invalid = 1, RETRY},
    {"invalid 404 retried", RESP(404), .invalid = 1, RETRY},
    {"empty retry_on accepts a 500", .clear_retry_on = 1, RESP(500), ACCEPT},
    {"empty retry_on gives up on connect", .clear_retry_on = 1,
     .cls = POLICY_CONNECT, GIVEUP(POLICY_NOT_RETRYABLE)},
    {"empty retry_on still retries an invalid response",
     .clear_retry_on = 1, RESP(200), .invalid = 1, RETRY},
    {"404 retried when listed", .clear_retry_on = 1, .status_on = 404,
     RESP(404), RETRY},
  };
  struct policy_decision d;
  size_t i;

  for(i = 0; i < NROWS(accepted); i++) {
    struct drow w = {"", RESP(accepted[i]), ACCEPT, DELAY(0, 0), RA(-1)};
    CHECK(decide(&w, &d), "decide: %d accepted (delay 0, retry_after -1)",
          accepted[i]);
  }
  for(i = 0; i < NROWS(retried); i++) {
    struct drow w = {"", RESP(retried[i]), RETRY, DELAY(0, 0.1), RA(-1)};
    int ok = decide(&w, &d);
    CHECK(ok, "decide: %d retried after a full-jitter delay in [0, 0.1] (%g)",
          retried[i], d.delay);
  }
  decide_rows(rows, NROWS(rows));
}

static void test_decide_safety(void)
{
  static const struct drow rows[] = {
    {"POST sent without key, 500 -> UNSAFE", RESP(500), .method = "POST",
     GIVEUP(POLICY_UNSAFE)},
    {"PATCH sent without key, 500 -> UNSAFE", RESP(500), .method = "PATCH",
     GIVEUP(POLICY_UNSAFE)},
    {"POST reset after sending -> UNSAFE", .cls = POLICY_RESET,
     .method = "POST", GIVEUP(POLICY_UNSAFE)},
    {"POST not sent (connect) -> RETRY", .cls = POLICY_CONNECT,
     .method = "POST", RETRY},
    {"POST with idempotency key -> RETRY", RESP(500), .method = "POST",
     .has_key = 1, RETRY},
    {"unsafe policy -> RETRY", .unsafe = 1, RESP(500), .method = "POST",
     RETRY},
    {"POST 201 accepted", RESP(201), .method = "POST", ACCEPT},
    {"not retryable comes before unsafe", .cls = POLICY_TLS,
     .method = "POST", .sent = 1, GIVEUP(POLICY_NOT_RETRYABLE)},
    {"unsafe comes before out of attempts", RESP(500), .method = "POST",
     .attempt = 4, GIVEUP(POLICY_UNSAFE)},
    {"PUT 500 -> RETRY", RESP(500), .method = "PUT", RETRY},
    {"lower-case \"post\" is not idempotent either", RESP(500),
     .method = "post", GIVEUP(POLICY_UNSAFE)},
  };

  decide_rows(rows, NROWS(rows));
}

static void test_decide_attempts(void)
{
  static const struct drow rows[] = {
    {"attempt 3 of 4 -> RETRY", RESP(503), .attempt = 3, RETRY},
    {"attempt 4 of 4 -> EXHAUSTED", RESP(503), .attempt = 4,
     GIVEUP(POLICY_EXHAUSTED), DELAY(0, 0)},
    {"past attempts -> EXHAUSTED", RESP(503), .attempt = 9,
     GIVEUP(POLICY_EXHAUSTED)},
    {"a good last attempt is accepted", RESP(200), .attempt = 4, ACCEPT},
    {"connect on the last attempt -> EXHAUSTED", .cls = POLICY_CONNECT,
     .attempt = 4, GIVEUP(POLICY_EXHAUSTED)},
    {"attempts 1 never retries", .attempts = 1, RESP(500),
     GIVEUP(POLICY_EXHAUSTED)},
    {"out of attempts comes before Retry-After", RESP(503), .attempt = 4,
     .retry_after = "1", GIVEUP(POLICY_EXHAUSTED)},
  };

  decide_rows(rows, NROWS(rows));
}

static void test_decide_wait(void)
{
  /* started 0, deadline 60 */
  static const struct drow rows[] = {
    {"jitter none, attempt 3 waits 0.4", .jitter = "none", RESP(500),
     .attempt = 3, RETRY, DELAY(0.4, 0.4)},
    {"decorrelated uses prev_delay, in [0.1, 6]", .jitter = "decorrelated",
     RESP(500), .attempt = 3, .prev = 2, .seed = 5, RETRY, DELAY(0.1, 6)},
    {"a wait ending before the deadline -> RETRY", .jitter = "none",
     INITIAL(0.5), RESP(500), .now = 59.25, RETRY, DELAY(0.5, 0.5)},
    {"a wait ending exactly at the deadline -> DEADLINE", .jitter = "none",
     INITIAL(0.5), RESP(500), .now = 59.5, GIVEUP(POLICY_DEADLINE),
     DELAY(0, 0)},
    {"a wait crossing the deadline -> DEADLINE", .jitter = "none",
     INITIAL(0.5), RESP(500), .now = 59.75, GIVEUP(POLICY_DEADLINE)},
    {"no time left, even a zero wait -> DEADLINE", .jitter = "none",
     INITIAL(0), RESP(500), .now = 60, GIVEUP(POLICY_DEADLINE)},
    {"already past the deadline -> DEADLINE", .jitter = "none", INITIAL(0),
     RESP(500), .now = 100, GIVEUP(POLICY_DEADLINE)},
    {"infinite deadline retries", .jitter = "none", INITIAL(0),
     DEADLINE(INFINITY), RESP(500), .now = 100, RETRY},
  };
  /* the delay is the backoff for retry n = attempt, drawn from the rng */
  struct drow w = {"", RESP(500), .attempt = 3, .seed = 77, RETRY};
  struct policy p;
  struct policy_rng r;
  struct policy_decision d;
  int ok;

  policy_init(&p);
  policy_rng_seed(&r, 77);
  w.check_delay = 1;
  w.delay_lo = w.delay_hi = policy_backoff(&p, 3, 0, &r);
  ok = decide(&w, &d);
  CHECK(ok, "decide: delay is policy_backoff(attempt) with the same rng (%g)",
        d.delay);
  decide_rows(rows, NROWS(rows));
}

static void test_decide_retry_after(void)
{
  static const struct drow rows[] = {
    {"Retry-After 5 waits 5 s and reports it", RESP(503),
     .retry_after = "5", RETRY, DELAY(5, 5), RA(5)},
    {"Retry-After 0 retries at once", RESP(503), .retry_after = "0", RETRY,
     DELAY(0, 0), RA(0)},
    {"a Retry-After date 100 s ahead, deadline 60 s -> "
     "RETRY_AFTER_DEADLINE", RESP(429), .retry_after = IMF_1994,
     GIVEUP(POLICY_RETRY_AFTER_DEADLINE), RA(100)},
    {"Retry-After as a date waits until then", DEADLINE(1000), RESP(429),
     .retry_after = IMF_1994, RETRY, DELAY(100, 100), RA(100)},
    {"Retry-After over max_retry_after -> RETRY_AFTER_LONG", DEADLINE(1000),
     RESP(429), .retry_after = "121", GIVEUP(POLICY_RETRY_AFTER_LONG),
     RA(121)},
    {"Retry-After at max_retry_after is honoured", DEADLINE(1000), RESP(429),
     .retry_after = "120", RETRY, DELAY(120, 120)},
    {"a huge Retry-After is clamped and too long", RESP(429),
     .retry_after = "999999999999", GIVEUP(POLICY_RETRY_AFTER_LONG),
     RA(1e9)},
    /* against the deadline: started 0, deadline 60, now 50 */
    {"Retry-After ending before the deadline -> RETRY", RESP(429),
     .now = 50, .retry_after = "9", RETRY, DELAY(9, 9)},
    {"Retry-After ending at the deadline -> RETRY_AFTER_DEADLINE",
     RESP(429), .now = 50, .retry_after = "10",
     GIVEUP(POLICY_RETRY_AFTER_DEADLINE), RA(10)},
    {"Retry-After crossing the deadline -> RETRY_AFTER_DEADLINE", RESP(429),
     .now = 50, .retry_after = "11", GIVEUP(POLICY_RETRY_AFTER_DEADLINE)},
    /* malformed or ignored: back to the backoff */
    {"malformed Retry-After falls back to the backoff", RESP(429),
     .retry_after = "soon", RETRY, DELAY(0, 0.1), RA(-1)},
    {"a policy that ignores Retry-After uses the backoff",
     .ignore_retry_after = 1, RESP(429), .retry_after = "30", RETRY,
     DELAY(0, 0.1), RA(-1)},
    {"Retry-After on an accepted response changes nothing", RESP(200),
     .retry_after = "5", ACCEPT, RA(-1)},
  };

  decide_rows(rows, NROWS(rows));
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
  call.idempotent = 1;
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
  /* a wrapper's inner call gave the ask in seconds: no text to parse */
  o.retry_after = NULL;
  o.has_wait = 1;
  o.wait = 7;
  policy_decide(&p, &call, &o, &r, &d);
  CHECK(d.verdict == POLICY_RETRY && d.delay == 7 && d.retry_after == 7 &&
        r.state == 5, "a wait known in seconds is the wait, as Retry-After");
  o.wait = 1000;
  policy_decide(&p, &call, &o, &r, &d);
  CHECK(d.verdict == POLICY_GIVEUP && d.reason == POLICY_RETRY_AFTER_LONG,
        "a wait known in seconds over max_retry_after gives up");
  o.has_wait = 0;
  o.retry_after = "3";
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
