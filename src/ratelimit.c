/*
 * ratelimit.c - client-side rate limits per host (see ratelimit.h).
 *
 * GCRA, per bucket: tat is the theoretical arrival time of the next
 * request at the bucket's rate. A request asked for at `now` may go at
 * max(now, tat - tau), tau = (burst - 1) * interval, and moves tat to
 * max(tat, that time) + interval. So `burst` requests go at once from an
 * idle bucket, then one every interval.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "url.h"

#define ORIGIN_MAX 320
#define SWEEP_AT 256            /* "*" buckets kept before idle ones go */
#define ADAPTIVE_GROWTH 0.1     /* of the lowered rate, each second */

enum rule_kind { RULE_ANY, RULE_HOST, RULE_HOSTPORT, RULE_ORIGIN };

struct rate_bucket {
  char origin[ORIGIN_MAX];      /* "scheme|host|port", for "*" buckets */
  double tat;
  /* adaptive */
  int limited;                  /* a 429 set a limit, not yet lifted */
  double r0, t_cut, r_before;   /* the lowered rate, when, and from what */
  double m, mt, t_first;        /* requests sent, decayed by e^-t/1 s */
};

struct rate_rule {
  enum rule_kind kind;
  char key[ORIGIN_MAX];         /* as origins are written by url.c */
  struct rate_spec sp;
  struct rate_bucket one;       /* the shared bucket of a named rule */
  struct rate_bucket *per;      /* RULE_ANY: one a origin */
  size_t nper, capper;
};

struct ratelimit {
  struct rate_rule *rules;
  size_t n, cap;
};

int rate_spec_parse(const char *s, struct rate_spec *sp, char *err,
                    size_t errlen)
{
  char *end;
  double n, per;
  const char *unit;
  size_t ulen;

  memset(sp, 0, sizeof(*sp));
  sp->burst = 1;
  if(!strcmp(s, "adaptive")) {
    sp->adaptive = 1;
    return 0;
  }
  n = strtod(s, &end);
  if(end == s || !isdigit((unsigned char)*s) || *end != '/')
    goto bad;
  unit = end + 1;
  ulen = strcspn(unit, " ");
  if((ulen == 1 && *unit == 's') || (ulen == 3 && !strncmp(unit, "sec", 3)))
    per = 1;
  else if(ulen == 3 && !strncmp(unit, "min", 3))
    per = 60;
  else if(ulen == 1 && *unit == 'h')
    per = 3600;
  else
    goto bad;
  if(!(n > 0) || !isfinite(n) || n / per > RATELIMIT_MAX_RATE ||
     per / n > 86400) {
    snprintf(err, errlen, "rate '%s' must be more than 0 and at most 1e6 "
             "a second, and at least one a day", s);
    return -1;
  }
  sp->interval = per / n;
  unit += ulen;
  if(*unit) {
    long b;
    if(strncmp(unit, " burst ", 7) || !isdigit((unsigned char)unit[7]))
      goto bad;
    b = strtol(unit + 7, &end, 10);
    if(*end)
      goto bad;
    if(b < 1 || b > RATELIMIT_MAX_BURST) {
      snprintf(err, errlen, "the burst in rate '%s' must be from 1 to "
               "%d", s, RATELIMIT_MAX_BURST);
      return -1;
    }
    sp->burst = b;
  }
  return 0;
bad:
  snprintf(err, errlen, "bad rate '%.80s': write N/s, N/min or N/h, "
           "optionally followed by ' burst B' (\"50/s\", \"3000/min burst "
           "100\"), or \"adaptive\"", s);
  return -1;
}

struct ratelimit *ratelimit_new(void)
{
  return calloc(1, sizeof(struct ratelimit));
}

void ratelimit_free(struct ratelimit *rl)
{
  size_t i;
  if(!rl)
    return;
  for(i = 0; i < rl->n; i++)
    free(rl->rules[i].per);
  free(rl->rules);
  free(rl);
}

/* 1 when s[0..n) is a host name or an IPv4 address, or a bracketed IPv6
 * address. */
static int is_host(const char *s, size_t n)
{
  size_t i;
  if(!n)
    return 0;
  if(s[0] == '[')
    return n > 2 && s[n - 1] == ']' &&
           strspn(s + 1, "0123456789abcdefABCDEF:.") == n - 2;
  for(i = 0; i < n; i++)
    if(!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.' &&
       s[i] != '_')
      return 0;
  return 1;
}

