/* routes_diag: the paths that are for specs and operators, not for
 * clients of the API: /_echo (what arrived, as JSON) and /_cookie (a
 * cookie set, the cookies sent), counted and faulted like any API path;
 * /_redirect (a redirect to ?to=) and /_stats (the
 * store's counters; DELETE resets them), the last two never counted nor
 * faulted. Uses the store and reply; never touches the daemon, the delay
 * queue, threads or stdout. */
#include "server_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Appends one "name": "value" member to the object in b, with a comma
 * after the first. For MHD_get_connection_values. */
struct echo_members {
  struct buf *b;
  size_t n;
};

static enum MHD_Result echo_member(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
  struct echo_members *m = cls;
  (void)kind;
  if(m->n++)
    buf_add(m->b, ",", 1);
  buf_add_jstr(m->b, key, strlen(key));
  buf_add(m->b, ":", 1);
  if(value)
    buf_add_jstr(m->b, value, strlen(value));
  else
    buf_adds(m->b, "null");
  return MHD_YES;
}

/* Any method on /_echo: 200 with what arrived, as
 * {"method":, "headers": {name: value}, "query": {name: value}, "body":}.
 * For checking what a client put on the wire. */
void route_echo(struct MHD_Connection *conn, struct request *req,
                struct reply *rp, const char *method)
{
  struct echo_members m = {&rp->body, 0};
  rp->status = 200;
  buf_adds(&rp->body, "{\"method\":");
  buf_add_jstr(&rp->body, method, strlen(method));
  buf_adds(&rp->body, ",\"headers\":{");
  MHD_get_connection_values(conn, MHD_HEADER_KIND, echo_member, &m);
  buf_adds(&rp->body, "},\"query\":{");
  m.n = 0;
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, echo_member, &m);
  buf_adds(&rp->body, "},\"body\":");
  buf_add_jstr(&rp->body, req->body.data ? req->body.data : "",
               req->body.len);
  buf_adds(&rp->body, "}");
}

/* Any method on /_redirect?to=URL[&status=N]: a redirect (302 unless
 * status names 301, 302, 303, 307 or 308) to URL. */
void route_redirect(struct MHD_Connection *conn, struct reply *rp)
{
  const char *to = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                               "to");
  const char *st = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                               "status");
  unsigned status = st ? (unsigned)strtoul(st, NULL, 10) : 302;
  if(!to || !*to || strpbrk(to, "\r\n")) {
    reply_error(rp, 400, "/_redirect needs ?to=URL");
    return;
  }
  if(status != 301 && status != 302 && status != 303 && status != 307 &&
     status != 308)
    status = 302;
  reply_error(rp, status, "redirected");
  rp->location = to;
}

/* Any method on /_cookie[?set=NAME=VALUE]: 200 with {"cookie": the Cookie
 * header that arrived, or null}, and with ?set= a Set-Cookie of
 * NAME=VALUE (its default path, "/", covers the host). For checking a client's cookie
 * engine. */
void route_cookie(struct MHD_Connection *conn, struct reply *rp)
{
  const char *set = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                                "set");
  const char *got = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_COOKIE);
  if(set && (!strchr(set, '=') || strpbrk(set, "\r\n;") ||
             strlen(set) > 200)) {
    reply_error(rp, 400, "/_cookie?set= takes NAME=VALUE");
    return;
  }
  rp->status = 200;
  rp->set_cookie = set;
  buf_adds(&rp->body, "{\"cookie\":");
  if(got)
    buf_add_jstr(&rp->body, got, strlen(got));
  else
    buf_adds(&rp->body, "null");
  buf_adds(&rp->body, "}");
}

void route_stats(struct server *srv, struct reply *rp, const char *method)
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
