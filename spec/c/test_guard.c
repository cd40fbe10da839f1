/*
 * test_guard.c - unit tests for src/guard.c, in TAP (spec/c/tap.h).
 *
 * The bucket's arithmetic (AWS's numbers: 100 retries from 500 tokens at
 * 5, 50 after timeouts at 10, a refill of 1 per first-try success, a
 * refund of the cost when a retry is accepted), the ratio with its floor,
 * the breaker's consecutive and ratio rules with the minimum of calls and
 * the sliding window, exactly one probe half-open, and the cool-down
 * headers' order. Links guard.o, policy.o and dynbuf.o: no clock, no
 * network; times are passed in.
 */
#include "guard.h"
#include "tap.h"

#include <string.h>

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

static void test_bucket(void)
{
  struct guard g = {0};
  struct guard_conf c;
  struct guard_state *s;
  int n = 0;
  guard_conf_init(&c);
  s = guard_get(&g, "http|h|80", "h:80");
  CHECK(s && guard_get(&g, "http|h|80", "x") == s &&
        guard_get(&g, "http|h|80", NULL) == s &&
        !guard_get(&g, "http|h|81", NULL) && g.n == 1, "one state a key");
  while(guard_budget_take(s, &c, 0, 0))
    n++;
  CHECK(n == 100, "500 tokens at 5: 100 retries (got %d)", n);
  CHECK(s->charged == 100 && s->refused == 1, "counts");
  guard_note(s, &c, 1, 0, 1, 0, 0, 0);
  CHECK(s->tokens == 1, "a first-try success refills 1");
  guard_note(s, &c, 0, 0, 1, 0, 5, 0);
  CHECK(s->tokens == 6, "an accepted retry refunds its cost");
  guard_note(s, &c, 0, 1, 0, 0, 5, 0);
  guard_note(s, &c, 1, 1, 1, 0, 0, 0);
  CHECK(s->tokens == 6, "a failed one does not, accepted or not");
  guard_free(&g);

  s = guard_get(&g, "k", "k");
  n = 0;
  while(guard_budget_take(s, &c, 1, 0))
    n++;
  CHECK(n == 50, "after timeouts, 10 each: 50 (got %d)", n);
  guard_note(s, &c, 1, 0, 1, 0, 0, 0);
  s->tokens = 499.5;
  guard_note(s, &c, 1, 0, 1, 0, 0, 0);
  CHECK(s->tokens == 500, "never over the bucket");
  c.budget = GUARD_BUDGET_OFF;
  s->tokens = 0;
  CHECK(guard_budget_take(s, &c, 0, 0) == 1, "off: always allowed");
  guard_free(&g);
}

static void test_ratio(void)
{
  struct guard g = {0};
  struct guard_conf c;
  struct guard_state *s;
  int i, n = 0;
  guard_conf_init(&c);
  c.budget = GUARD_BUDGET_RATIO;
  c.min_per_second = 3;
  s = guard_get(&g, "k", "k");
  for(i = 0; i < 100; i++)
    guard_note(s, &c, 1, 1, 0, 0, 0, 100.5);
  while(guard_budget_take(s, &c, 0, 100.5))
    n++;
  CHECK(n == 10, "10 %% of 100 first attempts (got %d)", n);
  n = 0;
  while(guard_budget_take(s, &c, 0, 101.5))
    n++;
  CHECK(n == 3, "then the floor a second (got %d)", n);
  n = 0;
  while(guard_budget_take(s, &c, 0, 120.5))
    n++;
  CHECK(n == 3, "the window slid: the floor alone (got %d)", n);
  guard_free(&g);
}

