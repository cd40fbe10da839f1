/*
 * transfer_recv.c - what libcurl hands a transfer while it runs (see
 * transfer.h): the response's header lines and body bytes, each under its
 * cap, and the moment before each request goes out, where a silent resend
 * is refused. Sets these callbacks on a handle; no Lua, no decisions.
 */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "hints.h"
#include "transfer.h"

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
  struct transfer *t = ud;
  size_t len = size * n;
  t->received += len;
  if(t->max_body && t->resp_body.len + len > t->max_body) {
    t->too_large = 1;
    t->over = TRANSFER_OVER_BODY;
    return 0;          /* libcurl stops with CURLE_WRITE_ERROR */
  }
  if(dynbuf_add(&t->resp_body, p, len)) {
    t->out_of_memory = 1;
    return 0;
  }
  return len;
}

/* The status code of a status line ("HTTP/1.1 200 OK"), or 0. */
static long status_of(const char *p, size_t len)
{
  const char *sp = memchr(p, ' ', len);
  long code = 0;
  size_t i;
  if(!sp)
    return 0;
  for(i = (size_t)(sp - p) + 1; i < len && i < (size_t)(sp - p) + 4; i++) {
    if(p[i] < '0' || p[i] > '9')
      return 0;
    code = code * 10 + (p[i] - '0');
  }
  return code;
}

/* The value of a Content-Length line, or -1 when it is not one or is not a
 * plain number. */
static long long content_length_of(const char *p, size_t len)
{
  long long v = 0;
  size_t i = 15;
  int digits = 0;
  if(len < 16 || (p[8] | 0x20) != 'l' ||
     strncasecmp(p, "content-length:", 15))
    return -1;
  while(i < len && (p[i] == ' ' || p[i] == '\t'))
    i++;
  for(; i < len && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
    if(v > (LLONG_MAX - 9) / 10)
      return LLONG_MAX;
    v = v * 10 + (p[i] - '0');
  }
  return digits ? v : -1;
}

/* 1 when the line is a Content-Encoding header naming an encoding (not
 * identity alone). */
static int is_encoded(const char *p, size_t len)
{
  size_t i = 17;
  if(len < 17 || strncasecmp(p, "content-encoding:", 17))
    return 0;
  while(i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
                    p[i] == '\n'))
    i++;
  if(i == len)
    return 0;
  if(len - i >= 8 && !strncasecmp(p + i, "identity", 8)) {
    for(i += 8; i < len; i++)
      if(p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
        return 1;
    return 0;
  }
  return 1;
}

/* Reads a header line that may be Content-Length or Content-Encoding. */
static NOINLINE void content_header(struct transfer *t, const char *p,
                                    size_t len)
{
  long long cl = content_length_of(p, len);
  if(cl >= 0)
    t->content_length = cl;
  else if(t->decoding && is_encoded(p, len))
    t->encoded = 1;
}

/* A header line under both caps kept, and read when it may be one of the
 * Content- headers that matter here; its length, or 0 out of memory. */
static inline size_t keep_header(struct transfer *t, const char *p,
                                 size_t len)
{
  if(dynbuf_add(&t->resp_headers, p, len)) {
    t->out_of_memory = 1;
    return 0;
  }
  t->nheaders++;
  /* both names start "Content-": a look at two bytes passes the others */
  if(len >= 16 && (p[0] | 0x20) == 'c' && p[7] == '-')
    content_header(t, p, len);
  return len;
}

/* Keeps the header lines of the last response only: a status line starts
 * a new response (after a redirect or a 1xx). At the end of a response's
 * headers, a Content-Length over max_body stops the attempt before its
 * body comes (a 1xx, 204, 304 or redirect has no body of its own to keep,
 * and a HEAD has none at all: max_body is 0 then). */
static NOINLINE size_t header_line(struct transfer *t, const char *p,
                                   size_t len)
{
  if(len >= 5 && !memcmp(p, "HTTP/", 5)) {
    t->answered = 1;
    t->headers_done = 0;
    t->content_length = -1;
    t->encoded = 0;
    t->last_status = status_of(p, len);
    t->resp_headers.len = 0;
    t->nheaders = 0;
    return len;
  }
  if((len == 2 && p[0] == '\r') || (len == 1 && p[0] == '\n')) {
    /* the blank line: this response's headers ended */
    long s = t->last_status;
    t->headers_done = 1;
    if(t->max_body && t->content_length > (long long)t->max_body &&
       !(t->decoding && t->encoded) &&
       s >= 200 && s != 204 && s != 304 && (s < 300 || s > 399)) {
      t->too_large = 1;
      t->over = TRANSFER_OVER_LENGTH;
      return 0;
    }
    return len;
  }
  if(!memchr(p, ':', len))
    return len;        /* an obsolete folded line */
  if(t->nheaders >= TRANSFER_MAX_HEADERS) {
    t->too_large = 1;
    t->over = TRANSFER_OVER_HEADER_LINES;
    return 0;
  }
  if(t->resp_headers.len + len > TRANSFER_MAX_HEADERS_BYTES) {
    t->too_large = 1;
    t->over = TRANSFER_OVER_HEADER_BYTES;
    return 0;
  }
  return keep_header(t, p, len);
}

/* libcurl's header callback: most lines are a header under both caps,
 * kept here; header_line takes a status line, the blank line, a line
 * with no colon and every line over a cap. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
  struct transfer *t = ud;
  size_t len = size * n;
  t->received += len;
  if(len >= 8 && p[0] != 'H' && t->nheaders < TRANSFER_MAX_HEADERS &&
     t->resp_headers.len + len <= TRANSFER_MAX_HEADERS_BYTES &&
     memchr(p, ':', len))
    return keep_header(t, p, len);
  return header_line(t, p, len);
}

/* Called by libcurl right before it sends each request of the transfer:
 * the first, each redirect hop (after a response), and its own resend of
 * a request whose reused connection closed with no answer (no response in
 * between). That resend is refused: the first request may have reached
 * the server, so the retry engine must see, count and judge any repeat. */
static int on_prereq(void *ud, char *remote_ip, char *local_ip,
                     int remote_port, int local_port)
{
  struct transfer *t = ud;
  (void)remote_ip;
  (void)local_ip;
  (void)remote_port;
  (void)local_port;
  if(t->requests && !t->answered) {
    t->resend_refused = 1;
    return CURL_PREREQFUNC_ABORT;
  }
  t->requests++;
  t->answered = 0;
  return CURL_PREREQFUNC_OK;
}

CURLcode transfer_recv_on(struct transfer *t, int *no_prereq)
{
  CURL *e = t->easy;
  CURLcode rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  if(!rc)
    rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  if(!rc)
    rc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  if(!rc)
    rc = curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  if(rc || *no_prereq)
    return rc;
  rc = curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
  if(rc == CURLE_UNKNOWN_OPTION) {
    *no_prereq = 1;
    return CURLE_OK;
  }
  if(!rc)
    rc = curl_easy_setopt(e, CURLOPT_PREREQDATA, t);
  return rc;
}
