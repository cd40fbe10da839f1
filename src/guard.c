/*
 * guard.c - per-host retry budget, circuit breaker and cool-down state
 * (see guard.h). Plain arithmetic over struct guard_state; the only
 * memory it takes is a hash table of states and their two names.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "guard.h"
#include "policy.h"

void guard_conf_init(struct guard_conf *g)
{
  memset(g, 0, sizeof(*g));
  g->budget = GUARD_BUDGET_BUCKET;      /* AWS's retry quota */
  g->tokens = 500;
  g->retry_cost = 5;
  g->timeout_cost = 10;
  g->refill = 1;
  g->ratio = 0.1;                       /* the SRE book's 10 % */
  g->min_per_second = 10;
  g->fail_ratio = 0.1;                  /* Polly's breaker */
  g->min_calls = 100;
  g->window = 30;
  g->break_for = 5;
}

/* ---- the table of states ---- */

static uint64_t hash(const char *s)
{
  uint64_t h = 1469598103934665603u;    /* FNV-1a */
  for(; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

static int grow(struct guard *g)
{
  size_t cap = g->cap ? g->cap * 2 : 16, i;
  struct guard_state **tab = calloc(cap, sizeof(*tab));
  if(!tab)
    return -1;
  for(i = 0; i < g->cap; i++) {
    struct guard_state *s = g->tab[i], *next;
    for(; s; s = next) {
      size_t b = (size_t)(hash(s->key) & (cap - 1));
      next = s->next;
      s->next = tab[b];
      tab[b] = s;
    }
  }
  free(g->tab);
  g->tab = tab;
  g->cap = cap;
  return 0;
}

struct guard_state *guard_get(struct guard *g, const char *key,
                              const char *label)
{
  struct guard_state *s;
  size_t b;
  if(g->cap) {
    for(s = g->tab[hash(key) & (g->cap - 1)]; s; s = s->next)
      if(!strcmp(s->key, key))
        return s;
  }
  if(!label || (g->n >= g->cap && grow(g)))
    return NULL;
  s = calloc(1, sizeof(*s));
  if(!s || !(s->key = strdup(key)) || !(s->label = strdup(label))) {
    if(s)
      free(s->key);
    free(s);
    return NULL;
  }
  s->waiters.next = s->waiters.prev = &s->waiters;
  s->cool_source = "";
  b = (size_t)(hash(key) & (g->cap - 1));
  s->next = g->tab[b];
  g->tab[b] = s;
  g->n++;
  return s;
}

void guard_free(struct guard *g)
{
  size_t i;
  for(i = 0; i < g->cap; i++) {
    struct guard_state *s = g->tab[i], *next;
    for(; s; s = next) {
      next = s->next;
      free(s->key);
      free(s->label);
      free(s);
    }
  }
  free(g->tab);
  memset(g, 0, sizeof(*g));
}

/* ---- sliding windows: GUARD_SLOTS counters a pair, a ring ---- */

/* Moves the ring of a and b to slot idx, zeroing the slots passed. */
static void advance(long *a, long *b, long *cur, long idx)
{
  long i;
  if(idx <= *cur)
    return;
  for(i = *cur + 1; i <= idx && i - *cur <= GUARD_SLOTS; i++) {
    a[i % GUARD_SLOTS] = 0;
    b[i % GUARD_SLOTS] = 0;
  }
  *cur = idx;
}

static long sum(const long *a)
{
  long n = 0;
  int i;
  for(i = 0; i < GUARD_SLOTS; i++)
    n += a[i];
  return n;
}

/* The slot of time t for slots `width` seconds wide. */
static long slot_of(double t, double width)
{
  double i = floor(t / width);
  return i > 1e15 ? (long)1e15 : i < 0 ? 0 : (long)i;
}

/* ---- the budget ---- */

static void bucket_start(struct guard_state *s, const struct guard_conf *c)
{
  if(!s->budget_used) {
    s->budget_used = 1;
    s->tokens = c->tokens;
  }
}

int guard_budget_take(struct guard_state *s, const struct guard_conf *c,
                      int timeout, double now)
{
  int ok = 0;
  if(c->budget == GUARD_BUDGET_BUCKET) {
    double cost = timeout ? c->timeout_cost : c->retry_cost;
    bucket_start(s, c);
    if(s->tokens >= cost) {
      s->tokens -= cost;
      ok = 1;
    }
  }
  else if(c->budget == GUARD_BUDGET_RATIO) {
    long cur;
    advance(s->firsts, s->retries, &s->ratio_slot,
            slot_of(now, GUARD_RATIO_WINDOW / GUARD_SLOTS));
    cur = s->ratio_slot % GUARD_SLOTS;
    if((double)sum(s->retries) < c->ratio * (double)sum(s->firsts) ||
       (double)s->retries[cur] < c->min_per_second) {
      s->retries[cur]++;
      ok = 1;
    }
  }
  else
    return 1;
  if(ok)
    s->charged++;
  else
    s->refused++;
  return ok;
}

void guard_budget_refund(struct guard_state *s, const struct guard_conf *c,
                         double cost)
{
  if(c->budget != GUARD_BUDGET_BUCKET || !s->budget_used || !(cost > 0))
    return;
  s->tokens += cost;
  if(s->tokens > c->tokens)
    s->tokens = c->tokens;
  if(s->charged > 0)
    s->charged--;
}

/* ---- the breaker ---- */

enum guard_admit guard_admit(struct guard_state *s, const struct guard_conf *c,
                             double now, double lease, double *until)
{
  if(!c->breaker || s->breaker == GUARD_CLOSED)
    return GUARD_GO;
  if(s->breaker == GUARD_OPEN && now < s->open_until) {
    *until = s->open_until;
    return GUARD_WAIT_BREAK;
  }
  if(s->breaker == GUARD_HALF_OPEN && now < s->probe_until) {
    *until = s->probe_until;
    return GUARD_WAIT_PROBE;
  }
  s->breaker = GUARD_HALF_OPEN;
  s->probe_until = now + lease;
  s->probes++;
  return GUARD_PROBE;
}

static void open_breaker(struct guard_state *s, const struct guard_conf *c,
                         double now)
{
  s->breaker = GUARD_OPEN;
  s->open_until = now + c->break_for;
  s->opened++;
}

enum guard_change guard_note(struct guard_state *s,
                             const struct guard_conf *c, int first,
                             int failed, int accepted, int probe,
                             double retry_cost, double now)
{
  long calls, fails, cur;
  if(c->budget == GUARD_BUDGET_RATIO && first) {
    advance(s->firsts, s->retries, &s->ratio_slot,
            slot_of(now, GUARD_RATIO_WINDOW / GUARD_SLOTS));
    s->firsts[s->ratio_slot % GUARD_SLOTS]++;
  }
  else if(c->budget == GUARD_BUDGET_BUCKET && accepted && !failed &&
          s->budget_used) {
    s->tokens += retry_cost > 0 ? retry_cost : first ? c->refill : 0;
    if(s->tokens > c->tokens)
      s->tokens = c->tokens;
  }
  if(!c->breaker)
    return GUARD_SAME;
  if(probe && s->breaker == GUARD_HALF_OPEN) {
    if(failed) {
      open_breaker(s, c, now);
      return GUARD_REOPENED;
    }
    s->breaker = GUARD_CLOSED;
    s->consecutive = 0;
    memset(s->calls, 0, sizeof(s->calls));
    memset(s->fails, 0, sizeof(s->fails));
    return GUARD_CLOSED_AGAIN;
  }
  if(s->breaker != GUARD_CLOSED)
    return GUARD_SAME;            /* sent before it opened: no news */
  advance(s->calls, s->fails, &s->window_slot,
          slot_of(now, c->window / GUARD_SLOTS));
  cur = s->window_slot % GUARD_SLOTS;
  s->calls[cur]++;
  s->fails[cur] += failed;
  s->consecutive = failed ? s->consecutive + 1 : 0;
  calls = sum(s->calls);
  fails = sum(s->fails);
  if((c->consecutive > 0 && s->consecutive >= c->consecutive) ||
     (calls >= c->min_calls && fails > 0 &&
      (double)fails >= c->fail_ratio * calls)) {  /* ratio 0: any failure */
    open_breaker(s, c, now);
    return GUARD_OPENED;
  }
  return GUARD_SAME;
}

void guard_waiter_add(struct guard_state *s, struct guard_waiter *w)
{
  w->next = &s->waiters;
  w->prev = s->waiters.prev;
  w->prev->next = w;
  s->waiters.prev = w;
}

void guard_waiter_remove(struct guard_waiter *w)
{
  if(w->next) {
    w->prev->next = w->next;
    w->next->prev = w->prev;
  }
  w->next = w->prev = NULL;
}

struct guard_waiter *guard_waiters_take(struct guard_state *s)
{
  struct guard_waiter *first = s->waiters.next;
  if(first == &s->waiters)
    return NULL;
  s->waiters.prev->next = NULL;
  s->waiters.next = s->waiters.prev = &s->waiters;
  return first;
}

/* ---- the cool-down ---- */

const char *const guard_cool_headers[GUARD_COOL_HEADERS] = {
  "retry-after", "ratelimit-reset", "x-ratelimit-retry-after",
  "x-ratelimit-reset"
};

/* Seconds from a number of seconds, or a Unix time when 1e9 or more;
 * digits with an optional fraction, spaces around. -1 if malformed. */
static double seconds_or_epoch(const char *v, double now_wall)
{
  char *end;
  double x;
  size_t n = strlen(v), d;
  while(*v == ' ' || *v == '\t')
    v++;
  d = strspn(v, "0123456789");
  if(n > 64 || !d)
    return -1;
  if(v[d] == '.') {
    size_t f = strspn(v + d + 1, "0123456789");
    if(!f)
      return -1;
    d += 1 + f;
  }
  x = strtod(v, &end);
  if(end != v + d)
    return -1;                  /* strtod takes 1e3 and 0x10 too */
  while(*end == ' ' || *end == '\t')
    end++;
  if(*end || !(x >= 0) || x > 1e15)
    return -1;
  if(x >= 1e9)
    x = x > now_wall ? x - now_wall : 0;
  return x;
}

int guard_cool_ask(const char *const values[GUARD_COOL_HEADERS],
                   double now_wall, double *seconds)
{
  int i;
  for(i = 0; i < GUARD_COOL_HEADERS; i++) {
    double x = -1;
    if(!values[i])
      continue;
    if(i == 0) {
      if(policy_parse_retry_after(values[i], now_wall, &x))
        x = -1;
    }
    else
      x = seconds_or_epoch(values[i], now_wall);
    if(x >= 0) {
      *seconds = x > 1e9 ? 1e9 : x;
      return i;
    }
  }
  return -1;
}

int guard_cool_down(struct guard_state *s, double until, const char *source,
                    double seconds)
{
  int news = until >= s->cool_until + 1;
  s->cool_downs++;
  if(seconds > s->cool_longest)
    s->cool_longest = seconds;
  if(until > s->cool_until) {
    s->cool_until = until;
    s->cool_source = source;
  }
  return news;
}

/* ---- reporting ---- */

static const char *const breaker_words[] = {"closed", "open", "half-open"};

void guard_say_text(const struct guard *g, struct dynbuf *t)
{
  size_t i;
  for(i = 0; i < g->cap; i++) {
    const struct guard_state *s;
    for(s = g->tab[i]; s; s = s->next) {
      if(s->charged || s->refused) {
        dynbuf_printf(t, "  budget %s: %ld retr%s allowed, %ld refused",
                      s->label, s->charged, s->charged == 1 ? "y" : "ies",
                      s->refused);
        if(s->budget_used)
          dynbuf_printf(t, "; %g tokens left", s->tokens);
        dynbuf_printf(t, "\n");
      }
      if(s->opened || s->failed_fast)
        dynbuf_printf(t, "  breaker %s: opened %ld time%s, %ld call%s "
                      "failed fast, %ld probe%s; %s at the end\n", s->label,
                      s->opened, s->opened == 1 ? "" : "s", s->failed_fast,
                      s->failed_fast == 1 ? "" : "s", s->probes,
                      s->probes == 1 ? "" : "s", breaker_words[s->breaker]);
      if(s->cool_downs)
        dynbuf_printf(t, "  cool-down %s: %ld asked (longest %.1f s, %s); "
                      "%ld wait%s, %.2f s in all\n", s->label, s->cool_downs,
                      s->cool_longest, s->cool_source, s->cool_waits,
                      s->cool_waits == 1 ? "" : "s", s->cool_waited);
    }
  }
}

void guard_say_json(const struct guard *g, struct dynbuf *t)
{
  size_t i;
  int first = 1;
  dynbuf_printf(t, ",\"guards\":[");
  for(i = 0; i < g->cap; i++) {
    const struct guard_state *s;
    for(s = g->tab[i]; s; s = s->next) {
      const char *p;
      if(!s->charged && !s->refused && !s->opened && !s->failed_fast &&
         !s->cool_downs)
        continue;
      dynbuf_printf(t, "%s{\"key\":\"", first ? "" : ",");
      for(p = s->label; *p; p++) {  /* a host or a policy's key */
        if(*p == '"' || *p == '\\')
          dynbuf_add(t, "\\", 1);
        dynbuf_add(t, (unsigned char)*p < 0x20 ? "?" : p, 1);
      }
      dynbuf_printf(t, "\",\"budget\":{\"allowed\":%ld,\"refused\":%ld",
                    s->charged, s->refused);
      if(s->budget_used)
        dynbuf_printf(t, ",\"tokens\":%.6g", s->tokens);
      dynbuf_printf(t, "},\"breaker\":{\"state\":\"%s\",\"opened\":%ld,"
                    "\"failed_fast\":%ld,\"probes\":%ld},\"cool_down\":"
                    "{\"asked\":%ld,\"longest\":%.6f,\"waits\":%ld,"
                    "\"waited\":%.6f}}", breaker_words[s->breaker],
                    s->opened, s->failed_fast, s->probes, s->cool_downs,
                    s->cool_longest, s->cool_waits, s->cool_waited);
      first = 0;
    }
  }
  dynbuf_printf(t, "]");
}
