/*
 * policy.c - the retry decision, as pure functions over plain structs.
 *
 * Provides what policy.h declares: the default policy, the retry_on sets,
 * class and jitter names, a splitmix64 generator, backoff with AWS's jitter
 * formulas, a Retry-After parser (delay-seconds and the three HTTP-date forms
 * of RFC 9110, parsed here by hand), deadline arithmetic and the decision
 * after one attempt.
 *
 * Uses only <math.h> and <string.h>. Never touches Lua, curl, the clock, the
 * locale or any global state: every time comes in as an argument and the
 * only mutable state is the caller's struct policy_rng, so the same inputs
 * always give the same answer.
 */
#include "policy.h"

#include <math.h>
#include <string.h>

/* Longest Retry-After value we look at, surrounding whitespace included. */
#define RETRY_AFTER_MAX_LEN 64
/* Any wait, in seconds, is clamped to this (about 31 years). */
#define POLICY_MAX_WAIT 1e9

/* ---- retry_on sets ---------------------------------------------------- */

#define STATUS_BITS ((int)(sizeof(((struct policy *)0)->retry_status) * 8))

void policy_init(struct policy *p)
{
  static const int statuses[] = {408, 429, 500, 502, 503, 504};
  size_t i;

  memset(p, 0, sizeof(*p));
  p->attempts = 4;
  for(i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
    policy_set_status(p, statuses[i], 1);
  p->retry_class = (1u << POLICY_CONNECT) | (1u << POLICY_DNS) |
                   (1u << POLICY_TIMEOUT) | (1u << POLICY_RESET);
  p->initial = 0.1;
  p->factor = 2;
  p->max = 10;
  p->jitter = POLICY_JITTER_FULL;
  p->deadline = 60;
  p->timeout = 30;
  p->connect_timeout = 10;
  p->retry_after = 1;
  p->max_retry_after = 120;
  p->unsafe = 0;
}

/* A status outside the bitmap (below 0, over 639) is ignored. */
void policy_set_status(struct policy *p, int status, int on)
{
  uint64_t bit;

  if(status < 0 || status >= STATUS_BITS)
    return;
  bit = (uint64_t)1 << (status % 64);
  if(on)
    p->retry_status[status / 64] |= bit;
  else
    p->retry_status[status / 64] &= ~bit;
}

/* 0 for a status outside the bitmap. */
int policy_status_retried(const struct policy *p, int status)
{
  if(status < 0 || status >= STATUS_BITS)
    return 0;
  return (p->retry_status[status / 64] >> (status % 64)) & 1;
}

void policy_clear_retry_on(struct policy *p)
{
  memset(p->retry_status, 0, sizeof(p->retry_status));
  p->retry_class = 0;
}

/* ---- names ------------------------------------------------------------ */

static const char *const class_names[POLICY_NCLASSES] = {
  "response", "connect", "dns", "timeout", "reset", "tls", "too_large",
  "other"
};

/* "unknown" for a value outside the enum; that name maps back to -1. */
const char *policy_class_name(enum policy_class cls)
{
  if((int)cls < 0 || cls >= POLICY_NCLASSES)
    return "unknown";
  return class_names[cls];
}

int policy_class_from_name(const char *name)
{
  int i;

  if(!name)
    return -1;
  for(i = 0; i < POLICY_NCLASSES; i++)
    if(!strcmp(name, class_names[i]))
      return i;
  return -1;
}

int policy_jitter_from_name(const char *name)
{
  if(!name)
    return -1;
  if(!strcmp(name, "full"))
    return POLICY_JITTER_FULL;
  if(!strcmp(name, "equal"))
    return POLICY_JITTER_EQUAL;
  if(!strcmp(name, "decorrelated"))
    return POLICY_JITTER_DECORRELATED;
  if(!strcmp(name, "none"))
    return POLICY_JITTER_NONE;
  return -1;
}

/* ---- splitmix64 ------------------------------------------------------- */

void policy_rng_seed(struct policy_rng *r, uint64_t seed)
{
  r->state = seed;
}

uint64_t policy_rng_u64(struct policy_rng *r)
{
  uint64_t z = (r->state += UINT64_C(0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* The top 53 bits scaled by 2^-53: every value is exact and below 1. */
double policy_rng_double(struct policy_rng *r)
{
  return (double)(policy_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* ---- backoff ---------------------------------------------------------- */

/* A duration from the policy made safe to compute with: NaN and negative
 * values become 0, anything over POLICY_MAX_WAIT (infinity included) becomes
 * POLICY_MAX_WAIT. */
static double clamp_wait(double v)
{
  if(!(v > 0))
    return 0;
  if(v > POLICY_MAX_WAIT)
    return POLICY_MAX_WAIT;
  return v;
}

/* initial * factor^(n-1), capped at cap, computed so that it never overflows:
 * when factor > 1 the exponent at which the cap is reached is found with
 * logarithms first, and pow() only ever runs below it. */
static double backoff_base(double initial, double factor, int n, double cap)
{
  double e, b;

  if(n <= 1 || initial <= 0)
    return initial < cap ? initial : cap;
  if(initial >= cap)
    return cap;
  if(!(factor >= 0))          /* NaN or negative: no growth */
    factor = 1;
  e = (double)n - 1;
  if(factor > 1) {
    /* factor^e >= cap/initial  <=>  e >= log(cap/initial) / log(factor) */
    if(isinf(factor) || e >= log(cap / initial) / log(factor))
      return cap;
  }
  b = initial * pow(factor, e);   /* factor <= 1 or below the cap: finite */
  return b < cap ? b : cap;
}

double policy_backoff(const struct policy *p, int n, double prev,
                      struct policy_rng *rng)
{
  double cap = clamp_wait(p->max);
  double initial = clamp_wait(p->initial);
  double b, lo, hi, d;

  switch(p->jitter) {
  case POLICY_JITTER_FULL:
    b = backoff_base(initial, p->factor, n, cap);
    d = policy_rng_double(rng) * b;
    break;
  case POLICY_JITTER_EQUAL:
    b = backoff_base(initial, p->factor, n, cap);
    d = b / 2 + policy_rng_double(rng) * (b / 2);
    break;
  case POLICY_JITTER_DECORRELATED:
    /* AWS: sleep = min(cap, random_between(base, sleep * 3)). prev is
     * clamped so that 3 * prev stays finite; when 3 * prev falls below
     * initial the range collapses to initial. */
    if(n <= 1 || !(prev > 0))
      prev = initial;
    prev = clamp_wait(prev);
    lo = initial;
    hi = prev * 3;
    if(hi < lo)
      hi = lo;
    d = lo + policy_rng_double(rng) * (hi - lo);
    break;
  case POLICY_JITTER_NONE:
  default:
    d = backoff_base(initial, p->factor, n, cap);
    break;
  }
  if(d > cap)
    d = cap;
  if(!(d >= 0))
    d = 0;
  return d;
}

/* ---- Retry-After ------------------------------------------------------ */

/* A cursor over [s, e): the value with its surrounding whitespace cut. */
struct scan {
  const char *s, *e;
};

static int scan_lit(struct scan *c, const char *lit)
{
  size_t n = strlen(lit);

  if((size_t)(c->e - c->s) < n || memcmp(c->s, lit, n))
    return 0;
  c->s += n;
  return 1;
}

static int is_digit(char ch)
{
  return ch >= '0' && ch <= '9';
}

/* Exactly n digits into *v. */
static int scan_digits(struct scan *c, int n, int *v)
{
  int i, x = 0;

  if(c->e - c->s < n)
    return 0;
  for(i = 0; i < n; i++) {
    if(!is_digit(c->s[i]))
      return 0;
    x = x * 10 + (c->s[i] - '0');
  }
  c->s += n;
  *v = x;
  return 1;
}

/* One of names[0..count), matched exactly (HTTP-date is case-sensitive);
 * its index, or -1. No name is a prefix of another in the same list. */
static int scan_name(struct scan *c, const char *const *names, int count)
{
  int i;

  for(i = 0; i < count; i++)
    if(scan_lit(c, names[i]))
      return i;
  return -1;
}

static const char *const day_short[7] = {
  "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"
};
static const char *const day_long[7] = {
  "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
};
static const char *const month_names[12] = {
  "Jan", "Feb", "Mar", "Apr", "May", "Jun",
  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* A broken-down GMT time; month 1..12. */
struct civil {
  int year, month, day, hour, min, sec;
};

static int scan_month(struct scan *c, int *month)
{
  int m = scan_name(c, month_names, 12);

  if(m < 0)
    return 0;
  *month = m + 1;
  return 1;
}

/* time-of-day = hour ":" minute ":" second; second 60 is a leap second. */
static int scan_time(struct scan *c, struct civil *t)
{
  return scan_digits(c, 2, &t->hour) && scan_lit(c, ":") &&
         scan_digits(c, 2, &t->min) && scan_lit(c, ":") &&
         scan_digits(c, 2, &t->sec) &&
         t->hour < 24 && t->min < 60 && t->sec <= 60;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
static int parse_imf(struct scan c, struct civil *t)
{
  return scan_name(&c, day_short, 7) >= 0 && scan_lit(&c, ", ") &&
         scan_digits(&c, 2, &t->day) && scan_lit(&c, " ") &&
         scan_month(&c, &t->month) && scan_lit(&c, " ") &&
         scan_digits(&c, 4, &t->year) && scan_lit(&c, " ") &&
         scan_time(&c, t) && scan_lit(&c, " GMT") && c.s == c.e;
}

/* rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"; the year is set by the
 * caller from its two digits. */
static int parse_rfc850(struct scan c, struct civil *t)
{
  return scan_name(&c, day_long, 7) >= 0 && scan_lit(&c, ", ") &&
         scan_digits(&c, 2, &t->day) && scan_lit(&c, "-") &&
         scan_month(&c, &t->month) && scan_lit(&c, "-") &&
         scan_digits(&c, 2, &t->year) && scan_lit(&c, " ") &&
         scan_time(&c, t) && scan_lit(&c, " GMT") && c.s == c.e;
}

/* asctime-date: "Sun Nov  6 08:49:37 1994"; the day is 2DIGIT or SP DIGIT. */
static int parse_asctime(struct scan c, struct civil *t)
{
  if(!(scan_name(&c, day_short, 7) >= 0 && scan_lit(&c, " ") &&
       scan_month(&c, &t->month) && scan_lit(&c, " ")))
    return 0;
  if(!(scan_lit(&c, " ") ? scan_digits(&c, 1, &t->day)
                         : scan_digits(&c, 2, &t->day)))
    return 0;
  return scan_lit(&c, " ") && scan_time(&c, t) && scan_lit(&c, " ") &&
         scan_digits(&c, 4, &t->year) && c.s == c.e;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil); month 1..12. Exact for any int year. */
static long long days_from_civil(long long y, int m, int d)
{
  long long era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* The Gregorian year of a day count from 1970-01-01 (the inverse above). */
static long long year_from_days(long long z)
{
  long long era, doe, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  return yoe + era * 400 + (mp >= 10);   /* Jan and Feb end the era year */
}

static int is_leap(int y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in the month, so that Feb 30 or Apr 31 is rejected. */
static int month_days(int y, int m)
{
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* An HTTP-date as Unix time. now_wall decides the century of an RFC 850
 * two-digit year (RFC 9110 5.6.7: one that would be more than 50 years
 * ahead is the most recent past year with those digits). Returns 0 and
 * sets *when, or -1. */
static int parse_http_date(struct scan c, double now_wall, double *when)
{
  struct civil t;

  memset(&t, 0, sizeof(t));
  if(parse_rfc850(c, &t)) {
    /* the latest year ending in those two digits that is at most 50
     * years ahead: in 1970 "00" is 2000, not 1900 */
    long long top = year_from_days((long long)floor(now_wall / 86400)) + 50;
    long long y = top - (((top - t.year) % 100) + 100) % 100;

    if(y < 0 || y > 9999)
      return -1;
    t.year = (int)y;
  }
  else if(!parse_imf(c, &t) && !parse_asctime(c, &t))
    return -1;
  if(t.day < 1 || t.day > month_days(t.year, t.month))
    return -1;
  /* a leap second (:60) lands on the next second, as POSIX time has none */
  *when = (double)days_from_civil(t.year, t.month, t.day) * 86400 +
          t.hour * 3600 + t.min * 60 + t.sec;
  return 0;
}

static int is_ows(char ch)
{
  return ch == ' ' || ch == '\t';
}

int policy_parse_retry_after(const char *value, double now_wall,
                             double *seconds)
{
  struct scan c;
  size_t len = 0;
  double v;

  if(!value)
    return -1;
  while(len <= RETRY_AFTER_MAX_LEN && value[len])
    len++;
  if(len > RETRY_AFTER_MAX_LEN)
    return -1;
  c.s = value;
  c.e = value + len;
  while(c.s < c.e && is_ows(*c.s))
    c.s++;
  while(c.e > c.s && is_ows(c.e[-1]))
    c.e--;
  if(c.s == c.e)
    return -1;

  if(is_digit(*c.s)) {
    /* delay-seconds = 1*DIGIT, saturating well before it could overflow */
    const char *q;

    v = 0;
    for(q = c.s; q < c.e; q++) {
      if(!is_digit(*q))
        return -1;
      if(v <= POLICY_MAX_WAIT)
        v = v * 10 + (*q - '0');
    }
  }
  else {
    double when;

    /* a clock beyond +-1e15 s (31 million years) is not a clock */
    if(!(fabs(now_wall) <= 1e15) || parse_http_date(c, now_wall, &when))
      return -1;
    v = when - now_wall;
  }
  if(!(v > 0))
    v = 0;
  if(v > POLICY_MAX_WAIT)
    v = POLICY_MAX_WAIT;
  *seconds = v;
  return 0;
}

/* ---- the decision ----------------------------------------------------- */

int policy_method_idempotent(const char *method)
{
  static const char *const safe[] = {
    "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"
  };
  size_t i;

  if(!method)
    return 0;
  for(i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
    if(!strcmp(method, safe[i]))
      return 1;
  return 0;
}

static int outcome_retryable(const struct policy *p,
                             const struct policy_outcome *o)
{
  if(o->cls == POLICY_RESPONSE)
    return o->invalid || policy_status_retried(p, o->status);
  if((int)o->cls < 0 || o->cls >= POLICY_NCLASSES ||
     o->cls == POLICY_TOO_LARGE)
    return 0;
  return (p->retry_class >> o->cls) & 1;
}

static void decide_giveup(struct policy_decision *d, enum policy_reason why)
{
  d->verdict = POLICY_GIVEUP;
  d->reason = why;
}

void policy_decide(const struct policy *p, const struct policy_call *c,
                   const struct policy_outcome *o, struct policy_rng *rng,
                   struct policy_decision *d)
{
  double end = c->started + p->deadline;
  double wait = 0;
  int asked = 0;                /* the server said when to come back */

  d->verdict = POLICY_ACCEPT;
  d->reason = POLICY_OK;
  d->delay = 0;
  d->retry_after = -1;

  if(!outcome_retryable(p, o)) {
    if(o->cls != POLICY_RESPONSE)
      decide_giveup(d, POLICY_NOT_RETRYABLE);
    return;
  }
  if(!c->idempotent && o->sent && !c->has_key &&
     !p->unsafe) {
    decide_giveup(d, POLICY_UNSAFE);
    return;
  }
  if(c->attempt >= p->attempts) {
    decide_giveup(d, POLICY_EXHAUSTED);
    return;
  }
  if(p->retry_after && o->has_wait) {
    wait = o->wait;
    asked = 1;
  }
  else if(p->retry_after && o->retry_after)
    asked = !policy_parse_retry_after(o->retry_after, c->now_wall, &wait);
  if(asked) {
    d->retry_after = wait;
    if(wait > p->max_retry_after) {
      decide_giveup(d, POLICY_RETRY_AFTER_LONG);
      return;
    }
    if(!(c->now + wait < end)) {
      decide_giveup(d, POLICY_RETRY_AFTER_DEADLINE);
      return;
    }
  }
  else {
    wait = policy_backoff(p, c->attempt, c->prev_delay, rng);
    if(!(c->now + wait < end)) {
      decide_giveup(d, POLICY_DEADLINE);
      return;
    }
  }
  d->verdict = POLICY_RETRY;
  d->delay = wait;
}

double policy_attempt_timeout(const struct policy *p, double started,
                              double now, double own)
{
  double left = started + p->deadline - now;
  double t = own > 0 ? own : p->timeout;
  if(left < t)
    t = left;

  return t > 0 ? t : 0;
}

const char *policy_reason_text(enum policy_reason reason)
{
  switch(reason) {
  case POLICY_OK:
    return "";
  case POLICY_EXHAUSTED:
    return "out of attempts";
  case POLICY_DEADLINE:
    return "deadline reached";
  case POLICY_UNSAFE:
    return "not safe to retry";
  case POLICY_NOT_RETRYABLE:
    return "not retryable";
  case POLICY_RETRY_AFTER_LONG:
    return "Retry-After too long";
  case POLICY_RETRY_AFTER_DEADLINE:
    return "Retry-After past the deadline";
  case POLICY_BUDGET:
    return "retry budget spent";
  case POLICY_CIRCUIT_OPEN:
    return "circuit open";
  case POLICY_COOL_DOWN:
    return "cool-down too long";
  }
  return "unknown reason";
}