static void test_breaker(void)
{
  struct guard g = {0};
  struct guard_conf c;
  struct guard_state *s;
  double until = 0;
  int i;
  guard_conf_init(&c);
  c.breaker = 1;
  c.consecutive = 3;
  s = guard_get(&g, "k", "k");
  CHECK(guard_note(s, &c, 1, 1, 0, 0, 0, 0) == GUARD_SAME &&
        guard_note(s, &c, 1, 1, 0, 0, 0, 0) == GUARD_SAME &&
        guard_note(s, &c, 1, 0, 1, 0, 0, 0) == GUARD_SAME &&
        guard_note(s, &c, 1, 1, 0, 0, 0, 0) == GUARD_SAME &&
        guard_note(s, &c, 1, 1, 0, 0, 0, 0) == GUARD_SAME,
        "a success breaks the run of failures");
  CHECK(guard_note(s, &c, 1, 1, 0, 0, 0, 1) == GUARD_OPENED,
        "3 in a row open it");
  CHECK(guard_admit(s, &c, 2, 1, &until) == GUARD_WAIT_BREAK && until == 6,
        "open for break_for");
  CHECK(guard_admit(s, &c, 6, 1, &until) == GUARD_PROBE, "then one probe");
  CHECK(guard_admit(s, &c, 6.5, 1, &until) == GUARD_WAIT_PROBE &&
        until == 7, "and only one, for its lease");
  CHECK(guard_note(s, &c, 1, 1, 0, 1, 0, 6.6) == GUARD_REOPENED &&
        guard_admit(s, &c, 7, 1, &until) == GUARD_WAIT_BREAK &&
        until == 11.6, "a failed probe opens it again");
  CHECK(guard_admit(s, &c, 11.6, 1, &until) == GUARD_PROBE &&
        guard_admit(s, &c, 12.7, 1, &until) == GUARD_PROBE &&
        s->probes == 3, "a probe past its lease lets another go");
  CHECK(guard_note(s, &c, 1, 0, 1, 1, 0, 13) == GUARD_CLOSED_AGAIN &&
        guard_admit(s, &c, 13, 1, &until) == GUARD_GO,
        "a good probe closes it");

  c.consecutive = 0;             /* the ratio alone: 10 % of >= 100 */
  for(i = 0; i < 89; i++)
    guard_note(s, &c, 1, 0, 1, 0, 0, 20);
  for(i = 0; i < 10; i++)
    guard_note(s, &c, 1, 1, 0, 0, 0, 20);
  CHECK(s->breaker == GUARD_CLOSED, "99 calls: under the minimum");
  CHECK(guard_note(s, &c, 1, 0, 1, 0, 0, 20) == GUARD_OPENED,
        "the 100th call, 10 of them failed: 10 %% opens it");
  guard_free(&g);

  s = guard_get(&g, "k", "k");
  for(i = 0; i < 90; i++)
    guard_note(s, &c, 1, 0, 1, 0, 0, 0);
  for(i = 0; i < 9; i++)
    guard_note(s, &c, 1, 1, 0, 0, 0, 0);
  CHECK(guard_note(s, &c, 1, 1, 0, 0, 0, 0) == GUARD_OPENED,
        "the 100th call as the 10th failure opens it too");
  guard_free(&g);

  s = guard_get(&g, "k", "k");
  for(i = 0; i < 99; i++)
    guard_note(s, &c, 1, 1, 0, 0, 0, 0);
  CHECK(guard_note(s, &c, 1, 1, 0, 0, 0, 31) == GUARD_SAME,
        "calls older than the window do not count");
  c.breaker = 0;
  s->breaker = GUARD_OPEN;
  s->open_until = 100;
  CHECK(guard_admit(s, &c, 0, 1, &until) == GUARD_GO, "off: always go");
  guard_free(&g);
}

static void test_cool_ask(void)
{
  static const struct {
    const char *v[GUARD_COOL_HEADERS];
    int which;
    double seconds;
  } rows[] = {
    {{"2", "5", "7", "9"}, 0, 2},
    {{NULL, "5", "7", "9"}, 1, 5},
    {{"soon", "5", NULL, NULL}, 1, 5},
    {{NULL, NULL, "7", "9"}, 2, 7},
    {{NULL, NULL, NULL, "1767225630"}, 3, 30},   /* epoch: now + 30 */
    {{NULL, NULL, NULL, "1767225500"}, 3, 0},    /* epoch past */
    {{NULL, NULL, NULL, "2.5"}, 3, 2.5},
    {{NULL, "-1", "x", " "}, -1, 0},
    {{NULL, "1e3", "0x10", " 4 "}, 3, 4},  /* digits and a fraction only */
    {{NULL, "1.", ".5", "inf"}, -1, 0},
    {{"Thu, 01 Jan 2026 00:00:10 GMT", NULL, NULL, NULL}, 0, 10},
    {{NULL, NULL, NULL, NULL}, -1, 0},
  };
  size_t i;
  for(i = 0; i < NROWS(rows); i++) {
    double s = -1;
    int w = guard_cool_ask(rows[i].v, 1767225600.0, &s);
    CHECK(w == rows[i].which && (w < 0 || s == rows[i].seconds),
          "cool-down row %zu: header %d, %g s", i, w, s);
  }
}

static void test_cool_down(void)
{
  struct guard g = {0};
  struct guard_state *s = guard_get(&g, "k", "k");
  CHECK(guard_cool_down(s, 12, "Retry-After", 2) == 1, "starts");
  CHECK(guard_cool_down(s, 11, "X-RateLimit-Reset", 1) == 0 &&
        s->cool_until == 12, "a shorter one keeps the longer");
  CHECK(guard_cool_down(s, 14, "RateLimit-Reset", 4) == 1 &&
        s->cool_until == 14 && s->cool_downs == 3 &&
        !strcmp(s->cool_source, "RateLimit-Reset"), "a longer one wins");
  guard_free(&g);
}

int main(void)
{
  test_bucket();
  test_ratio();
  test_breaker();
  test_cool_ask();
  test_cool_down();
  return tap_done();
}
