/* server: libmicrohttpd glue, routing and fault application for
 * todo-server (see server.h).
 *
 * A pool of epoll threads (one a CPU) serves every connection. A
 * --slow-rate delay suspends its connection and a timer thread resumes it
 * when the delay is over, so it holds up nothing else.
 *
 * A request goes through the access handler in three phases: the first
 * call (headers read) counts it and draws its faults, and may reset the
 * connection or refuse an oversized body at once; body calls collect at
 * most --max-body bytes; the last call builds the reply (and is made once
 * more after a delay, to send it). Faults are applied in a fixed order: outage (judged when the headers arrive),
 * reset, throttle, fail, spurious-401 (the first that fires answers
 * instead of the route), then the route, which may apply missing-field,
 * lag or lose-response, then slow, which delays whatever answer is sent.
 * Only an applied fault is counted.
 *
 * The store holds all shared state; this file holds none besides the
 * daemon and the queue of delayed responses. It never writes stdout. */
#include "server.h"
#include "buf.h"
#include "faults.h"
#include "json.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#define SERVER_MAX_CONNECTIONS 4096
#define SERVER_MAX_THREADS     16
#define SERVER_IDLE_TIMEOUT_S  120
#define SERVER_BACKLOG         1024
#define SERVER_MAX_TOKEN       512 /* bytes of a bearer token we look at */
#define REPLY_MAX              (STORE_MAX_LIST + 4096)

struct request;

struct server {
  const struct todo_config *cfg;
  struct store *store;
  struct MHD_Daemon *daemon;
  /* Delayed (--slow-rate) responses, oldest first: every delay is the
   * same --slow-ms, so the head is always the first due. delay_mu guards
   * the queue and stopping. */
  pthread_mutex_t delay_mu;
  pthread_cond_t delay_cv;
  struct request *delay_head, *delay_tail;
  bool stopping;
  bool timer_running;
  pthread_t timer;
  char url[CONFIG_MAX_HOST + 32];
};

/* One HTTP request, from its headers to its completion callback. */
struct request {
  bool counted;          /* not /_stats: counted, and its faults drawn */
  struct fault_draw draw;
  uint64_t outage_left;  /* ms of --outage left when the headers came */
  struct buf body;       /* body.err BUF_TOO_BIG: over --max-body */
  /* a delayed response: built, waiting in the queue, owned here */
  struct MHD_Response *pending;
  unsigned pending_status;
  struct MHD_Connection *conn;
  uint64_t due_ms;
  struct request *next_delayed;
};

/* What the request is answered with. */
struct reply {
  unsigned status;
  struct buf body;
  const char *allow;      /* the Allow header of a 405 */
  uint64_t retry_after;   /* seconds; sent when has_retry_after */
  bool has_retry_after;
  bool challenge;         /* WWW-Authenticate on a 401 */
  bool replayed;          /* an Idempotency-Key replay */
  bool drop;              /* close the connection instead of answering */
  enum fault_kind fault;  /* the fault this reply shows, if any */
};

static void reply_init(struct reply *rp)
{
  memset(rp, 0, sizeof(*rp));
  buf_init(&rp->body, REPLY_MAX);
  rp->fault = FAULT_NONE;
}

/* Sets status and the body {"error": message}. */
static void reply_error(struct reply *rp, unsigned status, const char *fmt,
                        ...)
{
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  rp->status = status;
  rp->body.len = 0;
  rp->body.err = BUF_OK;
  buf_adds(&rp->body, "{\"error\":");
  buf_add_jstr(&rp->body, msg, strlen(msg));
  buf_add(&rp->body, "}", 1);
}

