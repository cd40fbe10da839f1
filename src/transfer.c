/*
 * transfer.c - one HTTP attempt with libcurl (see transfer.h).
 *
 * Uses libcurl's easy interface only to describe a request; the event loop
 * (loop.c) drives it through the multi handle. Never includes lua.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transfer.h"

static struct transfer *free_list;

static int buf_append(struct buf *b, const char *p, size_t n)
{
  if(b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    char *d;
    while(cap < b->len + n + 1)
      cap *= 2;
    d = realloc(b->data, cap);
    if(!d)
      return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

/* Keeps a buffer's memory for the next attempt unless it grew large. */
static void buf_clear(struct buf *b)
{
  if(b->cap > 256 * 1024) {
    free(b->data);
    b->data = NULL;
    b->cap = 0;
  }
  b->len = 0;
  if(b->data)
    b->data[0] = '\0';
}

static void buf_free(struct buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int transfer_global_init(void)
{
  static int started;
  if(!started) {
    char err[256];
    if(curlapi_load(err, sizeof(err))) {
      fprintf(stderr, "retryrun: %s\n", err);
      return -1;
    }
    if(curl_global_init(CURL_GLOBAL_DEFAULT))
      return -1;
    started = 1;
  }
  return 0;
}

struct transfer *transfer_get(void)
{
  struct transfer *t = free_list;
  if(transfer_global_init())
    return NULL;
  if(t) {
    free_list = t->next_free;
    t->next_free = NULL;
    return t;
  }
  t = calloc(1, sizeof(*t));
  if(!t)
    return NULL;
  t->easy = curl_easy_init();
  if(!t->easy) {
    free(t);
    return NULL;
  }
  return t;
}

void transfer_release(struct transfer *t)
{
  if(!t)
    return;
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  buf_clear(&t->body);
  buf_clear(&t->resp_body);
  buf_clear(&t->resp_headers);
  free(t->effective_url);
  t->effective_url = NULL;
  free(t->redirect_url);
  t->redirect_url = NULL;
  t->nheaders = 0;
  t->too_large = 0;
  t->done = 0;
  t->status = 0;
  t->code = CURLE_OK;
  t->cls = POLICY_RESPONSE;
  t->sent = 0;
  t->errbuf[0] = '\0';
  t->owner = NULL;
  if(t->dirty) {
    curl_easy_reset(t->easy);
    t->configured = t->dirty = 0;
  }
  t->next_free = free_list;
  free_list = t;
}

void transfer_free_all(void)
{
  while(free_list) {
    struct transfer *t = free_list;
    free_list = t->next_free;
    curl_easy_cleanup(t->easy);
    buf_free(&t->body);
    buf_free(&t->resp_body);
    buf_free(&t->resp_headers);
    free(t);
  }
}

int transfer_add_header(struct transfer *t, const char *line)
{
  struct curl_slist *l = curl_slist_append(t->headers, line);
  if(!l)
    return -1;
  t->headers = l;
  return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
  struct transfer *t = ud;
  size_t len = size * n;
  if(t->max_body && t->resp_body.len + len > t->max_body) {
    t->too_large = 1;
    return 0;          /* libcurl stops with CURLE_WRITE_ERROR */
  }
  if(buf_append(&t->resp_body, p, len))
    return 0;
  return len;
}

/* Keeps the header lines of the last response only: a status line starts
 * a new response (after a redirect or a 1xx). */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
  struct transfer *t = ud;
  size_t len = size * n;
  if(len >= 5 && !memcmp(p, "HTTP/", 5)) {
    t->resp_headers.len = 0;
    t->nheaders = 0;
    return len;
  }
  if(len <= 2 || !memchr(p, ':', len))
    return len;        /* the blank line, or an obsolete folded line */
  if(t->resp_headers.len + len > TRANSFER_MAX_HEADERS_BYTES ||
     t->nheaders >= TRANSFER_MAX_HEADERS) {
    t->too_large = 1;
    return 0;
  }
  if(buf_append(&t->resp_headers, p, len))
    return 0;
  t->nheaders++;
  return len;
}

