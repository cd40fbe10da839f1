/* request: a request's life in todo-server, as libmicrohttpd's callbacks
 * see it, from its headers to its completion.
 *
 * The access handler is called in three phases: the first call (headers
 * read) counts the request and draws its faults, and may reset the
 * connection or refuse an oversized body at once; body calls collect at
 * most --max-body bytes; the last call builds the reply (and is made once
 * more after a delay, to send it). Faults are applied in a fixed order:
 * outage (judged when the headers arrive), reset, throttle, fail,
 * spurious-401 (the first that fires answers instead of the route), then
 * the route, which may apply missing-field, lag or lose-response, then
 * slow, which delays whatever answer is sent. Only an applied fault is
 * counted.
 *
 * Uses the routes, the delay queue, the store's counters and clock, and
 * reply. Writes the --log lines to stderr; never writes stdout, and never
 * touches the listening socket or the daemon's lifetime. */
#include "server_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One --log line: method, path, status (or "-") and the faults applied.
 * Outside bytes are shown as '?' when they are not printable. */
static void server_log(struct server *srv, const char *method,
                       const char *url, unsigned status, const char *fault,
                       bool slow)
{
  if(!srv->cfg->log)
    return;
  char m[24], u[256], st[16] = "-";
  const char *src[2] = {method, url};
  char *dst[2] = {m, u};
  size_t cap[2] = {sizeof(m), sizeof(u)};
  for(int k = 0; k < 2; k++) {
    size_t i = 0;
    for(; src[k][i] && i + 1 < cap[k]; i++) {
      unsigned char c = (unsigned char)src[k][i];
      dst[k][i] = c > 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[k][i] = '\0';
  }
  if(status)
    snprintf(st, sizeof(st), "%u", status);
  fprintf(stderr, "%s %s %s%s%s%s\n", m, u, st, *fault ? " " : "", fault,
          slow ? " slow" : "");
}

/* A Retry-After value for seconds from now: the number, or with
 * --retry-after-date the HTTP date (RFC 9110 IMF-fixdate) of the whole
 * second it falls in, so a client waits between seconds - 1 and seconds.
 * Day and month names are English: todo-server never leaves the C
 * locale. */
static void retry_after_value(const struct todo_config *cfg, uint64_t seconds,
                              char *out, size_t outlen)
{
  struct tm tm;
  time_t when = time(NULL) + (time_t)seconds;
  if(!cfg->retry_after_date || !gmtime_r(&when, &tm) ||
     !strftime(out, outlen, "%a, %d %b %Y %H:%M:%S GMT", &tm))
    snprintf(out, outlen, "%llu", (unsigned long long)seconds);
}

/* Builds and sends (or, for --slow-rate, parks) the reply. early: the
 * body was refused unread, so the reply must go out now, undelayed. */
static enum MHD_Result finish(struct server *srv, struct MHD_Connection *conn,
                              struct request *req, const char *url,
                              const char *method, bool early)
{
  const struct todo_config *cfg = srv->cfg;
  struct reply rp;
  reply_init(&rp);

  if(!req->counted) {
    if(!strcmp(url, "/_redirect"))
      route_redirect(conn, &rp);
    else
      route_stats(srv, &rp, method);
  }
  else {
    if(req->outage_left) {
      reply_error(&rp, 503, "service unavailable (outage)");
      rp.retry_after = fault_retry_after_s(req->outage_left);
      rp.has_retry_after = true;
      rp.fault = FAULT_OUTAGE;
    }
    else if(req->draw.throttle) {
      reply_error(&rp, 429, "too many requests");
      rp.retry_after = cfg->retry_after_s;
      rp.has_retry_after = true;
      rp.fault = FAULT_THROTTLE;
    }
    else if(req->draw.fail) {
      reply_error(&rp, cfg->fail_status, "injected failure");
      rp.fault = FAULT_FAIL;
    }
    else if(req->draw.spurious_401) {
      reply_error(&rp, 401, "invalid token");
      rp.challenge = true;
      rp.fault = FAULT_SPURIOUS_401;
    }
    else
      route(srv, conn, req, &rp, url, method);
  }
  store_count_fault(srv->store, rp.fault);

  if(rp.drop) {
    server_log(srv, method, url, 0, fault_name(rp.fault), false);
    buf_free(&rp.body);
    return MHD_NO;
  }
  bool slow = req->counted && req->draw.slow && !early;
  if(slow)
    store_count_fault(srv->store, FAULT_SLOW);
  server_log(srv, method, url, rp.status, fault_name(rp.fault), slow);

  size_t len;
  char *data = buf_take(&rp.body, &len);
  struct MHD_Response *resp;
  if(data)
    resp = MHD_create_response_from_buffer_with_free_callback(len, data,
                                                              free);
  else {
    static char nomem[] = "{\"error\":\"out of memory\"}";
    rp.status = 500;
    resp = MHD_create_response_from_buffer(sizeof(nomem) - 1, nomem,
                                           MHD_RESPMEM_PERSISTENT);
  }
  if(!resp) {
    free(data);
    return MHD_NO;
  }
  enum MHD_Result ok = MHD_add_response_header(resp,
                                               MHD_HTTP_HEADER_CONTENT_TYPE,
                                               "application/json");
  if(ok && rp.allow)
    ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rp.allow);
  if(ok && rp.location)
    ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION,
                                 rp.location);
  if(ok && rp.link[0])
    ok = MHD_add_response_header(resp, "Link", rp.link);
  if(ok && rp.set_cookie)
    ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE,
                                 rp.set_cookie);
  if(ok && rp.challenge)
    ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                 "Bearer");
  if(ok && rp.replayed)
    ok = MHD_add_response_header(resp, "Idempotent-Replayed", "true");
  for(unsigned i = 0; ok && i < rp.nheaders; i++)
    ok = MHD_add_response_header(resp, rp.header_name[i],
                                 rp.header_value[i]);
  if(ok && rp.has_retry_after) {
    char ra[64];
    retry_after_value(cfg, rp.retry_after, ra, sizeof(ra));
    ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
  }
  if(ok && slow && server_delay(srv, req, conn)) {
    req->pending = resp;
    req->pending_status = rp.status;
    return MHD_YES;
  }
  if(ok)
    ok = MHD_queue_response(conn, rp.status, resp);
  MHD_destroy_response(resp);
  return ok;
}

