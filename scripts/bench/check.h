/*
 * check.h - what the two plain libcurl contenders (easy.c, multi.c) share: a
 * capped body buffer for CURLOPT_WRITEFUNCTION, the predicate, and the retry
 * rule (which outcomes are retried, how many attempts, how long to wait).
 *
 * Both take the same options before their operands (floor_options): the TLS
 * and HTTP/2 settings of W5 and W6.
 *
 * The predicate is the floor's version of the workloads' check ("'summary' in
 * the first item"): a 200 whose first JSON object contains "summary", found
 * with strstr and no JSON parser. Header-only, static functions: each
 * contender is one translation unit that run.sh compiles on its own.
 */
#ifndef BENCH_CHECK_H
#define BENCH_CHECK_H

#include <curl/curl.h>
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

/* What the options before the operands ask for. */
struct floor_opts {
  const char *cacert; /* --cacert FILE: verify https against FILE */
  int http2;          /* --http2: HTTP/2 over TLS, streams multiplexed */
};

/* Reads "--cacert FILE" and "--http2" from argv[1] on into o. Returns the
 * index of the first operand, or -1 for an unknown or incomplete option. */
static int floor_options(int argc, char **argv, struct floor_opts *o)
{
  int i = 1;
  o->cacert = NULL;
  o->http2 = 0;
  for(; i < argc && !strncmp(argv[i], "--", 2); i++) {
    if(!strcmp(argv[i], "--cacert") && i + 1 < argc)
      o->cacert = argv[++i];
    else if(!strcmp(argv[i], "--http2"))
      o->http2 = 1;
    else
      return -1;
  }
  return i;
}

/* Sets the options on one easy handle. The peer is always verified (a
 * self-signed server through --cacert, as retryrun's cacert=). --http2 asks
 * for HTTP/2 over TLS: libcurl's default for https since 7.62, set here so
 * the floor does not depend on it; PIPEWAIT makes a transfer wait for a
 * connection that can multiplex rather than open one of its own. */
static void floor_setopts(CURL *easy, const struct floor_opts *o)
{
  if(o->cacert)
    curl_easy_setopt(easy, CURLOPT_CAINFO, o->cacert);
  if(o->http2) {
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  }
}

#endif
