/*
 * test_ratelimit.c - unit tests for src/ratelimit.c and src/chaos.c, in
 * TAP (spec/c/tap.h): rates as written, GCRA's schedule with and without
 * a burst, the deadline, which key a URL falls under, the adaptive rate's
 * cut, growth and lifting, and chaos's spec and reproducible draws.
 * Links ratelimit.o, chaos.o, url.o and policy.o: no Lua, no curl, no
 * clock (every time is given).
 */
#include "chaos.h"
#include "ratelimit.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

static int near(double a, double b)
{
  return fabs(a - b) < 1e-9;
}

static void test_spec(void)
{
  static const struct {
    const char *s;
    double interval;       /* 0: refused */
    long burst;
  } rows[] = {
    {"50/s", 0.02, 1}, {"3000/min", 0.02, 1}, {"2/h", 1800, 1},
    {"0.5/sec", 2, 1}, {"50/s burst 10", 0.02, 10},
    {"50/x", 0, 0}, {"-5/s", 0, 0}, {"0/s", 0, 0}, {"5/s burst 0", 0, 0},
    {"5/s burst", 0, 0}, {"5/s  burst 2", 0, 0}, {"/s", 0, 0},
    {"5/s burst 2x", 0, 0}, {"2000000/s", 0, 0}, {"1/h burst 100001", 0, 0},
  };
  struct rate_spec sp;
  char err[256];
  size_t i;
  for(i = 0; i < NROWS(rows); i++) {
    int r = rate_spec_parse(rows[i].s, &sp, err, sizeof(err));
    if(rows[i].interval == 0)
      CHECK(r == -1 && strstr(err, rows[i].s), "spec: '%s' refused: %s",
            rows[i].s, err);
    else
      CHECK(r == 0 && !sp.adaptive && near(sp.interval, rows[i].interval) &&
            sp.burst == rows[i].burst, "spec: '%s'", rows[i].s);
  }
  CHECK(rate_spec_parse("adaptive", &sp, err, sizeof(err)) == 0 &&
        sp.adaptive, "spec: adaptive");
}

static struct ratelimit *one(const char *key, const char *rate)
{
  struct ratelimit *rl = ratelimit_new();
  struct rate_spec sp;
  char err[256];
  rate_spec_parse(rate, &sp, err, sizeof(err));
  ratelimit_add(rl, key, &sp, err, sizeof(err));
  return rl;
}

static void test_gcra(void)
{
  struct ratelimit *rl = one("h", "10/s burst 3");
  double at, want[] = {5, 5, 5, 5.1, 5.2, 5.3};
  size_t i;
  int ok = 1;
  for(i = 0; i < NROWS(want); i++)
    ok &= ratelimit_reserve(rl, "http://h/x", 5, 100, &at) == 0 &&
          near(at, want[i]);
  CHECK(ok, "gcra: a burst of 3 at once, then one each 0.1 s");
  CHECK(ratelimit_reserve(rl, "http://h/x", 5, 5.35, &at) == 1,
        "gcra: a turn past the deadline is refused");
  CHECK(ratelimit_reserve(rl, "http://h/x", 5, 100, &at) == 0 &&
        near(at, 5.4), "gcra: ... and reserves nothing");
  CHECK(ratelimit_reserve(rl, "http://h/x", 60, 100, &at) == 0 &&
        near(at, 60), "gcra: idle again later");
  CHECK(ratelimit_reserve(rl, "http://other/x", 60, 100, &at) == 0 &&
        near(at, 60) && ratelimit_rate(rl, "http://other/", 0) == 0,
        "gcra: another host is not limited");
  ratelimit_free(rl);

  rl = one("*", "1/s");
  CHECK(ratelimit_reserve(rl, "http://a/", 0, 100, &at) == 0 && at == 0 &&
        ratelimit_reserve(rl, "http://b/", 0, 100, &at) == 0 && at == 0 &&
        ratelimit_reserve(rl, "http://a:80/y", 0, 100, &at) == 0 &&
        near(at, 1), "gcra: \"*\" keeps a bucket an origin");
  ratelimit_free(rl);
}