CURLcode transfer_prepare(struct transfer *t, const struct transfer_opts *o,
                          double now)
{
  CURL *e = t->easy;
  CURLcode rc = CURLE_OK;
  long timeout_ms = (long)(o->timeout * 1000.0 + 0.5);
  long connect_ms = (long)(o->connect_timeout * 1000.0 + 0.5);

  if(timeout_ms < 1)
    timeout_ms = 1;
  if(connect_ms < 1 || connect_ms > timeout_ms)
    connect_ms = timeout_ms;
  t->max_body = o->max_body;
  t->started = now;
  t->errbuf[0] = '\0';

#define SET(opt, val) do { rc = curl_easy_setopt(e, opt, val); \
                           if(rc) goto out; } while(0)
  /* the settings every attempt shares, once per easy handle: a plain GET
   * leaves them as they are for the next one (see transfer_release) */
  if(!t->configured) {
    SET(CURLOPT_PRIVATE, t);
    SET(CURLOPT_ERRORBUFFER, t->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    /* redirects are followed by the engine, which decides the method,
     * body and headers of each hop (lua_http.c) */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, t);
    SET(CURLOPT_USERAGENT, "retryrun/" RETRYRUN_VERSION);
    t->configured = 1;
  }
  SET(CURLOPT_URL, o->url);
  SET(CURLOPT_TIMEOUT_MS, timeout_ms);
  SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
  /* anything else makes the handle need a reset before its next use */
  t->dirty = o->insecure || o->cacert || o->fresh_connect || o->body ||
             strcmp(o->method, "GET");
  if(o->insecure) {
    SET(CURLOPT_SSL_VERIFYPEER, 0L);
    SET(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if(o->cacert)
    SET(CURLOPT_CAINFO, o->cacert);
  if(o->fresh_connect) {
    SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_FORBID_REUSE, 1L);
  }

  /* the method on the wire is the one asked for: a body alone would make
   * libcurl send a POST */
  if(!strcmp(o->method, "HEAD")) {
    if(o->body) {
      snprintf(t->errbuf, sizeof(t->errbuf), "a HEAD request has no body");
      rc = CURLE_BAD_FUNCTION_ARGUMENT;
      goto out;
    }
    SET(CURLOPT_NOBODY, 1L);
  }
  else if(!strcmp(o->method, "POST"))
    SET(CURLOPT_POST, 1L);
  else if(strcmp(o->method, "GET") || o->body)
    SET(CURLOPT_CUSTOMREQUEST, o->method);
  if(o->body) {
    t->body.len = 0;
    if(buf_append(&t->body, o->body, o->body_len)) {
      rc = CURLE_OUT_OF_MEMORY;
      goto out;
    }
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
    SET(CURLOPT_POSTFIELDS, t->body.data);
  }
  else if(!strcmp(o->method, "POST")) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    SET(CURLOPT_POSTFIELDS, "");
  }
  /* no "Expect: 100-continue" round trip for the bodies of API calls */
  if(o->body && transfer_add_header(t, "Expect:")) {
    rc = CURLE_OUT_OF_MEMORY;
    goto out;
  }
  SET(CURLOPT_HTTPHEADER, t->headers);
#undef SET
out:
  return rc;
}

enum policy_class transfer_classify(CURLcode code, long request_bytes,
                                    int connected, int *sent)
{
  enum policy_class cls;
  int may_have_sent = request_bytes > 0;

  switch(code) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    *sent = 0;
    return POLICY_DNS;
  case CURLE_COULDNT_CONNECT:
    *sent = 0;
    return POLICY_CONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    if(!connected) {
      *sent = 0;
      return POLICY_CONNECT;
    }
    cls = POLICY_TIMEOUT;
    break;
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_HTTP3:
    cls = POLICY_RESET;
    break;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_USE_SSL_FAILED:
    *sent = 0;   /* a failed handshake carried no request */
    return POLICY_TLS;
  case CURLE_FILESIZE_EXCEEDED:
    cls = POLICY_TOO_LARGE;
    break;
  default:
    cls = POLICY_OTHER;
    break;
  }
  *sent = may_have_sent;
  return cls;
}

void transfer_finish(struct transfer *t, CURLcode code, double now)
{
  long request_bytes = 0;
  double connect_time = 0;
  char *url = NULL;

  t->done = 1;
  t->code = code;
  t->duration = now - t->started;
  curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &url);
  free(t->effective_url);
  t->effective_url = url ? strdup(url) : NULL;
  if(code == CURLE_OK) {
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    t->cls = POLICY_RESPONSE;
    t->sent = 1;
    if(t->status >= 300 && t->status < 400) {
      url = NULL;
      curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &url);
      t->redirect_url = url ? strdup(url) : NULL;
    }
    return;
  }
  t->status = 0;
  if(t->too_large && code == CURLE_WRITE_ERROR) {
    t->cls = POLICY_TOO_LARGE;
    t->sent = 1;
    return;
  }
  curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &request_bytes);
  curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME, &connect_time);
  t->cls = transfer_classify(code, request_bytes, connect_time > 0, &t->sent);
}

const char *transfer_error_text(const struct transfer *t)
{
  if(t->cls == POLICY_TOO_LARGE)
    return "response over max_body";
  if(t->errbuf[0])
    return t->errbuf;
  return curl_easy_strerror(t->code);
}
