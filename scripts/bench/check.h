/*
 * check.h - what the two plain libcurl contenders (easy.c, multi.c) share: a
 * capped body buffer for CURLOPT_WRITEFUNCTION and the predicate.
 *
 * The predicate is the floor's version of the workloads' check ("'summary' in
 * the first item"): a 200 whose first JSON object contains "summary", found
 * with strstr and no JSON parser. Header-only, static functions: each
 * contender is one translation unit that run.sh compiles on its own.
 */
#ifndef BENCH_CHECK_H
#define BENCH_CHECK_H

#include <stddef.h>
#include <string.h>

#define BODY_MAX (1024 * 1024) /* a longer body fails the transfer */

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

/* Whether an attempt that ended this way is retried: transport errors, 5xx
 * and 200s that fail the predicate. Anything else (a 401, a 404) gives up. */
static int outcome_retryable(int curl_ok, long status, int valid)
{
  if(!curl_ok)
    return 1;
  if(status >= 500)
    return 1;
  return status == 200 && !valid;
}

#endif
