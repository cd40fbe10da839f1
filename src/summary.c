/*
 * summary.c - the end-of-run summary (see summary.h).
 *
 * Each endpoint keeps its counts and every call's and attempt's duration,
 * sorted only when the summary is written. Text is built in a growing
 * buffer; a memory failure loses a record (and says so), never the run.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "guard.h"
#include "summary.h"

#define KEY_MAX 200
#define MAX_REASONS 12

struct series {
  double *v;
  size_t n, cap;
};

struct summary_endpoint {
  char key[KEY_MAX];
  long calls, ok, first_try_ok, attempts, retries;
  long gave_up, unexpected;     /* calls that ended so (summary.h) */
  long to_wrapper;              /* calls left to their policy(fn) wrapper:
                                   in calls, in no rate */
  long hedges, hedges_won, cancelled;
  long polls, not_ready;        /* calls made as polls, and those of them
                                   whose answer was not ready */
  double waited;
  struct { char why[32]; long n; } reasons[MAX_REASONS];
  size_t nreasons;
  struct series call_s, attempt_s;
};

/* 1 when the n bytes of seg look like an id: all digits, or 16 or more
 * hex digits and dashes (a UUID, a hash). */
static int looks_like_id(const char *seg, size_t n)
{
  size_t i, digits = 0, hex = 0;
  if(n == 0)
    return 0;
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)seg[i];
    digits += isdigit(c) != 0;
    hex += isxdigit(c) || c == '-';
  }
  return digits == n || (n >= 16 && hex == n && digits > 0);
}

void summary_endpoint_key(const char *method, const char *url, char *key,
                          size_t n)
{
  const char *p = strstr(url, "://"), *end;
  size_t o;
  p = p ? p + 3 : url;
  p += strcspn(p, "/?#");                /* past the host */
  end = p + strcspn(p, "?#");
  o = (size_t)snprintf(key, n, "%s ", method);
  if(p == end && o + 1 < n)
    key[o++] = '/';
  while(p < end && o + 1 < n) {
    const char *seg = ++p, *next;
    size_t len;
    next = memchr(seg, '/', (size_t)(end - seg));
    if(!next)
      next = end;
    len = (size_t)(next - seg);
    if(looks_like_id(seg, len))
      o += (size_t)snprintf(key + o, n - o, "/{id}");
    else
      o += (size_t)snprintf(key + o, n - o, "/%.*s", (int)len, seg);
    if(o >= n)
      o = n - 1;
    p = next;
  }
  key[o < n ? o : n - 1] = '\0';
}

static struct summary_endpoint *endpoint(struct summary *s, const char *key)
{
  size_t i;
  for(i = 0; i < s->n; i++)
    if(!strcmp(s->eps[i].key, key))
      return &s->eps[i];
  if(s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    struct summary_endpoint *e = realloc(s->eps, cap * sizeof(*e));
    if(!e) {
      s->oom = 1;
      return NULL;
    }
    s->eps = e;
    s->cap = cap;
  }
  memset(&s->eps[s->n], 0, sizeof(s->eps[s->n]));
  snprintf(s->eps[s->n].key, KEY_MAX, "%s", key);
  return &s->eps[s->n++];
}

static void add(struct summary *s, struct series *x, double v)
{
  if(x->n == x->cap) {
    size_t cap = x->cap ? x->cap * 2 : 64;
    double *d = realloc(x->v, cap * sizeof(*d));
    if(!d) {
      s->oom = 1;
      return;
    }
    x->v = d;
    x->cap = cap;
  }
  x->v[x->n++] = v;
}

void summary_attempt(struct summary *s, const char *key, const char *why,
                     double duration, double wait)
{
  struct summary_endpoint *e = endpoint(s, key);
  size_t i;
  if(!e)
    return;
  e->attempts++;
  add(s, &e->attempt_s, duration);
  e->waited += wait;
  if(!*why)
    return;
  e->retries++;
  for(i = 0; i < e->nreasons && strcmp(e->reasons[i].why, why); i++)
    ;
  if(i == e->nreasons) {
    if(i == MAX_REASONS)
      i--;                               /* the last one counts the rest */
    else {
      snprintf(e->reasons[i].why, sizeof(e->reasons[i].why), "%s", why);
      e->nreasons++;
    }
  }
  e->reasons[i].n++;
}

