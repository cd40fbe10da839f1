/* routes_diag: the paths that are for specs and operators, not for
 * clients of the API: /_echo (what arrived, as JSON), /_headers (a
 * response with the headers the query names, repeated ones apart),
 * /_gzip (/_echo's answer gzip-encoded) and /_cookie (a cookie set, the
 * cookies sent), each counted and faulted like
 * any API path; /_redirect (a redirect to ?to=) and /_stats (the store's
 * counters; DELETE resets them), never counted nor faulted. Uses the
 * store, reply and zlib; never touches the daemon, the delay queue,
 * threads or stdout. */
#include "server_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

/* Bytes /_gzip may pad its answer with (?pad=N). */
#define GZIP_MAX_PAD (4u * 1024 * 1024)

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

/* Writes /_echo's object into out, but its closing brace. */
static void echo_open(struct MHD_Connection *conn, struct request *req,
                      struct buf *out, const char *method)
{
  struct echo_members m = {out, 0};
  buf_adds(out, "{\"method\":");
  buf_add_jstr(out, method, strlen(method));
  buf_adds(out, ",\"headers\":{");
  MHD_get_connection_values(conn, MHD_HEADER_KIND, echo_member, &m);
  buf_adds(out, "},\"query\":{");
  m.n = 0;
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, echo_member, &m);
  buf_adds(out, "},\"body\":");
  buf_add_jstr(out, req->body.data ? req->body.data : "", req->body.len);
}

/* Any method on /_echo: 200 with what arrived, as
 * {"method":, "headers": {name: value}, "query": {name: value}, "body":}.
 * For checking what a client put on the wire. */
void route_echo(struct MHD_Connection *conn, struct request *req,
                struct reply *rp, const char *method)
{
  rp->status = 200;
  echo_open(conn, req, &rp->body, method);
  buf_adds(&rp->body, "}");
}

/* Any method on /_gzip[?pad=N]: /_echo's answer with a "pad" member of N
 * (at most GZIP_MAX_PAD) 'x's added, gzip-encoded, with Content-Encoding:
 * gzip whatever the request's Accept-Encoding said: for checking how a
 * client decodes a body, and caps the decoded body. */
void route_gzip(struct MHD_Connection *conn, struct request *req,
                struct reply *rp, const char *method)
{
  const char *pad_arg = MHD_lookup_connection_value(conn,
                                                    MHD_GET_ARGUMENT_KIND,
                                                    "pad");
  unsigned long pad = 0;
  struct buf plain;
  z_stream z;
  uLong room;
  char *out, xs[64];

  if(pad_arg) {
    char *end;
    pad = strtoul(pad_arg, &end, 10);
    if(!*pad_arg || *end || pad > GZIP_MAX_PAD) {
      reply_error(rp, 400, "/_gzip?pad= takes 0 to %u bytes", GZIP_MAX_PAD);
      return;
    }
  }
  buf_init(&plain, REPLY_MAX);
  echo_open(conn, req, &plain, method);
  buf_adds(&plain, ",\"pad\":\"");
  memset(xs, 'x', sizeof(xs));
  for(unsigned long i = 0; i < pad && !plain.err; i += sizeof(xs))
    buf_add(&plain, xs, pad - i < sizeof(xs) ? pad - i : sizeof(xs));
  buf_adds(&plain, "\"}");
  memset(&z, 0, sizeof(z));
  if(plain.err || deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                               15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    buf_free(&plain);
    reply_error(rp, 500, "out of memory");
    return;
  }
  room = deflateBound(&z, (uLong)plain.len);
  out = malloc(room);
  z.next_in = (Bytef *)plain.data;
  z.avail_in = (uInt)plain.len;
  z.next_out = (Bytef *)out;
  z.avail_out = (uInt)room;
  if(out && deflate(&z, Z_FINISH) == Z_STREAM_END &&
     buf_add(&rp->body, out, room - z.avail_out) == BUF_OK) {
    rp->status = 200;
    rp->header_name[rp->nheaders] = "Content-Encoding";
    rp->header_value[rp->nheaders++] = "gzip";
  }
  else
    reply_error(rp, 500, "out of memory");
  deflateEnd(&z);
  free(out);
  buf_free(&plain);
}

/* 1 when s is a header name: letters, digits and '-', 1 to 64 of them. */
static bool header_name_ok(const char *s)
{
  size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789-");
  return n > 0 && n <= 64 && !s[n];
}

/* 1 when s is a header value: 1 to 1024 printable bytes, spaces and tabs
 * (bytes >= 0x80 too), no CR, LF or other control character. */
static bool header_value_ok(const char *s)
{
  size_t n = 0;
  for(; s[n]; n++)
    if(((unsigned char)s[n] < 0x20 && s[n] != '\t') || s[n] == 0x7f)
      return false;
  return n > 0 && n <= 1024;
}

/* Collects /_headers' query pairs into the reply, checking each. */
struct header_pairs {
  struct reply *rp;
  const char *bad;        /* why the first bad pair is refused, or NULL */
};

static enum MHD_Result header_pair(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
  static const char *const theirs[] = {"Content-Length", "Content-Type",
                                       "Transfer-Encoding", "Connection",
                                       NULL};
  struct header_pairs *h = cls;
  (void)kind;
  if(!header_name_ok(key))
    h->bad = "a name must be 1 to 64 letters, digits and '-'";
  else if(!value || !header_value_ok(value))
    h->bad = "a value must be 1 to 1024 bytes without control characters";
  else if(h->rp->nheaders == REPLY_MAX_HEADERS)
    h->bad = "at most 16 headers";
  for(int i = 0; !h->bad && theirs[i]; i++)
    if(!strcasecmp(key, theirs[i]))
      h->bad = "Content-Length, Content-Type, Transfer-Encoding and "
               "Connection are the server's";
  if(h->bad)
    return MHD_NO;
  h->rp->header_name[h->rp->nheaders] = key;
  h->rp->header_value[h->rp->nheaders++] = value;
  return MHD_YES;
}

/* Any method on /_headers?NAME=VALUE&...: 200 with each pair as a
 * response header, in the order given, a repeated name sent once for
 * each value (Set-Cookie twice is two lines); the body is
 * {"headers": N}. A bad pair is a 400 that says why. */
void route_headers(struct MHD_Connection *conn, struct reply *rp)
{
  struct header_pairs h = {rp, NULL};
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, header_pair, &h);
  if(h.bad) {
    rp->nheaders = 0;
    reply_error(rp, 400, "/_headers: %s", h.bad);
    return;
  }
  rp->status = 200;
  buf_adds(&rp->body, "{\"headers\":");
  buf_addu(&rp->body, rp->nheaders);
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