/* 1 when s[0..n) is a port, 1 to 65535. */
static int is_port(const char *s, size_t n)
{
  long v = 0;
  size_t i;
  if(!n || n > 5)
    return 0;
  for(i = 0; i < n; i++) {
    if(!isdigit((unsigned char)s[i]))
      return 0;
    v = v * 10 + (s[i] - '0');
  }
  return v >= 1 && v <= 65535;
}

/* Fills r's kind and key from what the script wrote; -1 when malformed. */
static int parse_key(const char *key, struct rate_rule *r)
{
  size_t n = strlen(key), i;
  const char *colon = strrchr(key, ':');
  if(n >= ORIGIN_MAX - 32)
    return -1;
  if(!strcmp(key, "*"))
    r->kind = RULE_ANY;
  else if(strstr(key, "://")) {
    const char *host = strstr(key, "://") + 3, *p = host;
    size_t hl = strcspn(host, "/");
    if(host[hl] && strcmp(host + hl, "/"))
      return -1;                       /* a path: not an origin */
    if(*p == '[')
      p = strchr(p, ']') ? strchr(p, ']') : p;
    p = memchr(p, ':', hl - (size_t)(p - host));
    if(!is_host(host, p ? (size_t)(p - host) : hl) ||
       (p && !is_port(p + 1, hl - (size_t)(p + 1 - host))) ||
       strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
              "0123456789+.-") != (size_t)(strstr(key, "://") - key) ||
       url_origin(key, r->key, sizeof(r->key)))
      return -1;
    r->kind = RULE_ORIGIN;
  }
  else if(colon && (key[0] != '[' || colon > strchr(key, ']'))) {
    if(!is_host(key, (size_t)(colon - key)) ||
       !is_port(colon + 1, strlen(colon + 1)))
      return -1;
    snprintf(r->key, sizeof(r->key), "%.*s|%s", (int)(colon - key), key,
             colon + 1);
    r->kind = RULE_HOSTPORT;
  }
  else {
    if(!is_host(key, n))
      return -1;
    snprintf(r->key, sizeof(r->key), "%s", key);
    r->kind = RULE_HOST;
  }
  for(i = 0; r->key[i]; i++)
    r->key[i] = (char)tolower((unsigned char)r->key[i]);
  return 0;
}

int ratelimit_add(struct ratelimit *rl, const char *key,
                  const struct rate_spec *sp, char *err, size_t errlen)
{
  struct rate_rule r;
  memset(&r, 0, sizeof(r));
  if(parse_key(key, &r)) {
    snprintf(err, errlen, "bad rate key '%.80s': write \"*\", a host "
             "(\"api.example.com\"), host:port or scheme://host:port", key);
    return -1;
  }
  r.sp = *sp;
  if(rl->n == rl->cap) {
    size_t cap = rl->cap ? rl->cap * 2 : 4;
    struct rate_rule *rules = realloc(rl->rules, cap * sizeof(*rules));
    if(!rules)
      return -2;
    rl->rules = rules;
    rl->cap = cap;
  }
  rl->rules[rl->n++] = r;
  return 0;
}

struct rate_rule *ratelimit_match(struct ratelimit *rl, const char *url)
{
  char o[ORIGIN_MAX];
  const char *hostport, *port;
  struct rate_rule *best = NULL;
  size_t i, hl;
  if(!rl || !rl->n || url_origin(url, o, sizeof(o)))
    return NULL;
  hostport = strchr(o, '|') + 1;
  port = strrchr(o, '|');
  hl = (size_t)(port - hostport);
  for(i = 0; i < rl->n; i++) {
    struct rate_rule *r = &rl->rules[i];
    int hit = r->kind == RULE_ANY ||
              (r->kind == RULE_ORIGIN && !strcmp(r->key, o)) ||
              (r->kind == RULE_HOSTPORT && !strcmp(r->key, hostport)) ||
              (r->kind == RULE_HOST && strlen(r->key) == hl &&
               !strncmp(r->key, hostport, hl));
    if(hit && (!best || r->kind > best->kind))
      best = r;
  }
  return best;
}

/* Drops the "*" buckets that hold nothing: idle, no adaptive limit, and
 * the sending rate they measured long decayed. */
static void sweep(struct rate_rule *r, double now)
{
  size_t i, j = 0;
  for(i = 0; i < r->nper; i++) {
    struct rate_bucket *b = &r->per[i];
    if(b->tat <= now && !b->limited && now - b->mt > 30)
      continue;
    r->per[j++] = *b;
  }
  r->nper = j;
}