static void test_keys(void)
{
  static const struct {
    const char *key;
    int ok;
  } rows[] = {
    {"*", 1}, {"api.example.com", 1}, {"api.example.com:8443", 1},
    {"https://api.example.com", 1}, {"https://api.example.com:8443/", 1},
    {"[::1]:8080", 1}, {"http://[::1]:8080", 1},
    {"a b", 0}, {"h:0", 0}, {"h:99999", 0}, {"http://h/path", 0},
    {"", 0}, {"h:", 0}, {"ht tp://h", 0},
  };
  struct ratelimit *rl = ratelimit_new();
  struct rate_spec sp;
  char err[256];
  size_t i;
  rate_spec_parse("1/s", &sp, err, sizeof(err));
  for(i = 0; i < NROWS(rows); i++)
    CHECK((ratelimit_add(rl, rows[i].key, &sp, err, sizeof(err)) == 0) ==
          rows[i].ok, "key: '%s' %s", rows[i].key,
          rows[i].ok ? "taken" : "refused");
  ratelimit_free(rl);
}

static void test_adaptive(void)
{
  struct ratelimit *rl = one("*", "adaptive");
  double at, t, r;
  int i, ok = 1;
  /* 100 a second for 2 s, never held */
  for(i = 0, t = 0; i < 200; i++, t += 0.01)
    ok &= ratelimit_reserve(rl, "http://h/", t, 100, &at) == 0 && at == t;
  CHECK(ok && ratelimit_rate(rl, "http://h/", t) == 0,
        "adaptive: no limit before a 429");
  ratelimit_throttled(rl, "http://h/", t - 0.01, t);
  r = ratelimit_rate(rl, "http://h/", t);
  CHECK(r > 45 && r < 55, "adaptive: a 429 halves the rate sent at (%g)",
        r);
  CHECK(near(ratelimit_rate(rl, "http://h/", t + 1), r * 1.1),
        "adaptive: a tenth more a second later");
  ratelimit_throttled(rl, "http://h/", t - 0.02, t + 0.5);
  CHECK(near(ratelimit_rate(rl, "http://h/", t + 1), r * 1.1),
        "adaptive: a 429 of a request sent before the cut changes nothing");
  CHECK(ratelimit_reserve(rl, "http://h/", t, 100, &at) == 0 && at == t &&
        ratelimit_reserve(rl, "http://h/", t, 100, &at) == 0 &&
        near(at, t + 1 / r), "adaptive: requests then go 1/rate apart");
  CHECK(ratelimit_rate(rl, "http://h/", t + 30) == 0,
        "adaptive: lifted once at twice the rate that drew the 429");
  ratelimit_free(rl);
}

static void test_chaos(void)
{
  static const char *const bad[] = {
    "fial=0.1", "fail=1.5", "fail=0.1,fail=0.2", "fail=0.1,status=200",
    "latency=0.1", "latency=0.1:5m", "latency=2:5ms", "seed=7", "fail",
    "fail=0.6,reset=0.6", "", "fail=0.1,seed=x",
  };
  struct chaos c, d;
  char err[256];
  size_t i;
  int n[CHAOS_NFAULTS] = {0}, same = 1;
  unsigned task, call;
  for(i = 0; i < NROWS(bad); i++)
    CHECK(chaos_parse(bad[i], &c, NULL, err, sizeof(err)) == -1,
          "chaos: '%s' refused: %s", bad[i], err);
  CHECK(chaos_parse("fail=0.2,status=502,latency=0.1:200ms,reset=0.1,"
                    "seed=7", &c, NULL, err, sizeof(err)) == 0 &&
        c.status == 502 && near(c.latency, 0.2) && c.seeded && c.seed == 7,
        "chaos: a whole spec");
  for(task = 1; task <= 100; task++)
    for(call = 1; call <= 100; call++)
      n[chaos_draw(&c, task, call, 1)]++;
  /* 10,000 draws: each share within 4 standard deviations */
  CHECK(abs(n[CHAOS_FAIL] - 2000) < 160 && abs(n[CHAOS_RESET] - 1000) < 120 &&
        abs(n[CHAOS_LATENCY] - 700) < 110,
        "chaos: shares as asked (%d fail, %d reset, %d latency)",
        n[CHAOS_FAIL], n[CHAOS_RESET], n[CHAOS_LATENCY]);
  d = c;
  for(task = 1; task <= 50; task++)
    same &= chaos_draw(&c, task, 3, 2) == chaos_draw(&d, task, 3, 2);
  d.seed = 8;
  for(task = 1, i = 0; task <= 50; task++)
    i += chaos_draw(&c, task, 3, 2) != chaos_draw(&d, task, 3, 2);
  CHECK(same && i > 0, "chaos: the same seed, the same faults; another, "
        "others");
}

int main(void)
{
  test_spec();
  test_gcra();
  test_keys();
  test_adaptive();
  test_chaos();
  return tap_done();
}
