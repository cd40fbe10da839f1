/*
 * chaos.c - client-side faults per attempt (see chaos.h). The draws come
 * from policy.c's splitmix64, seeded afresh for each attempt from the
 * seed and the attempt's place in its task.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos.h"
#include "policy.h"

#define MAX_LATENCY 3600.0      /* seconds */

static const char *const keys[] = {
  "fail", "status", "latency", "reset", "seed", NULL
};

/* A probability from 0 to 1, the whole of s; -1 if it is not one. */
static double probability(const char *s)
{
  char *end;
  double v;
  if(!isdigit((unsigned char)*s) && *s != '.')
    return -1;
  v = strtod(s, &end);
  return *end || !(v >= 0 && v <= 1) ? -1 : v;
}

/* A duration "200ms", "1.5s" or "2" (seconds), 0 to MAX_LATENCY; -1 if
 * s is not one. */
static double duration(const char *s)
{
  char *end;
  double v;
  if(!isdigit((unsigned char)*s) && *s != '.')
    return -1;
  v = strtod(s, &end);
  if(!strcmp(end, "ms"))
    v /= 1000;
  else if(*end && strcmp(end, "s"))
    return -1;
  return v >= 0 && v <= MAX_LATENCY ? v : -1;
}

/* One key=value pair into c; 0, or -1 with err set. */
static int pair(struct chaos *c, char *kv, unsigned *seen,
                chaos_suggest_fn *suggest, char *err, size_t errlen)
{
  char *v = strchr(kv, '='), *end, near[96] = "";
  int k;
  if(!v) {
    snprintf(err, errlen, "--chaos: '%.40s' is not key=value", kv);
    return -1;
  }
  *v++ = '\0';
  for(k = 0; keys[k] && strcmp(keys[k], kv); k++)
    ;
  if(!keys[k]) {
    if(suggest)
      suggest(kv, keys, near, sizeof(near));
    snprintf(err, errlen, "--chaos: unknown key '%.40s'%s; the keys are "
             "fail, status, latency, reset and seed", kv, near);
    return -1;
  }
  if(*seen & (1u << k)) {
    snprintf(err, errlen, "--chaos: '%s' is given twice", kv);
    return -1;
  }
  *seen |= 1u << k;
  if(!strcmp(kv, "fail") || !strcmp(kv, "reset")) {
    double p = probability(v);
    if(p < 0) {
      snprintf(err, errlen, "--chaos: %s=%.40s: want a probability from "
               "0 to 1", kv, v);
      return -1;
    }
    *(kv[0] == 'f' ? &c->fail : &c->reset) = p;
  }
  else if(!strcmp(kv, "latency")) {
    char *colon = strchr(v, ':');
    if(colon)
      *colon = '\0';
    if(!colon || (c->latency_p = probability(v)) < 0 ||
       (c->latency = duration(colon + 1)) < 0) {
      snprintf(err, errlen, "--chaos: latency=%.40s%s%.20s: want P:DURATION, "
               "P from 0 to 1 and DURATION as 200ms or 1.5s (at most 1 h), "
               "as latency=0.05:200ms", v, colon ? ":" : "",
               colon ? colon + 1 : "");
      return -1;
    }
  }
  else if(!strcmp(kv, "status")) {
    long s;
    errno = 0;
    s = strtol(v, &end, 10);
    if(!isdigit((unsigned char)*v) || *end || s < 400 || s > 599) {
      snprintf(err, errlen, "--chaos: status=%.40s: want a status from "
               "400 to 599", v);
      return -1;
    }
    c->status = (int)s;
  }
  else {
    unsigned long long s;
    errno = 0;
    s = strtoull(v, &end, 10);
    if(!isdigit((unsigned char)*v) || *end || errno) {
      snprintf(err, errlen, "--chaos: seed=%.40s: want a whole number", v);
      return -1;
    }
    c->seed = (uint64_t)s;
    c->seeded = 1;
  }
  return 0;
}

int chaos_parse(const char *spec, struct chaos *c, chaos_suggest_fn *suggest,
                char *err, size_t errlen)
{
  char buf[512], *p, *save = NULL;
  unsigned seen = 0;
  memset(c, 0, sizeof(*c));
  c->status = 503;
  if(strlen(spec) >= sizeof(buf)) {
    snprintf(err, errlen, "--chaos: the spec is over %zu bytes",
             sizeof(buf) - 1);
    return -1;
  }
  memcpy(buf, spec, strlen(spec) + 1);
  for(p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
    if(pair(c, p, &seen, suggest, err, errlen))
      return -1;
  if(c->fail + c->reset > 1) {
    snprintf(err, errlen, "--chaos: fail and reset add up to more than 1");
    return -1;
  }
  if(!(c->fail > 0 || c->reset > 0 || (c->latency_p > 0 && c->latency > 0))) {
    snprintf(err, errlen, "--chaos: '%.60s' injects nothing; give fail=P, "
             "reset=P or latency=P:DURATION, as 'fail=0.01,seed=7'", spec);
    return -1;
  }
  return 0;
}

enum chaos_fault chaos_draw(const struct chaos *c, unsigned task,
                            unsigned call, int attempt)
{
  struct policy_rng r;
  double u;
  /* mix the attempt's place into the seed: one splitmix64 step on each */
  policy_rng_seed(&r, c->seed);
  policy_rng_seed(&r, policy_rng_u64(&r) ^ task);
  policy_rng_seed(&r, policy_rng_u64(&r) ^ call);
  policy_rng_seed(&r, policy_rng_u64(&r) ^ (uint64_t)attempt);
  u = policy_rng_double(&r);
  if(u < c->fail)
    return CHAOS_FAIL;
  if(u < c->fail + c->reset)
    return CHAOS_RESET;
  if(policy_rng_double(&r) < c->latency_p && c->latency > 0)
    return CHAOS_LATENCY;
  return CHAOS_NONE;
}

void chaos_describe(const struct chaos *c, char *out, size_t n)
{
  char f[48] = "", l[48] = "", r[32] = "";
  if(c->fail > 0)
    snprintf(f, sizeof(f), "fail=%g status=%d ", c->fail, c->status);
  if(c->latency_p > 0 && c->latency > 0)
    snprintf(l, sizeof(l), "latency=%g:%gms ", c->latency_p,
             c->latency * 1000);
  if(c->reset > 0)
    snprintf(r, sizeof(r), "reset=%g ", c->reset);
  snprintf(out, n, "%s%s%sseed=%llu", f, l, r, (unsigned long long)c->seed);
}

const char *chaos_fault_name(enum chaos_fault f)
{
  return f == CHAOS_FAIL ? "fail" : f == CHAOS_RESET ? "reset" :
         f == CHAOS_LATENCY ? "latency" : "none";
}
