/*
 * test_transfer.c - transfer_classify(): every libcurl failure retryrun
 * tells apart, and whether the request may have reached the server.
 * Pure: no network, no curl handle.
 */
#include <string.h>

#include "tap.h"
#include "transfer.h"

struct row {
  CURLcode code;
  int started;            /* a request went out on the wire */
  enum policy_class cls;
  int sent;
};

int main(void)
{
  static const struct row rows[] = {
    {CURLE_COULDNT_RESOLVE_HOST, 0, POLICY_DNS, 0},
    {CURLE_COULDNT_RESOLVE_PROXY, 0, POLICY_DNS, 0},
    {CURLE_COULDNT_CONNECT, 0, POLICY_CONNECT, 0},
    /* a timeout before any request went out: never sent */
    {CURLE_OPERATION_TIMEDOUT, 0, POLICY_CONNECT, 0},
    /* after the request went out, on a new or a reused connection (which
     * has no connect time): may have been processed */
    {CURLE_OPERATION_TIMEDOUT, 1, POLICY_TIMEOUT, 1},
    {CURLE_GOT_NOTHING, 1, POLICY_RESET, 1},
    {CURLE_RECV_ERROR, 1, POLICY_RESET, 1},
    {CURLE_SEND_ERROR, 0, POLICY_RESET, 0},
    {CURLE_SEND_ERROR, 1, POLICY_RESET, 1},
    {CURLE_PARTIAL_FILE, 1, POLICY_RESET, 1},
    {CURLE_HTTP2_STREAM, 1, POLICY_RESET, 1},
    {CURLE_SSL_CONNECT_ERROR, 0, POLICY_TLS, 0},
    {CURLE_PEER_FAILED_VERIFICATION, 0, POLICY_TLS, 0},
    {CURLE_SSL_CACERT_BADFILE, 0, POLICY_TLS, 0},
    {CURLE_FILESIZE_EXCEEDED, 1, POLICY_TOO_LARGE, 1},
    {CURLE_URL_MALFORMAT, 0, POLICY_OTHER, 0},
    {CURLE_UNSUPPORTED_PROTOCOL, 0, POLICY_OTHER, 0},
    {CURLE_TOO_MANY_REDIRECTS, 1, POLICY_OTHER, 1},
  };
  size_t i;
  char err[256];

  if(curlapi_load(err, sizeof(err))) {
    CHECK(0, "%s", err);
    return tap_done();
  }
  for(i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    const struct row *r = &rows[i];
    int sent = -1;
    enum policy_class cls = transfer_classify(r->code, r->started, &sent);
    CHECK(cls == r->cls, "%s (%s) is class %s",
          curl_easy_strerror(r->code),
          r->started ? "request started" : "no request started",
          policy_class_name(r->cls));
    CHECK(sent == r->sent, "%s (%s) %s reached the server",
          curl_easy_strerror(r->code),
          r->started ? "request started" : "no request started",
          r->sent ? "may have" : "has not");
  }
  /* every class retried by default except tls, too_large and other */
  {
    struct policy p;
    policy_init(&p);
    CHECK(p.retry_class & (1u << POLICY_CONNECT), "connect retried");
    CHECK(p.retry_class & (1u << POLICY_RESET), "reset retried");
    CHECK(!(p.retry_class & (1u << POLICY_TLS)), "tls not retried");
    CHECK(!(p.retry_class & (1u << POLICY_TOO_LARGE)),
          "too_large not retried");
  }
  return tap_done();
}
