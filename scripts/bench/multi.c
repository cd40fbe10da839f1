/*
 * multi.c - the floor for concurrent calls: a plain libcurl multi loop in C.
 *
 *   multi [--cacert FILE] [--http2] URL N CONCURRENCY [TOKEN]
 *
 * N GETs with CONCURRENCY in flight on one multi handle: one easy handle per
 * slot, reused for the slot's next request so its connection stays alive.
 * Each response is checked as in easy.c (check.h); a retryable outcome is
 * tried again on the same slot after a full-jitter wait (uniform in
 * [0, 1 ms * 2^retry]), up to 4 attempts in all. Prints "valid=N retries=R";
 * exits 1 when a call gives up. With --http2 (W6) every slot's
 * stream goes over one multiplexed connection to the host, as retryrun's
 * run.limits{per_host = 1} gives; --cacert as in easy.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"

struct slot {
  CURL *easy;
  struct body body;
  int attempt;    /* of the request in this slot, 1-based */
  double due;     /* > 0: waiting to be re-added at this time */
};

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Adds the slot's handle to the multi for its next attempt. */
static void slot_start(CURLM *multi, struct slot *s, long *active)
{
  s->body.len = 0;
  s->body.data[0] = '\0';
  s->due = 0;
  curl_multi_add_handle(multi, s->easy);
  (*active)++;
}

int main(int argc, char **argv)
{
  struct floor_opts opts;
  int op = floor_options(argc, argv, &opts);
  if(op < 0 || argc - op < 3) {
    fprintf(stderr,
            "usage: multi [--cacert FILE] [--http2] URL N CONCURRENCY [TOKEN]\n");
    return 2;
  }
  const char *url = argv[op];
  long n = atol(argv[op + 1]);
  int conc = atoi(argv[op + 2]);
  if(conc < 1 || n < 1) {
    fprintf(stderr, "multi: N and CONCURRENCY must be positive\n");
    return 2;
  }
  if(conc > n)
    conc = (int)n;
  unsigned seed = 1;
  long started = 0, valid = 0, retries = 0;
  long active = 0, waiting = 0; /* handles in the multi, slots in backoff */
  int rc = 0;

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM *multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    opts.http2 ? 1L : (long)conc);
  if(opts.http2)
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  struct curl_slist *headers = NULL;
  char auth[256];
  if(argc - op > 3) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[op + 3]);
    headers = curl_slist_append(headers, auth);
  }
  struct slot *slots = calloc((size_t)conc, sizeof *slots);
  if(!slots) {
    fprintf(stderr, "multi: out of memory\n");
    return 1;
  }
  for(int i = 0; i < conc; i++) {
    struct slot *s = &slots[i];
    s->easy = curl_easy_init();
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->body);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    floor_setopts(s->easy, &opts);
    s->attempt = 1;
    started++;
    slot_start(multi, s, &active);
  }

  while(active > 0 || waiting > 0) {
    int running;
    curl_multi_perform(multi, &running);
    CURLMsg *msg;
    int left;
    while((msg = curl_multi_info_read(multi, &left))) {
      if(msg->msg != CURLMSG_DONE)
        continue;
      CURL *easy = msg->easy_handle;
      CURLcode res = msg->data.result;
      struct slot *s;
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      curl_multi_remove_handle(multi, easy); /* msg is gone from here on */
      active--;
      if(res == CURLE_OK && status == 200 && body_valid(&s->body)) {
        valid++;
        if(started < n) {
          started++;
          s->attempt = 1;
          slot_start(multi, s, &active);
        }
      } else if(outcome_retryable(res == CURLE_OK, status) &&
                s->attempt < ATTEMPTS) {
        s->due = now() + backoff_delay(s->attempt, &seed);
        s->attempt++;
        retries++;
        waiting++;
      } else {
        fprintf(stderr, "multi: GET %s gave up: %s, status %ld\n", url,
                curl_easy_strerror(res), status);
        rc = 1;
      }
    }
    /* Slots whose backoff is over go back in; the poll sleeps until the
     * earliest of them at most. */
    int timeout_ms = 1000;
    double t = now();
    for(int i = 0; waiting > 0 && i < conc; i++) {
      if(slots[i].due <= 0)
        continue;
      if(slots[i].due <= t) {
        waiting--;
        slot_start(multi, &slots[i], &active);
      } else if((slots[i].due - t) * 1000 < timeout_ms) {
        timeout_ms = (int)((slots[i].due - t) * 1000) + 1;
      }
    }
    if(active > 0 || waiting > 0)
      curl_multi_poll(multi, NULL, 0, timeout_ms, NULL);
  }

  printf("valid=%ld retries=%ld\n", valid, retries);
  for(int i = 0; i < conc; i++)
    curl_easy_cleanup(slots[i].easy);
  free(slots);
  curl_slist_free_all(headers);
  curl_multi_cleanup(multi);
  curl_global_cleanup();
  return rc;
}