/* True when a Content-Length header promises more than max bytes. */
static bool length_over(const char *cl, size_t max)
{
  uint64_t v = 0;
  for(; *cl == ' '; cl++)
    ;
  for(; *cl >= '0' && *cl <= '9'; cl++) {
    v = v * 10 + (uint64_t)(*cl - '0');
    if(v > max)
      return true;
  }
  return false;
}

enum MHD_Result server_access(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version,
                              const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
  struct server *srv = cls;
  struct request *req = *con_cls;
  (void)version;

  if(!req) {
    /* first call: the headers are in, the body (if any) is not */
    req = calloc(1, sizeof(*req));
    if(!req)
      return MHD_NO;
    buf_init(&req->body, srv->cfg->max_body);
    *con_cls = req;
    if(strcmp(url, "/_stats") && strcmp(url, "/_redirect")) {
      const struct todo_config *cfg = srv->cfg;
      req->counted = true;
      store_begin_request(srv->store, &req->draw);
      if(cfg->outage)
        req->outage_left = fault_outage_left(cfg->outage_start_ms,
                                             cfg->outage_len_ms,
                                             store_now_ms(srv->store));
      if(req->draw.reset && !req->outage_left) {
        store_count_fault(srv->store, FAULT_RESET);
        server_log(srv, method, url, 0, fault_name(FAULT_RESET), false);
        return MHD_NO; /* libmicrohttpd closes without a response */
      }
    }
    const char *cl = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if(cl && length_over(cl, srv->cfg->max_body)) {
      /* answer now; libmicrohttpd then skips the body and closes */
      req->body.err = BUF_TOO_BIG;
      return finish(srv, conn, req, url, method, true);
    }
    return MHD_YES;
  }
  if(req->pending && !*upload_data_size) {
    /* called again after the timer resumed a delayed response */
    enum MHD_Result ok = MHD_queue_response(conn, req->pending_status,
                                            req->pending);
    MHD_destroy_response(req->pending);
    req->pending = NULL;
    return ok;
  }
  if(*upload_data_size) {
    if(!req->body.err && buf_add(&req->body, upload_data, *upload_data_size))
      buf_free(&req->body); /* body.err keeps why */
    *upload_data_size = 0;
    return MHD_YES;
  }
  return finish(srv, conn, req, url, method, false);
}

void server_completed(void *cls, struct MHD_Connection *conn,
                      void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
  struct request *req = *con_cls;
  (void)cls;
  (void)conn;
  (void)toe;
  if(!req)
    return;
  if(req->pending)
    MHD_destroy_response(req->pending);
  buf_free(&req->body);
  free(req);
  *con_cls = NULL;
}

void server_connection(void *cls, struct MHD_Connection *conn,
                       void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
  struct server *srv = cls;
  (void)conn;
  (void)socket_context;
  store_connection(srv->store, toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}
