/*
 * easy.c - the floor for sequential calls: a plain libcurl easy loop in C.
 *
 *   easy [--cacert FILE] [--http2] URL N [TOKEN]
 *
 * N GETs one after another on one easy handle, so the connection is kept
 * alive. Each response is checked (check.h: a 200 whose first item has
 * "summary"); a transport error, a 5xx or an invalid 200 is retried, up to 4
 * attempts in all, after a full-jitter wait (uniform in [0, 1 ms * 2^retry]),
 * the same backoff the other contenders are given. Prints
 * "valid=N retries=R" on stdout; exits 1 when a call gives up. The options
 * (check.h, floor_options) are W5's and W6's TLS settings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"

static struct body body;

/* Sleeps the full-jitter delay before retry number `retry` (1 for the first). */
static void backoff(int retry, unsigned *seed)
{
  struct timespec ts = {0, (long)(backoff_delay(retry, seed) * 1e9)};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
  struct floor_opts opts;
  int op = floor_options(argc, argv, &opts);
  if(op < 0 || argc - op < 2) {
    fprintf(stderr, "usage: easy [--cacert FILE] [--http2] URL N [TOKEN]\n");
    return 2;
  }
  const char *url = argv[op];
  long n = atol(argv[op + 1]);
  unsigned seed = 1;
  long valid = 0, retries = 0;
  int rc = 0;

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *easy = curl_easy_init();
  struct curl_slist *headers = NULL;
  char auth[256];
  if(argc - op > 2) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[op + 2]);
    headers = curl_slist_append(headers, auth);
  }
  curl_easy_setopt(easy, CURLOPT_URL, url);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, body_write);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L); /* as retryrun: no sigaction per call */
  floor_setopts(easy, &opts);

  for(long i = 0; i < n; i++) {
    int attempt;
    for(attempt = 1; attempt <= ATTEMPTS; attempt++) {
      body.len = 0;
      body.data[0] = '\0';
      long status = 0;
      CURLcode res = curl_easy_perform(easy);
      if(res == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      int ok = res == CURLE_OK && status == 200 && body_valid(&body);
      if(ok) {
        valid++;
        break;
      }
      if(!outcome_retryable(res == CURLE_OK, status) ||
         attempt == ATTEMPTS) {
        fprintf(stderr, "easy: GET %s gave up: %s, status %ld\n", url,
                curl_easy_strerror(res), status);
        rc = 1;
        goto out;
      }
      retries++;
      backoff(attempt, &seed);
    }
  }
out:
  printf("valid=%ld retries=%ld\n", valid, retries);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  curl_global_cleanup();
  return rc;
}