/* The bucket of a request to url under r; NULL when out of memory. */
static struct rate_bucket *bucket(struct rate_rule *r, const char *url,
                                  double now)
{
  char o[ORIGIN_MAX];
  size_t i;
  if(r->kind != RULE_ANY)
    return &r->one;
  if(url_origin(url, o, sizeof(o)))
    return &r->one;                    /* ratelimit_match read it */
  for(i = 0; i < r->nper; i++)
    if(!strcmp(r->per[i].origin, o))
      return &r->per[i];
  if(r->nper == r->capper) {
    if(r->nper >= SWEEP_AT)
      sweep(r, now);
    if(r->nper == r->capper) {
      size_t cap = r->capper ? r->capper * 2 : 8;
      struct rate_bucket *per = realloc(r->per, cap * sizeof(*per));
      if(!per)
        return NULL;
      r->per = per;
      r->capper = cap;
    }
  }
  memset(&r->per[r->nper], 0, sizeof(r->per[0]));
  snprintf(r->per[r->nper].origin, ORIGIN_MAX, "%s", o);
  return &r->per[r->nper++];
}

/* The adaptive rate of b at t, requests a second; 0 when no limit (and
 * lifts a limit that has grown back far enough). */
static double adaptive_rate(struct rate_bucket *b, double t)
{
  double r;
  if(!b->limited)
    return 0;
  r = b->r0 * (1 + ADAPTIVE_GROWTH * (t > b->t_cut ? t - b->t_cut : 0));
  if(r >= 2 * b->r_before) {
    b->limited = 0;
    return 0;
  }
  return r;
}

/* The requests a second b has measured sending at t: its decayed count,
 * corrected for the time it has been counting (less than the 1 s mean). */
static double measured(const struct rate_bucket *b, double t)
{
  double span = t - b->t_first, m;
  if(b->m <= 0)
    return 0;
  m = b->m * exp(-(t > b->mt ? t - b->mt : 0));
  return span > 0.001 ? m / (1 - exp(-span)) : m;
}

static void count_send(struct rate_bucket *b, double at)
{
  if(b->m <= 0)
    b->t_first = at;
  b->m = b->m * exp(-(at > b->mt ? at - b->mt : 0)) + 1;
  if(at > b->mt)
    b->mt = at;
}

int ratelimit_reserve(struct ratelimit *rl, const char *url, double now,
                      double deadline, double *at)
{
  struct rate_rule *r = ratelimit_match(rl, url);
  struct rate_bucket *b;
  double interval, tau, go;
  *at = now;
  if(!r)
    return 0;
  if(!(b = bucket(r, url, now)))
    return -2;
  if(r->sp.adaptive) {
    double rate = adaptive_rate(b, now);
    if(rate <= 0) {
      count_send(b, now);
      return 0;
    }
    interval = 1 / rate;
    tau = 0;
  }
  else {
    interval = r->sp.interval;
    tau = (double)(r->sp.burst - 1) * interval;
  }
  go = b->tat - tau > now ? b->tat - tau : now;
  if(go > deadline)
    return 1;
  b->tat = (b->tat > go ? b->tat : go) + interval;
  if(r->sp.adaptive)
    count_send(b, go);
  *at = go;
  return 0;
}

double ratelimit_throttled(struct ratelimit *rl, const char *url,
                           double sent, double now)
{
  struct rate_rule *r = ratelimit_match(rl, url);
  struct rate_bucket *b;
  double from, m;
  if(!r || !r->sp.adaptive || !(b = bucket(r, url, now)))
    return 0;
  if(b->limited && sent < b->t_cut)
    return 0;          /* sent at the rate before the last cut */
  from = adaptive_rate(b, now);
  m = measured(b, now);
  if(from <= 0 || (m > 0 && m < from))
    from = m;
  if(from < RATELIMIT_ADAPTIVE_FLOOR)
    from = RATELIMIT_ADAPTIVE_FLOOR;
  b->r_before = from;
  b->r0 = from / 2 > RATELIMIT_ADAPTIVE_FLOOR ? from / 2 :
          RATELIMIT_ADAPTIVE_FLOOR;
  b->t_cut = now;
  b->limited = 1;
  return b->r0;
}

double ratelimit_rate(struct ratelimit *rl, const char *url, double now)
{
  struct rate_rule *r = ratelimit_match(rl, url);
  struct rate_bucket *b;
  if(!r)
    return 0;
  if(!r->sp.adaptive)
    return 1 / r->sp.interval;
  b = bucket(r, url, now);
  return b ? adaptive_rate(b, now) : 0;
}