/* Turns a store failure into its HTTP answer. */
static void reply_store_error(struct reply *rp, enum store_result r,
                              uint64_t id)
{
  switch(r) {
  case STORE_NOT_FOUND:
  case STORE_LAGGING:
    reply_error(rp, 404, "no such item: %llu", (unsigned long long)id);
    break;
  case STORE_FORBIDDEN:
    reply_error(rp, 403, "item %llu belongs to another user",
                (unsigned long long)id);
    break;
  case STORE_FULL:
    reply_error(rp, 507, "the store is full");
    break;
  case STORE_TOO_BIG:
    reply_error(rp, 500, "the answer would be too large");
    break;
  case STORE_BAD_TOKEN:
    reply_error(rp, 401, "invalid token");
    rp->challenge = true;
    break;
  case STORE_EXPIRED:
    reply_error(rp, 401, "token expired");
    rp->challenge = true;
    break;
  case STORE_BAD_LOGIN:
    reply_error(rp, 401, "wrong user or secret");
    break;
  default:
    reply_error(rp, 500, "out of memory");
    break;
  }
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
  return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* Who the Authorization header names; false with rp set to a 401. */
static bool authenticate(struct server *srv, struct MHD_Connection *conn,
                         struct reply *rp, int *user)
{
  const char *v = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
  size_t n = 0;
  if(v && !strncasecmp(v, "Bearer ", 7)) {
    v += 7;
    while(*v == ' ' || *v == '\t')
      v++;
    n = strnlen(v, SERVER_MAX_TOKEN + 1);
    while(n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
      n--;
  }
  if(!n) {
    reply_error(rp, 401, "missing bearer token");
    rp->challenge = true;
    return false;
  }
  enum store_result r = n <= SERVER_MAX_TOKEN ?
                        store_auth(srv->store, v, n, user) : STORE_BAD_TOKEN;
  if(r) {
    reply_store_error(rp, r, 0);
    return false;
  }
  return true;
}

/* Checks a JSON request body: Content-Type, then size. False with rp set
 * to a 415, 413 or 500. */
static bool json_body(struct server *srv, struct MHD_Connection *conn,
                      struct request *req, struct reply *rp)
{
  const char *ct = header(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
  static const char want[] = "application/json";
  if(ct)
    while(*ct == ' ' || *ct == '\t')
      ct++;
  if(!ct || strncasecmp(ct, want, sizeof(want) - 1) ||
     !strchr("; \t", ct[sizeof(want) - 1])) {
    reply_error(rp, 415, "Content-Type must be application/json");
    return false;
  }
  if(req->body.err == BUF_TOO_BIG) {
    reply_error(rp, 413, "body over %zu bytes", srv->cfg->max_body);
    return false;
  }
  if(req->body.err) {
    reply_error(rp, 500, "out of memory");
    return false;
  }
  return true;
}

/* Parses the body into fields; false with rp set to a 400 or 500. */
static bool parse_body(struct request *req, struct json_field *fields,
                       size_t n, struct reply *rp)
{
  char err[128];
  const char *text = req->body.data ? req->body.data : "";
  switch(json_object_fields(text, req->body.len, fields, n, err,
                            sizeof(err))) {
  case JSON_OK:
    return true;
  case JSON_NOT_OBJECT:
    reply_error(rp, 400, "the body must be a JSON object");
    return false;
  case JSON_NOMEM:
    reply_error(rp, 500, "out of memory");
    return false;
  default:
    reply_error(rp, 400, "malformed JSON: %s", err);
    return false;
  }
}

/* Characters (not bytes) in a valid UTF-8 string. */
static size_t utf8_chars(const char *s, size_t n)
{
  size_t chars = 0;
  for(size_t i = 0; i < n; i++)
    chars += ((unsigned char)s[i] & 0xC0) != 0x80;
  return chars;
}

static void route_create(struct server *srv, struct MHD_Connection *conn,
                         struct request *req, struct reply *rp)
{
  struct json_field f[2] = {{.name = "summary"}, {.name = "description"}};
  int user;
  if(!authenticate(srv, conn, rp, &user) || !json_body(srv, conn, req, rp) ||
     !parse_body(req, f, 2, rp))
    return;
  const char *key = header(conn, "Idempotency-Key");
  size_t klen = key ? strlen(key) : 0;
  bool key_ok = klen >= 1 && klen <= STORE_MAX_KEY_LEN;
  for(size_t i = 0; key_ok && i < klen; i++)
    key_ok = key[i] > 0x20 && key[i] < 0x7f;

  if(f[0].kind == JSON_ABSENT)
    reply_error(rp, 400, "summary is required");
  else if(f[0].kind != JSON_STRING)
    reply_error(rp, 400, "summary must be a string");
  else if(f[0].len == 0)
    reply_error(rp, 400, "summary must not be empty");
  else if(utf8_chars(f[0].value, f[0].len) >= 120)
    reply_error(rp, 400, "summary must be under 120 characters");
  else if(memchr(f[0].value, '\n', f[0].len) ||
          memchr(f[0].value, '\r', f[0].len))
    reply_error(rp, 400, "summary must not contain a newline");
  else if(memchr(f[0].value, '\0', f[0].len))
    reply_error(rp, 400, "summary must not contain NUL");
  else if(f[1].kind == JSON_OTHER)
    reply_error(rp, 400, "description must be a string");
  else if(key && !key_ok)
    reply_error(rp, 400, "Idempotency-Key must be 1-%d visible ASCII "
                "characters", STORE_MAX_KEY_LEN);
  else {
    const char *desc = f[1].kind == JSON_STRING ? f[1].value : "";
    enum store_result r =
      store_create(srv->store, user, f[0].value, f[0].len, desc,
                   f[1].kind == JSON_STRING ? f[1].len : 0, key, klen,
                   &rp->replayed, &rp->body);
    if(r)
      reply_store_error(rp, r, 0);
    else {
      rp->status = 201;
      if(!rp->replayed && req->draw.lose_response) {
        rp->drop = true; /* committed, and the answer is lost */
        rp->fault = FAULT_LOSE_RESPONSE;
      }
    }
  }
  json_fields_free(f, 2);
}

static void route_token(struct server *srv, struct MHD_Connection *conn,
                        struct request *req, struct reply *rp)
{
  struct json_field f[2] = {{.name = "user"}, {.name = "secret"}};
  if(!json_body(srv, conn, req, rp) || !parse_body(req, f, 2, rp))
    return;
  if(f[0].kind != JSON_STRING || f[1].kind != JSON_STRING)
    reply_error(rp, 400, "user and secret must be strings");
  else {
    bool omit = req->draw.missing_field;
    enum store_result r = store_login(srv->store, f[0].value, f[0].len,
                                      f[1].value, f[1].len, omit, &rp->body);
    if(r)
      reply_store_error(rp, r, 0);
    else {
      rp->status = 200;
      if(omit)
        rp->fault = FAULT_MISSING_FIELD;
    }
  }
  json_fields_free(f, 2);
}

/* The id in "/items/<seg>": 0 when it is a number no item can have;
 * false when it is not a number at all. */
static bool parse_id(const char *seg, uint64_t *id)
{
  size_t n = strlen(seg);
  if(n == 0)
    return false;
  for(size_t i = 0; i < n; i++)
    if(seg[i] < '0' || seg[i] > '9')
      return false;
  *id = 0;
  if(n > 12)
    return true; /* more than STORE_MAX_ITEMS could ever reach */
  for(size_t i = 0; i < n; i++)
    *id = *id * 10 + (uint64_t)(seg[i] - '0');
  return true;
}

static void route_item(struct server *srv, struct MHD_Connection *conn,
                       struct request *req, struct reply *rp, bool get,
                       const char *seg)
{
  int user;
  uint64_t id;
  if(!authenticate(srv, conn, rp, &user))
    return;
  if(!parse_id(seg, &id)) {
    reply_error(rp, 400, "an item id is a number");
    return;
  }
  bool omit = get && req->draw.missing_field;
  enum store_result r = get ?
    store_get(srv->store, user, id, omit, &rp->body) :
    store_done(srv->store, user, id, &rp->body);
  if(r) {
    reply_store_error(rp, r, id);
    if(r == STORE_LAGGING)
      rp->fault = FAULT_LAG_404;
    return;
  }
  rp->status = 200;
  if(omit)
    rp->fault = FAULT_MISSING_FIELD;
}

static void route_list(struct server *srv, struct MHD_Connection *conn,
                       struct request *req, struct reply *rp)
{
  int user;
  size_t count;
  if(!authenticate(srv, conn, rp, &user))
    return;
  bool omit = req->draw.missing_field;
  enum store_result r = store_list(srv->store, user, omit, &rp->body,
                                   &count);
  if(r) {
    reply_store_error(rp, r, 0);
    return;
  }
  rp->status = 200;
  if(omit && count)
    rp->fault = FAULT_MISSING_FIELD;
}

/* Any method on /_echo: 200 with {"method": ..., "content_type": ...,
 * "body": ...}, the request's as they came (the body's bytes copied into a
 * JSON string as they are), so a spec can see what a client sent. No
 * authentication. */
static void route_echo(struct MHD_Connection *conn, struct request *req,
                       struct reply *rp, const char *method)
{
  const char *ct = header(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
  if(req->body.err) {
    reply_error(rp, req->body.err == BUF_TOO_BIG ? 413 : 500,
                req->body.err == BUF_TOO_BIG ? "body too large"
                                             : "out of memory");
    return;
  }
  rp->status = 200;
  buf_adds(&rp->body, "{\"method\":");
  buf_add_jstr(&rp->body, method, strlen(method));
  buf_adds(&rp->body, ",\"content_type\":");
  if(ct)
    buf_add_jstr(&rp->body, ct, strlen(ct));
  else
    buf_adds(&rp->body, "null");
  buf_adds(&rp->body, ",\"body\":");
  buf_add_jstr(&rp->body, req->body.data ? req->body.data : "",
               req->body.len);
  buf_adds(&rp->body, "}");
}

static void route(struct server *srv, struct MHD_Connection *conn,
                  struct request *req, struct reply *rp, const char *url,
                  const char *method)
{
  bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  bool post = !strcmp(method, "POST");
  bool del = !strcmp(method, "DELETE");

  if(!strcmp(url, "/items")) {
    if(get)
      route_list(srv, conn, req, rp);
    else if(post)
      route_create(srv, conn, req, rp);
    else {
      reply_error(rp, 405, "method %s not allowed on /items", method);
      rp->allow = "GET, HEAD, POST";
    }
  }
  else if(!strncmp(url, "/items/", 7) && url[7] && !strchr(url + 7, '/')) {
    if(get || del)
      route_item(srv, conn, req, rp, get, url + 7);
    else {
      reply_error(rp, 405, "method %s not allowed on /items/<id>", method);
      rp->allow = "GET, HEAD, DELETE";
    }
  }
  else if(!strcmp(url, "/token")) {
    if(post)
      route_token(srv, conn, req, rp);
    else {
      reply_error(rp, 405, "method %s not allowed on /token", method);
      rp->allow = "POST";
    }
  }
  else if(!strcmp(url, "/_echo"))
    route_echo(conn, req, rp, method);
  else
    reply_error(rp, 404, "no such path");
}

static void route_stats(struct server *srv, struct reply *rp,
                        const char *method)
{
  bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  if(get || !strcmp(method, "DELETE")) {
    enum store_result r = store_stats(srv->store, !get, &rp->body);
    if(r)
      reply_store_error(rp, r, 0);
    else
      rp->status = 200;
  }
  else {
    reply_error(rp, 405, "method %s not allowed on /_stats", method);
    rp->allow = "GET, HEAD, DELETE";
  }
}

/* CLOCK_MONOTONIC ms milliseconds from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(uint64_t ms)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_sec += (time_t)(ms / 1000);
  t.tv_nsec += (long)(ms % 1000) * 1000000L;
  if(t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

/* Suspends conn for --slow-ms and queues req for the timer; the access
 * handler is called again once the timer resumes it. False (answer now)
 * when the server is stopping. Call only from the access handler. */
static bool server_delay(struct server *srv, struct request *req,
                         struct MHD_Connection *conn)
{
  pthread_mutex_lock(&srv->delay_mu);
  bool queued = !srv->stopping && srv->timer_running;
  if(queued) {
    /* suspended before the timer can see it, so never resumed first */
    MHD_suspend_connection(conn);
    req->conn = conn;
    req->due_ms = store_now_ms(srv->store) + srv->cfg->slow_ms;
    req->next_delayed = NULL;
    if(srv->delay_tail)
      srv->delay_tail->next_delayed = req;
    else
      srv->delay_head = req;
    srv->delay_tail = req;
    pthread_cond_signal(&srv->delay_cv);
  }
  pthread_mutex_unlock(&srv->delay_mu);
  return queued;
}

/* The timer thread: resumes each delayed connection when it is due, and
 * every one at once when the server stops; returns when stopping and the
 * queue is empty. */
static void *server_timer(void *arg)
{
  struct server *srv = arg;
  pthread_mutex_lock(&srv->delay_mu);
  for(;;) {
    struct request *req = srv->delay_head;
    if(!req) {
      if(srv->stopping)
        break;
      pthread_cond_wait(&srv->delay_cv, &srv->delay_mu);
      continue;
    }
    uint64_t now = store_now_ms(srv->store);
    if(!srv->stopping && req->due_ms > now) {
      struct timespec until = deadline_in(req->due_ms - now);
      pthread_cond_timedwait(&srv->delay_cv, &srv->delay_mu, &until);
      continue;
    }
    srv->delay_head = req->next_delayed;
    if(!srv->delay_head)
      srv->delay_tail = NULL;
    /* once resumed, req may be answered and freed at any moment */
    struct MHD_Connection *conn = req->conn;
    pthread_mutex_unlock(&srv->delay_mu);
    MHD_resume_connection(conn);
    pthread_mutex_lock(&srv->delay_mu);
  }
  pthread_mutex_unlock(&srv->delay_mu);
  return NULL;
}

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

  if(!req->counted)
    route_stats(srv, &rp, method);
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
  if(ok && rp.challenge)
    ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                 "Bearer");
  if(ok && rp.replayed)
    ok = MHD_add_response_header(resp, "Idempotent-Replayed", "true");
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

static enum MHD_Result server_access(void *cls, struct MHD_Connection *conn,
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
    if(strcmp(url, "/_stats")) {
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

static void server_completed(void *cls, struct MHD_Connection *conn,
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

static void server_connection(void *cls, struct MHD_Connection *conn,
                              void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
  struct server *srv = cls;
  (void)conn;
  (void)socket_context;
  store_connection(srv->store, toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

/* Binds and listens on cfg's address; fills srv->url. */
static enum server_result server_listen(struct server *srv, int *fd_out,
                                        bool *ipv6, char *err, size_t errlen)
{
  const struct todo_config *cfg = srv->cfg;
  struct addrinfo hints = {
    .ai_family = AF_UNSPEC,
    .ai_socktype = SOCK_STREAM,
    .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
  };
  struct addrinfo *res = NULL, *ai;
  char port[8];
  int fd = -1;
  enum server_result result = SERVER_BIND;
  snprintf(port, sizeof(port), "%u", cfg->port);
  int gai = getaddrinfo(cfg->host, port, &hints, &res);
  if(gai) {
    snprintf(err, errlen, "cannot resolve %s: %s", cfg->host,
             gai_strerror(gai));
    goto out;
  }
  snprintf(err, errlen, "no address for %s", cfg->host);
  for(ai = res; ai; ai = ai->ai_next) {
    int one = 1;
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                ai->ai_protocol);
    if(fd < 0)
      continue;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if(!bind(fd, ai->ai_addr, ai->ai_addrlen) &&
       !listen(fd, SERVER_BACKLOG))
      break;
    snprintf(err, errlen, "cannot listen on %s:%s: %s", cfg->host, port,
             strerror(errno));
    close(fd);
    fd = -1;
  }
  if(fd < 0)
    goto out;

  struct sockaddr_storage ss;
  socklen_t sslen = sizeof(ss);
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if(getsockname(fd, (struct sockaddr *)&ss, &sslen) ||
     getnameinfo((struct sockaddr *)&ss, sslen, host, sizeof(host), serv,
                 sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV)) {
    snprintf(err, errlen, "cannot read the bound address: %s",
             strerror(errno));
    close(fd);
    fd = -1;
    goto out;
  }
  *ipv6 = ss.ss_family == AF_INET6;
  snprintf(srv->url, sizeof(srv->url), *ipv6 ? "http://[%s]:%s" :
           "http://%s:%s", host, serv);
  err[0] = '\0';
  result = SERVER_OK;
out:
  if(res)
    freeaddrinfo(res);
  *fd_out = fd;
  return result;
}

/* As many connections as the descriptor limit allows, raised if it can be,
 * and never more than SERVER_MAX_CONNECTIONS. */
static unsigned server_connection_limit(void)
{
  struct rlimit rl;
  if(getrlimit(RLIMIT_NOFILE, &rl))
    return 256;
  if(rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2 * SERVER_MAX_CONNECTIONS &&
     (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur)) {
    rlim_t want = 2 * SERVER_MAX_CONNECTIONS;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ?
                  want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if(rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > SERVER_MAX_CONNECTIONS + 64)
    return SERVER_MAX_CONNECTIONS;
  return rl.rlim_cur > 96 ? (unsigned)rl.rlim_cur - 64 : 32;
}

/* Threads for the pool: one a CPU, at least 2, at most
 * SERVER_MAX_THREADS. */
static unsigned server_threads(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if(n < 2)
    return 2;
  return n > SERVER_MAX_THREADS ? SERVER_MAX_THREADS : (unsigned)n;
}

/* Stops and joins the timer thread, which first resumes every delayed
 * connection. */
static void server_stop_timer(struct server *srv)
{
  pthread_mutex_lock(&srv->delay_mu);
  srv->stopping = true;
  pthread_cond_broadcast(&srv->delay_cv);
  bool running = srv->timer_running;
  srv->timer_running = false;
  pthread_mutex_unlock(&srv->delay_mu);
  if(running)
    pthread_join(srv->timer, NULL);
}

enum server_result server_start(const struct todo_config *cfg,
                                struct server **out, char *err,
                                size_t errlen)
{
  enum server_result result = SERVER_NOMEM;
  int fd = -1;
  bool ipv6 = false, mu = false, cv = false;
  pthread_condattr_t attr;
  struct server *srv = calloc(1, sizeof(*srv));
  *out = NULL;
  snprintf(err, errlen, "out of memory");
  if(!srv)
    return SERVER_NOMEM;
  srv->cfg = cfg;

  uint64_t salt = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  int rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if(rfd >= 0) {
    uint64_t r;
    if(read(rfd, &r, sizeof(r)) == (ssize_t)sizeof(r))
      salt ^= r;
    close(rfd);
  }
  srv->store = store_new(cfg, salt);
  if(!srv->store)
    goto fail;
  if(pthread_mutex_init(&srv->delay_mu, NULL))
    goto fail;
  mu = true;
  if(pthread_condattr_init(&attr))
    goto fail;
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  cv = !pthread_cond_init(&srv->delay_cv, &attr);
  pthread_condattr_destroy(&attr);
  if(!cv)
    goto fail;
  if(pthread_create(&srv->timer, NULL, server_timer, srv)) {
    snprintf(err, errlen, "cannot start a thread");
    goto fail;
  }
  srv->timer_running = true;

  result = server_listen(srv, &fd, &ipv6, err, errlen);
  if(result)
    goto fail;

  unsigned flags = MHD_ALLOW_SUSPEND_RESUME |
                   (MHD_is_feature_supported(MHD_FEATURE_EPOLL) ?
                    MHD_USE_EPOLL_INTERNAL_THREAD :
                    MHD_USE_POLL_INTERNAL_THREAD);
  if(ipv6)
    flags |= MHD_USE_IPv6;
  if(cfg->log)
    flags |= MHD_USE_ERROR_LOG;
  srv->daemon = MHD_start_daemon(
    flags, 0, NULL, NULL, server_access, srv,
    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
    MHD_OPTION_THREAD_POOL_SIZE, server_threads(),
    MHD_OPTION_NOTIFY_COMPLETED, server_completed, srv,
    MHD_OPTION_NOTIFY_CONNECTION, server_connection, srv,
    MHD_OPTION_CONNECTION_LIMIT, server_connection_limit(),
    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVER_IDLE_TIMEOUT_S,
    MHD_OPTION_END);
  if(!srv->daemon) {
    result = SERVER_MHD;
    snprintf(err, errlen, "libmicrohttpd would not start on %s", srv->url);
    goto fail;
  }
  *out = srv;
  return SERVER_OK;

fail:
  if(fd >= 0)
    close(fd);
  if(cv) {
    server_stop_timer(srv);
    pthread_cond_destroy(&srv->delay_cv);
  }
  if(mu)
    pthread_mutex_destroy(&srv->delay_mu);
  store_free(srv->store);
  free(srv);
  return result;
}

const char *server_url(const struct server *srv)
{
  return srv->url;
}

void server_stop(struct server *srv)
{
  if(!srv)
    return;
  /* No connection may stay suspended into MHD_stop_daemon(): the timer
   * resumes them all, and after it no new delay is taken. */
  server_stop_timer(srv);
  MHD_stop_daemon(srv->daemon); /* joins every thread, closes the socket */
  pthread_cond_destroy(&srv->delay_cv);
  pthread_mutex_destroy(&srv->delay_mu);
  store_free(srv->store);
  free(srv);
}
