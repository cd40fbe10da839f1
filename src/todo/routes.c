/* routes: todo-server's API, one function a path: POST /items creates an
 * item, GET /items lists the caller's open ones, GET, PUT and DELETE
 * /items/<id> read one, replace its text and mark it done, POST /token
 * logs in. Each checks
 * the bearer token and the JSON body, asks the store and fills the reply,
 * applying the faults a route decides (missing-field, lag-404,
 * lose-response). Uses the store, json and reply; never touches the
 * daemon, the delay queue, threads or stdout. */
#include "server_internal.h"
#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SERVER_MAX_TOKEN       512 /* bytes of a bearer token we look at */

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

/* Checks an item's summary and description (f[0], f[1]) as POST and PUT
 * take them; false with rp set to a 400. */
static bool item_fields(const struct json_field *f, struct reply *rp)
{
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
  else
    return true;
  return false;
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

  if(!item_fields(f, rp))
    ;
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

/* The caller and the item of /items/<id>: false, with the reply made,
 * when the token or the id is bad. */
static bool item_target(struct server *srv, struct MHD_Connection *conn,
                        struct reply *rp, const char *seg, int *user,
                        uint64_t *id)
{
  if(!authenticate(srv, conn, rp, user))
    return false;
  if(!parse_id(seg, id)) {
    reply_error(rp, 400, "an item id is a number");
    return false;
  }
  return true;
}

static void route_item(struct server *srv, struct MHD_Connection *conn,
                       struct request *req, struct reply *rp, bool get,
                       const char *seg)
{
  int user;
  uint64_t id;
  if(!item_target(srv, conn, rp, seg, &user, &id))
    return;
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

/* PUT /items/<id>: a new summary and description (absent: ""), as
 * POST /items takes them; 200 with the item. */
static void route_update(struct server *srv, struct MHD_Connection *conn,
                         struct request *req, struct reply *rp,
                         const char *seg)
{
  struct json_field f[2] = {{.name = "summary"}, {.name = "description"}};
  int user;
  uint64_t id;
  if(!item_target(srv, conn, rp, seg, &user, &id))
    return;
  if(!json_body(srv, conn, req, rp) || !parse_body(req, f, 2, rp))
    return;
  if(item_fields(f, rp)) {
    bool desc = f[1].kind == JSON_STRING;
    enum store_result r = store_update(srv->store, user, id, f[0].value,
                                       f[0].len, desc ? f[1].value : "",
                                       desc ? f[1].len : 0, &rp->body);
    if(r)
      reply_store_error(rp, r, id);
    else
      rp->status = 200;
  }
  json_fields_free(f, 2);
}

/* The whole number in query parameter name, from 1 to max: dflt when it
 * is absent; false with rp set to a 400 when it is anything else. */
static bool query_number(struct MHD_Connection *conn, const char *name,
                         uint64_t dflt, uint64_t max, uint64_t *v,
                         struct reply *rp)
{
  const char *s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                              name);
  *v = dflt;
  if(!s)
    return true;
  *v = 0;
  for(const char *p = s; *p >= '0' && *p <= '9' && *v <= max; p++)
    *v = *v * 10 + (uint64_t)(*p - '0');
  if(!*s || s[strspn(s, "0123456789")] || *v < 1 || *v > max) {
    reply_error(rp, 400, "%s must be a whole number from 1 to %llu", name,
                (unsigned long long)max);
    return false;
  }
  return true;
}

/* Writes the Link header of page (of last, per items a page) into rp:
 * first and last always, prev and next where there are such pages; the
 * targets are relative, resolved against the request's URL. */
static void page_links(struct reply *rp, uint64_t page, uint64_t last,
                       uint64_t per)
{
  static const char *const rels[] = {"first", "prev", "next", "last"};
  uint64_t to[4] = {1, page - 1, page + 1, last};
  size_t o = 0;
  for(int i = 0; i < 4; i++) {
    if((i == 1 && page == 1) || (i == 2 && page >= last))
      continue;
    o += (size_t)snprintf(rp->link + o, sizeof(rp->link) - o,
                          "%s</items?page=%llu&per_page=%llu>; rel=\"%s\"",
                          o ? ", " : "", (unsigned long long)to[i],
                          (unsigned long long)per, rels[i]);
  }
}

/* GET /items: every open item, or with ?page=N&per_page=M (either one
 * makes it paged; per_page 20 and page 1 by default) that page of them
 * and a Link header to the others. */
static void route_list(struct server *srv, struct MHD_Connection *conn,
                       struct request *req, struct reply *rp)
{
  int user;
  size_t count, total;
  uint64_t page, per;
  bool paged = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                           "page") ||
               MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                           "per_page");
  if(!authenticate(srv, conn, rp, &user) ||
     !query_number(conn, "page", 1, 1000000000, &page, rp) ||
     !query_number(conn, "per_page", 20, 1000, &per, rp))
    return;
  bool omit = req->draw.missing_field;
  enum store_result r = store_list(srv->store, user, omit,
                                   paged ? (size_t)((page - 1) * per) : 0,
                                   paged ? (size_t)per : SIZE_MAX,
                                   &rp->body, &count, &total);
  if(r) {
    reply_store_error(rp, r, 0);
    return;
  }
  rp->status = 200;
  if(paged)
    page_links(rp, page, total ? (total + per - 1) / per : 1, per);
  if(omit && count)
    rp->fault = FAULT_MISSING_FIELD;
}

void route(struct server *srv, struct MHD_Connection *conn,
           struct request *req, struct reply *rp, const char *url,
           const char *method)
{
  bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  bool post = !strcmp(method, "POST");
  bool del = !strcmp(method, "DELETE");

  if(!strcmp(url, "/_echo"))
    route_echo(conn, req, rp, method);
  else if(!strcmp(url, "/_gzip"))
    route_gzip(conn, req, rp, method);
  else if(!strcmp(url, "/_headers"))
    route_headers(conn, rp);
  else if(!strcmp(url, "/_cookie"))
    route_cookie(conn, rp);
  else if(!strcmp(url, "/items")) {
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
    else if(!strcmp(method, "PUT"))
      route_update(srv, conn, req, rp, url + 7);
    else {
      reply_error(rp, 405, "method %s not allowed on /items/<id>", method);
      rp->allow = "GET, HEAD, PUT, DELETE";
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
  else
    reply_error(rp, 404, "no such path");
}
