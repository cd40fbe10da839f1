/*
 * test_fuzz_found.c - unit tests, in TAP (spec/c/tap.h), for what the
 * fuzz targets (spec/fuzz/) found in the pure C parts, one check a
 * finding, each input also kept in the target's corpus. Links policy.o
 * only. Expected Unix times were computed independently (Python's
 * calendar.timegm).
 */
#include "policy.h"
#include "tap.h"

/* 1970-01-01 00:00:00 UTC */
#define T_1970 0.0
/* 2099-12-31 23:59:00 UTC */
#define T_2099_END 4102444740.0
/* 2060-01-01 00:00:00 UTC */
#define T_2060 2840140800.0

static void check_ra(const char *value, double now, double want,
                     const char *name)
{
  double got = -1;
  int rc = policy_parse_retry_after(value, now, &got);
  CHECK(rc == 0 && got == want, "%s (rc %d, got %.17g, want %.17g)", name,
        rc, got, want);
}

/* fuzz_retry_after, corpus/retry_after/rfc850_next_century: an RFC 850
 * two-digit year was only ever moved back a century, never forward, so
 * when the clock's year ends past 50 the nearest year was missed. */
static void test_rfc850_next_century(void)
{
  check_ra("Tuesday, 30-May-00 17:53:53 GMT", T_1970, 959709233.0,
           "RFC 850 \"00\" in 1970 is 2000");
  check_ra("Friday, 01-Jan-00 00:00:00 GMT", T_2099_END, 60,
           "RFC 850 \"00\" a minute before 2100 is 2100");
  check_ra("Thursday, 01-Jan-05 00:00:00 GMT", T_2060, 1e9,
           "RFC 850 \"05\" in 2060 is 2105, 45 years ahead (clamped)");
  check_ra("Friday, 01-Jan-11 00:00:00 GMT", T_2060, 0,
           "RFC 850 \"11\" in 2060 is 2011, as 2111 is 51 years ahead");
}

int main(void)
{
  test_rfc850_next_century();
  return tap_done();
}