void summary_call(struct summary *s, const char *key,
                  enum summary_outcome outcome, int attempts,
                  double duration)
{
  struct summary_endpoint *e = endpoint(s, key);
  if(!e)
    return;
  e->calls++;
  e->ok += outcome == SUMMARY_OK;
  e->first_try_ok += outcome == SUMMARY_OK && attempts == 1;
  e->gave_up += outcome == SUMMARY_GAVE_UP;
  e->unexpected += outcome == SUMMARY_UNEXPECTED;
  e->to_wrapper += outcome == SUMMARY_TO_WRAPPER;
  add(s, &e->call_s, duration);
}

void summary_hedges(struct summary *s, const char *key, int sent, int won,
                    int cancelled)
{
  struct summary_endpoint *e = endpoint(s, key);
  if(!e)
    return;
  e->hedges += sent;
  e->hedges_won += won != 0;
  e->cancelled += cancelled;
}

void summary_poll(struct summary *s, const char *key, int not_ready)
{
  struct summary_endpoint *e = endpoint(s, key);
  if(!e)
    return;
  e->polls++;
  e->not_ready += not_ready != 0;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The q-th quantile (0..1) of x, nearest rank; sorts x. */
static double quantile(const struct series *x, double q)
{
  size_t i;
  if(!x->n)
    return 0;
  qsort(x->v, x->n, sizeof(*x->v), cmp);
  i = (size_t)ceil(q * (double)x->n);
  return x->v[i ? i - 1 : 0];
}

/* The text made in t, handed over; NULL when memory ran out. */
static char *done(struct dynbuf *t)
{
  if(!t->data)
    dynbuf_add(t, "", 0);
  if(t->oom) {
    dynbuf_free(t);
    return NULL;
  }
  return t->data;
}

/* Totals over every endpoint. own: the calls that ended on their own,
 * the ones every rate is of (a call left to its wrapper is one of the
 * wrapper's attempts, and the wrapper's call counts it). */
struct totals {
  long calls, ok, first_try_ok, polls, not_ready, gave_up, unexpected,
       to_wrapper, own;
};

static struct totals totals(const struct summary *s)
{
  struct totals a;
  size_t i;
  memset(&a, 0, sizeof(a));
  for(i = 0; i < s->n; i++) {
    a.calls += s->eps[i].calls;
    a.ok += s->eps[i].ok;
    a.first_try_ok += s->eps[i].first_try_ok;
    a.polls += s->eps[i].polls;
    a.not_ready += s->eps[i].not_ready;
    a.gave_up += s->eps[i].gave_up;
    a.unexpected += s->eps[i].unexpected;
    a.to_wrapper += s->eps[i].to_wrapper;
  }
  a.own = a.calls - a.to_wrapper;
  return a;
}

/* p as a percentage with the digits that matter: 98.8, 99.9999999. */
static void say_percent(struct dynbuf *t, double p)
{
  int digits = 3;
  double miss = 1 - p;
  while(miss > 0 && miss < pow(10, -(digits - 2)) && digits < 12)
    digits++;
  dynbuf_printf(t, "%.*g %%", digits, p * 100);
}

char *summary_text(const struct summary *s)
{
  struct dynbuf t = {NULL, 0, 0, 0};
  struct totals a = totals(s);
  size_t i, j;
  long own;
  dynbuf_printf(&t, "retryrun: %ld call%s", a.calls,
                a.calls == 1 ? "" : "s");
  if(a.polls)
    dynbuf_printf(&t, ", %ld of them poll%s (%ld not ready)", a.polls,
                  a.polls == 1 ? "" : "s", a.not_ready);
  if(s->fake_clock)
    dynbuf_printf(&t, " (fake clock: %.2f s of waits took no real time; "
                  "call times count them)", s->skipped);
  dynbuf_printf(&t, "\n");
  if(s->chaos[0])
    dynbuf_printf(&t, "  CHAOS: %s: injected %ld fail, %ld reset, %ld "
                  "latency\n", s->chaos, s->chaos_fail, s->chaos_reset,
                  s->chaos_latency);
  if(s->rate_waits || s->rate_cuts)
    dynbuf_printf(&t, "  rate limits: %ld request%s waited %.2f s in all; "
                  "adaptive rates lowered %ld time%s\n", s->rate_waits,
                  s->rate_waits == 1 ? "" : "s", s->rate_waited,
                  s->rate_cuts, s->rate_cuts == 1 ? "" : "s");
  for(i = 0; i < s->n; i++) {
    const struct summary_endpoint *e = &s->eps[i];
    dynbuf_printf(&t, "  %s: %ld call%s, %ld attempt%s, %ld retr%s",
                  e->key, e->calls, e->calls == 1 ? "" : "s", e->attempts,
                  e->attempts == 1 ? "" : "s", e->retries,
                  e->retries == 1 ? "y" : "ies");
    for(j = 0; j < e->nreasons; j++)
      dynbuf_printf(&t, "%s%s: %ld", j ? ", " : " (", e->reasons[j].why,
          e->reasons[j].n);
    dynbuf_printf(&t, "%s, %ld gave up", e->nreasons ? ")" : "",
                  e->gave_up);
    if(e->unexpected)
      dynbuf_printf(&t, ", %ld not as expected", e->unexpected);
    if(e->to_wrapper)
      dynbuf_printf(&t, ", %ld left to a wrapper", e->to_wrapper);
    if(e->polls)
      dynbuf_printf(&t, "; %ld poll%s, %ld not ready", e->polls,
                    e->polls == 1 ? "" : "s", e->not_ready);
    dynbuf_printf(&t, "\n    ");
    own = e->calls - e->to_wrapper;
    if(own) {
      dynbuf_printf(&t, "ok first time ");
      say_percent(&t, (double)e->first_try_ok / own);
      dynbuf_printf(&t, ", in the end ");
      say_percent(&t, (double)e->ok / own);
      dynbuf_printf(&t, "; ");
    }
    dynbuf_printf(&t, "call p50/p95/p99 %.1f/%.1f/%.1f ms, attempt "
        "p50/p95/p99 %.1f/%.1f/%.1f ms; waited %.2f s\n",
        quantile(&e->call_s, .5) * 1000, quantile(&e->call_s, .95) * 1000,
        quantile(&e->call_s, .99) * 1000, quantile(&e->attempt_s, .5) * 1000,
        quantile(&e->attempt_s, .95) * 1000,
        quantile(&e->attempt_s, .99) * 1000, e->waited);
    if(e->hedges)
      dynbuf_printf(&t, "    hedges: %ld sent, %ld won; attempts "
                    "cancelled: %ld\n", e->hedges, e->hedges_won,
                    e->cancelled);
  }
  if(a.own) {
    double first = (double)a.first_try_ok / a.own;
    double final = (double)a.ok / a.own;
    dynbuf_printf(&t, "  a call failed first time ");
    say_percent(&t, 1 - first);
    dynbuf_printf(&t, " of the time; after retries %ld of %ld\n",
                  a.own - a.ok, a.own);
    dynbuf_printf(&t, "  a 10-call flow at these rates succeeds ");
    say_percent(&t, pow(first, 10));
    dynbuf_printf(&t, " of the time; after retries ");
    say_percent(&t, pow(final, 10));
    dynbuf_printf(&t, "\n");
  }
  if(s->guard)
    guard_say_text(s->guard, &t);
  if(s->oom)
    dynbuf_printf(&t, "  (some records were lost: out of memory)\n");
  return done(&t);
}

static void say_quantiles(struct dynbuf *t, const char *name,
                          const struct series *x)
{
  dynbuf_printf(t, ",\"%s\":{\"p50\":%.6f,\"p95\":%.6f,\"p99\":%.6f}", name,
      quantile(x, .5), quantile(x, .95), quantile(x, .99));
}

char *summary_json(const struct summary *s)
{
  struct dynbuf t = {NULL, 0, 0, 0};
  struct totals a = totals(s);
  size_t i, j;
  dynbuf_printf(&t, "{\"v\":1,\"endpoints\":[");
  for(i = 0; i < s->n; i++) {
    const struct summary_endpoint *e = &s->eps[i];
    dynbuf_printf(&t, "%s{\"endpoint\":", i ? "," : "");
    dynbuf_json_string(&t, e->key);
    dynbuf_printf(&t, ",\"calls\":%ld,\"attempts\":%ld,\"retries\":%ld,"
        "\"gave_up\":%ld,\"unexpected\":%ld,\"to_wrapper\":%ld,"
        "\"ok_first_try\":%ld,\"ok\":%ld,\"polls\":%ld,"
        "\"not_ready\":%ld,\"waited\":%.6f,\"hedges\":%ld,"
        "\"hedges_won\":%ld,\"cancelled\":%ld,\"reasons\":{",
        e->calls, e->attempts, e->retries, e->gave_up, e->unexpected,
        e->to_wrapper, e->first_try_ok, e->ok, e->polls, e->not_ready,
        e->waited,
        e->hedges, e->hedges_won, e->cancelled);
    for(j = 0; j < e->nreasons; j++) {
      dynbuf_printf(&t, "%s", j ? "," : "");
      dynbuf_json_string(&t, e->reasons[j].why);
      dynbuf_printf(&t, ":%ld", e->reasons[j].n);
    }
    dynbuf_printf(&t, "}");
    say_quantiles(&t, "call_seconds", &e->call_s);
    say_quantiles(&t, "attempt_seconds", &e->attempt_s);
    dynbuf_printf(&t, "}");
  }
  dynbuf_printf(&t, "],\"calls\":%ld,\"ok\":%ld,\"ok_first_try\":%ld,"
                "\"gave_up\":%ld,\"unexpected\":%ld,\"to_wrapper\":%ld,"
                "\"polls\":%ld,\"not_ready\":%ld", a.calls, a.ok,
                a.first_try_ok, a.gave_up, a.unexpected, a.to_wrapper,
                a.polls, a.not_ready);
  if(a.own)
    dynbuf_printf(&t, ",\"flow10_first_try\":%.12g,\"flow10_final\":%.12g",
        pow((double)a.first_try_ok / a.own, 10),
        pow((double)a.ok / a.own, 10));
  dynbuf_printf(&t, ",\"clock\":\"%s\",\"clock_skipped\":%.6f",
                s->fake_clock ? "fake" : "real", s->skipped);
  if(s->chaos[0]) {
    dynbuf_printf(&t, ",\"chaos\":{\"spec\":");
    dynbuf_json_string(&t, s->chaos);
    dynbuf_printf(&t, ",\"fail\":%ld,\"reset\":%ld,\"latency\":%ld}",
                  s->chaos_fail, s->chaos_reset, s->chaos_latency);
  }
  dynbuf_printf(&t, ",\"rate_waits\":%ld,\"rate_waited\":%.6f,"
                "\"rate_cuts\":%ld", s->rate_waits, s->rate_waited,
                s->rate_cuts);
  if(s->guard)
    guard_say_json(s->guard, &t);
  dynbuf_printf(&t, ",\"records_lost\":%s}", s->oom ? "true" : "false");
  return done(&t);
}

void summary_free(struct summary *s)
{
  size_t i;
  for(i = 0; i < s->n; i++) {
    free(s->eps[i].call_s.v);
    free(s->eps[i].attempt_s.v);
  }
  free(s->eps);
  memset(s, 0, sizeof(*s));
}

/* ---- thresholds ---- */

enum metric {
  M_CALLS, M_ATTEMPTS, M_RETRIES, M_GIVEUPS, M_POLLS, M_RETRY_RATE,
  M_GIVEUP_RATE,
  M_FIRST_TRY_RATE, M_OK_RATE, M_P50, M_P95, M_P99, M_ATTEMPT_P50,
  M_ATTEMPT_P95, M_ATTEMPT_P99, M_WAITED
};

static const char *const metrics[] = {
  "calls", "attempts", "retries", "giveups", "polls", "retry_rate",
  "giveup_rate",
  "first_try_rate", "ok_rate", "p50", "p95", "p99", "attempt_p50",
  "attempt_p95", "attempt_p99", "waited", NULL
};

static int is_rate(int m)
{
  return m >= M_RETRY_RATE && m <= M_OK_RATE;
}

static int is_time(int m)
{
  return m >= M_P50;
}

int summary_threshold_parse(const char *expr, struct summary_threshold *t,
                            char *err, size_t errlen)
{
  const char *p = expr, *colon = strrchr(expr, ':'), *name;
  size_t n;
  char *end;
  memset(t, 0, sizeof(*t));
  if(colon) {
    const char *e = colon;
    while(e > expr && e[-1] == ' ')
      e--;
    if((size_t)(e - expr) >= sizeof(t->endpoint) || e == expr) {
      snprintf(err, errlen, "'%s': the endpoint before ':' is empty or "
               "too long", expr);
      return -1;
    }
    memcpy(t->endpoint, expr, (size_t)(e - expr));
    p = colon + 1;
  }
  while(*p == ' ')
    p++;
  name = p;
  while(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
    p++;
  n = (size_t)(p - name);
  for(t->metric = 0; metrics[t->metric]; t->metric++)
    if(strlen(metrics[t->metric]) == n &&
       !strncmp(metrics[t->metric], name, n))
      break;
  if(!metrics[t->metric]) {
    snprintf(err, errlen, "'%s': unknown measure '%.*s' (known: calls, "
             "attempts, retries, giveups, polls, retry_rate, giveup_rate, "
             "first_try_rate, ok_rate, p50, p95, p99, attempt_p50, "
             "attempt_p95, attempt_p99, waited)", expr, (int)n, name);
    return -1;
  }
  while(*p == ' ')
    p++;
  if((p[0] == '<' || p[0] == '>') && p[1] == '=') {
    t->op = p[0] == '<' ? 'l' : 'g';
    p += 2;
  }
  else if(p[0] == '<' || p[0] == '>') {
    t->op = *p++;
  }
  else if(p[0] == '=' && p[1] == '=') {
    t->op = '=';
    p += 2;
  }
  else {
    snprintf(err, errlen, "'%s': expected <, <=, >, >= or == after %s",
             expr, metrics[t->metric]);
    return -1;
  }
  t->value = strtod(p, &end);
  if(end == p || !(t->value >= 0) || t->value > 1e12) {
    snprintf(err, errlen, "'%s': expected a number after the comparison",
             expr);
    return -1;
  }
  p = end;
  while(*p == ' ')
    p++;
  if(*p == '%' && is_rate(t->metric)) {
    t->value /= 100;
    p++;
  }
  else if(is_rate(t->metric) && t->value > 1) {
    /* "retry_rate > 5" means 5 %, but reads as 500 %: never true */
    snprintf(err, errlen, "'%s': a rate is a share from 0 to 1, or 0 %% to "
             "100 %% (write '%g%%' or '%g')", expr, t->value,
             t->value / 100);
    return -1;
  }
  else if(!strncmp(p, "ms", 2) && is_time(t->metric)) {
    t->value /= 1000;
    p += 2;
  }
  else if(*p == 's' && is_time(t->metric))
    p++;
  else if(*p && *p != ' ') {
    snprintf(err, errlen, "'%s': '%s' is not a unit of %s (%s)", expr, p,
             metrics[t->metric], is_rate(t->metric) ? "%" :
             is_time(t->metric) ? "ms or s" : "a count has none");
    return -1;
  }
  while(*p == ' ')
    p++;
  if(*p) {
    snprintf(err, errlen, "'%s': unexpected '%s' at the end", expr, p);
    return -1;
  }
  if(is_rate(t->metric) && t->value > 1) {
    snprintf(err, errlen, "'%s': a rate is at most 100 %%", expr);
    return -1;
  }
  return 0;
}

/* The value of metric m over the endpoints matching t (all when its
 * endpoint is ""); 0 in *calls when none made a call, and in *own when
 * none ended on its own (the calls a rate is of). */
static double measure(const struct summary *s,
                      const struct summary_threshold *t, long *calls,
                      long *own)
{
  long attempts = 0, retries = 0, ok = 0, first = 0, polls = 0, gave_up = 0;
  double waited = 0, v = 0;
  struct series all_c = {NULL, 0, 0}, all_a = {NULL, 0, 0};
  struct summary scratch = {0};
  size_t i, j;
  *calls = *own = 0;
  for(i = 0; i < s->n; i++) {
    const struct summary_endpoint *e = &s->eps[i];
    if(*t->endpoint && strcmp(t->endpoint, e->key))
      continue;
    *calls += e->calls;
    *own += e->calls - e->to_wrapper;
    gave_up += e->gave_up;
    attempts += e->attempts;
    retries += e->retries;
    ok += e->ok;
    first += e->first_try_ok;
    polls += e->polls;
    waited += e->waited;
    for(j = 0; is_time(t->metric) && j < e->call_s.n; j++)
      add(&scratch, &all_c, e->call_s.v[j]);
    for(j = 0; is_time(t->metric) && j < e->attempt_s.n; j++)
      add(&scratch, &all_a, e->attempt_s.v[j]);
  }
  switch(t->metric) {
  case M_CALLS: v = (double)*calls; break;
  case M_ATTEMPTS: v = (double)attempts; break;
  case M_RETRIES: v = (double)retries; break;
  case M_GIVEUPS: v = (double)gave_up; break;
  case M_POLLS: v = (double)polls; break;
  case M_RETRY_RATE: v = attempts ? (double)retries / attempts : 0; break;
  case M_GIVEUP_RATE: v = *own ? (double)gave_up / *own : 0; break;
  case M_FIRST_TRY_RATE: v = *own ? (double)first / *own : 1; break;
  case M_OK_RATE: v = *own ? (double)ok / *own : 1; break;
  case M_P50: v = quantile(&all_c, .5); break;
  case M_P95: v = quantile(&all_c, .95); break;
  case M_P99: v = quantile(&all_c, .99); break;
  case M_ATTEMPT_P50: v = quantile(&all_a, .5); break;
  case M_ATTEMPT_P95: v = quantile(&all_a, .95); break;
  case M_ATTEMPT_P99: v = quantile(&all_a, .99); break;
  default: v = waited; break;
  }
  free(all_c.v);
  free(all_a.v);
  return v;
}

int summary_threshold_broken(const struct summary *s,
                             const struct summary_threshold *t, char *msg,
                             size_t msglen)
{
  long calls, own;
  double v = measure(s, t, &calls, &own);
  int broken;
  static const char *const ops[] = {"<", ">", "<=", ">=", "=="};
  int k = t->op == '<' ? 0 : t->op == '>' ? 1 : t->op == 'l' ? 2 :
          t->op == 'g' ? 3 : 4;
  if(!calls && *t->endpoint) {
    /* a misspelt endpoint must not pass in silence */
    snprintf(msg, msglen, "no call was made to %s", t->endpoint);
    return 1;
  }
  if(!calls && t->metric > M_GIVEUPS)
    return 0;                   /* no latency or rate to judge */
  if(!own && is_rate(t->metric) && t->metric != M_RETRY_RATE)
    return 0;                   /* every call was a wrapper's attempt */
  broken = k == 0 ? v < t->value : k == 1 ? v > t->value :
           k == 2 ? v <= t->value : k == 3 ? v >= t->value :
           v == t->value;
  if(broken) {
    double show = v, limit = t->value;
    const char *unit = "";
    if(is_rate(t->metric)) {
      show *= 100;
      limit *= 100;
      unit = " %";
    }
    else if(is_time(t->metric) && t->metric != M_WAITED) {
      show *= 1000;
      limit *= 1000;
      unit = " ms";
    }
    else if(t->metric == M_WAITED)
      unit = " s";
    snprintf(msg, msglen, "%s%s%s %.4g%s %s %.4g%s", t->endpoint,
             *t->endpoint ? ": " : "", metrics[t->metric], show, unit,
             ops[k], limit, unit);
  }
  return broken;
}
