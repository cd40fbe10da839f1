/*
 * check.h - what the two plain libcurl contenders (easy.c, multi.c) share: a
 * capped body buffer for CURLOPT_WRITEFUNCTION, the predicate, and the retry
 * rule (which outcomes are retried, how many attempts, how long to wait).
 *
 * The predicate is the floor's version of the workloads' check ("'summary' in
 * the first item"): a 200 whose first JSON object contains "summary", found
 * with strstr and no JSON parser. Header-only, static functions: each
 * contender is one translation unit that run.sh compiles on its own.
 */
#ifndef BENCH_CHECK_H
#define BENCH_CHECK_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX (1024 * 1024) /* a longer body fails the transfer */
#define ATTEMPTS 4             /* in all, the first included */
#define BACKOFF_BASE 0.001     /* seconds, doubled for each retry */

struct body {
  char data[BODY_MAX + 1];
  size_t len;
};

/* CURLOPT_WRITEFUNCTION: appends to the struct body in userdata; returning
 * less than it was given makes libcurl fail the transfer (CURLE_WRITE_ERROR). */
static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct body *b = userdata;
  size_t n = size * nmemb;
  if(n > BODY_MAX - b->len)
    return 0;
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

/* True when the body's first object ("[{...}, ...]") holds the key "summary". */
static int body_valid(const struct body *b)
{
  const char *first = strchr(b->data, '{');
  if(!first)
    return 0;
  const char *end = strchr(first, '}');
  const char *key = strstr(first, "\"summary\"");
  return key && end && key < end;
}

/* Whether an attempt that was not a valid 200 is retried: a transport
 * error, a 5xx, or a 200 that failed the predicate. Anything else (a 401, a
 * 404) gives up. */
static int outcome_retryable(int curl_ok, long status)
{
  return !curl_ok || status >= 500 || status == 200;
}

/* The full-jitter wait in seconds before retry number `retry` (1 for the
 * first): uniform in [0, BACKOFF_BASE * 2^retry], drawn with rand_r(seed). */
static double backoff_delay(int retry, unsigned *seed)
{
  double cap = BACKOFF_BASE * (double)(1u << retry);
  return cap * (double)rand_r(seed) / RAND_MAX;
}

#endif
