/*
 * fuzz_retry_after.c - libFuzzer target for policy_parse_retry_after and
 * the decision that uses it (src/policy.c). The first input byte picks
 * the wall clock (edges included: 0, +-1e15, NaN, inf), the rest is the
 * header value. Checked for every input:
 * - the result is 0 with a wait in [0, 1e9], or -1 with the wait
 *   untouched;
 * - a value of digits (with spaces or tabs around) is read as their
 *   number, capped at 1e9;
 * - a Unix time taken from the input bytes, written as an IMF-fixdate
 *   and as an asctime date (and, within 40 years of the clock, as an RFC
 *   850 date) by strftime, is read back to the second;
 * - policy_decide on a 503 with that Retry-After gives a known verdict
 *   and a finite wait inside the deadline.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"

#define MAX_VALUE 200           /* bytes of value tried; the parser's cap
                                   is 64, so past it everything is -1 */
#define MAX_WAIT 1e9

static const double clocks[] = {
  1767225600.0,                 /* 2026-01-01 */
  784111777.0,                  /* RFC 9110's example date */
  0.0, -1.0, 4102444800.0,      /* 2100-01-01 */
  1e15, -1e15, 1e15 + 1, NAN, INFINITY, -INFINITY, 253402300799.0
};
#define NCLOCKS (sizeof(clocks) / sizeof(clocks[0]))

static void fail(const char *what, const char *value, double now, double v)
{
  fprintf(stderr, "fuzz_retry_after: %s: value \"%s\", now %.17g, got %.17g\n",
          what, value, now, v);
  abort();
}

static double expect_wait(double when, double now)
{
  double v = when - now;
  if(!(v > 0))
    return 0;
  return v > MAX_WAIT ? MAX_WAIT : v;
}

/* The value must parse to exactly want. */
static void check_reads(const char *value, double now, double want)
{
  double got = -1;
  if(policy_parse_retry_after(value, now, &got))
    fail("a well-formed value was refused", value, now, got);
  if(got != want)
    fail("a well-formed value was misread", value, now, got);
}

static void check_dates(const uint8_t *data, size_t size, double now)
{
  uint64_t bits = 0;
  time_t t;
  struct tm tm;
  char buf[96];
  size_t i;

  if(!isfinite(now) || fabs(now) > 1e15)
    return;
  for(i = 0; i < 8 && i < size; i++)
    bits = bits << 8 | data[i];
  /* 1970-01-01 .. 9999-12-31 23:59:59: four-digit years */
  t = (time_t)(bits % 253402300800ULL);
  if(!gmtime_r(&t, &tm))
    return;
  strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  check_reads(buf, now, expect_wait((double)t, now));
  strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &tm);
  check_reads(buf, now, expect_wait((double)t, now));
  if(fabs((double)t - now) < 40 * 365.25 * 86400) {
    strftime(buf, sizeof(buf), "%A, %d-%b-%y %H:%M:%S GMT", &tm);
    check_reads(buf, now, expect_wait((double)t, now));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char value[MAX_VALUE + 1];
  const double sentinel = -12345.0;
  double now, v = sentinel;
  size_t n, i, s, e;
  int rc, digits = 1;
  struct policy p;
  struct policy_call c;
  struct policy_outcome o;
  struct policy_decision d;
  struct policy_rng rng;

  if(size == 0)
    return 0;
  now = clocks[data[0] % NCLOCKS];
  n = size - 1 < MAX_VALUE ? size - 1 : MAX_VALUE;
  memcpy(value, data + 1, n);
  value[n] = '\0';
  n = strlen(value);

  rc = policy_parse_retry_after(value, now, &v);
  if(rc != 0 && rc != -1)
    fail("an unknown result", value, now, rc);
  if(rc == -1 && memcmp(&v, &sentinel, sizeof(v)))
    fail("a refusal changed the wait", value, now, v);
  if(rc == 0 && !(v >= 0 && v <= MAX_WAIT))
    fail("a wait out of range", value, now, v);

  /* digits, with spaces or tabs around, within the 64-byte cap */
  for(s = 0; s < n && (value[s] == ' ' || value[s] == '\t'); s++)
    ;
  for(e = n; e > s && (value[e - 1] == ' ' || value[e - 1] == '\t'); e--)
    ;
  for(i = s; i < e; i++)
    if(value[i] < '0' || value[i] > '9')
      digits = 0;
  if(digits && e > s && n <= 64) {
    double want = 0;
    for(i = s; i < e && want <= MAX_WAIT; i++)
      want = want * 10 + (value[i] - '0');
    check_reads(value, now, want > MAX_WAIT ? MAX_WAIT : want);
  }

  check_dates(data + 1, size - 1, now);

  policy_init(&p);
  memset(&c, 0, sizeof(c));
  c.idempotent = 1;
  c.attempt = 1;
  c.now = 10;
  c.started = 0;
  c.now_wall = now;
  memset(&o, 0, sizeof(o));
  o.cls = POLICY_RESPONSE;
  o.status = 503;
  o.sent = 1;
  o.retry_after = value;
  policy_rng_seed(&rng, 1);
  policy_decide(&p, &c, &o, &rng, &d);
  if(d.verdict != POLICY_RETRY && d.verdict != POLICY_GIVEUP)
    fail("a 503 was accepted", value, now, d.verdict);
  if(!(d.delay >= 0) || (d.verdict == POLICY_RETRY &&
                         !(d.delay < p.deadline - (c.now - c.started))))
    fail("a wait outside the deadline", value, now, d.delay);
  return 0;
}
