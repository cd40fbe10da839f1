/*
 * redact_text.c - a text with its secrets hidden (redact_text, redact.h),
 * in two passes: the request's known secret values first, as written or
 * escaped; then every URL in what is left, found wherever it is: in prose,
 * in another URL's path or parameter (a redirect target, a callback), or
 * escaped ("?next=http%3A%2F%2Fu%3Apw%40h", JSON's "http:\/\/u:pw@h").
 *
 * The URL pass finds the byte ranges to hide first and writes the text
 * once after, so that a range found in a decoded copy of the text is
 * hidden in the text escape for escape.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "redact.h"
#include "redact_internal.h"

/* The byte ranges of a text to show as REDACTED, as offsets into buf. */
struct scan {
  const char *buf;
  size_t (*r)[2];
  size_t n, cap;
  int oom;
};

static void hide(struct scan *sc, const char *from, const char *to)
{
  if(sc->n == sc->cap) {
    size_t cap = sc->cap ? sc->cap * 2 : 16;
    size_t (*r)[2] = realloc(sc->r, cap * sizeof(*r));
    if(!r) {
      sc->oom = 1;
      return;
    }
    sc->r = r;
    sc->cap = cap;
  }
  sc->r[sc->n][0] = (size_t)(from - sc->buf);
  sc->r[sc->n][1] = (size_t)(to - sc->buf);
  sc->n++;
}

static void scan_nested(struct scan *sc, const char *p, const char *end,
                        int depth);

struct pairs {
  struct scan *sc;
  int depth;
};

/* A secret pair's value is hidden; any other's is searched for a URL of
 * its own. */
static void hide_pair(void *ud, const char *name, const char *eq,
                      const char *end, int secret)
{
  struct pairs *w = ud;
  if(secret)
    hide(w->sc, eq + 1, end);
  else
    scan_nested(w->sc, eq ? eq + 1 : name, end, w->depth + 1);
}

/* How deep URLs nest in URLs (a redirect target in a query, an archived
 * URL in a path), and how many times a text is decoded, before what is
 * left is hidden whole: deeper than any real URL goes, shallow enough to
 * bound the work on any text. */
#define MAX_NEST 32
#define MAX_DECODE 8

static int url_char(unsigned char c)
{
  return c > ' ' && c != 0x7f && !strchr("\"'<>`", c);
}

static int scheme_char(unsigned char c)
{
  return isalnum(c) || c == '+' || c == '-' || c == '.';
}

static const char *find_sep(const char *p, const char *end)
{
  for(; p + 2 < end; p++)
    if(p[0] == ':' && p[1] == '/' && p[2] == '/')
      return p;
  return NULL;
}

/* Hides the secrets of the URL whose scheme ends at scheme_end, up to end:
 * its user:password@, its secret parameters' values, and those of the
 * URLs in its path and other parameters' values. */
static void scan_url(struct scan *sc, const char *end,
                     const char *scheme_end, int depth)
{
  const char *host = scheme_end + 3, *p;
  const char *at = redact_userinfo_end(host, end, 0);
  struct pairs w;
  w.sc = sc;
  w.depth = depth;
  if(at) {
    hide(sc, host, at);
    host = at + 1;
  }
  for(p = host; p < end && !strchr("/?#", *p); p++)
    ;
  host = p;                               /* now the path */
  while(p < end && *p != '?' && *p != '#')
    p++;
  scan_nested(sc, host, p, depth + 1);
  if(p < end && *p == '?')
    p = redact_pairs(p + 1, end, QUERY_SEPS, 1, hide_pair, &w);
  if(p < end && *p == '#')
    redact_pairs(p + 1, end, FRAGMENT_SEPS, 0, hide_pair, &w);
}

/* Where a URL starting at s and ending at end ends, without the sentence
 * punctuation after it and the ')' closing a '(' before it; not before
 * min. */
static const char *url_end(const char *s, const char *min, const char *end)
{
  const char *e;
  for(e = end; e > min && strchr(".,;:", e[-1]); e--)
    ;
  if(e > min && e[-1] == ')' && !memchr(s, '(', (size_t)(e - s)))
    e--;
  return e;
}

/* Hides the secrets of a reference with no scheme in p..end, one a
 * Location header may hold: a network-path one ("//u:pw@h/?token=t"),
 * a path ("/cb?token=t"), a query or a fragment alone. No URL is in it
 * (scan_nested looked), so only its pairs' values are searched. */
static void scan_relative(struct scan *sc, const char *p, const char *end,
                          int depth)
{
  struct pairs w;
  w.sc = sc;
  w.depth = depth;
  if(p == end || !strchr("/?#", *p))
    return;
  end = url_end(p, p + 1, end);
  if(end - p > 2 && p[1] == '/' && p[0] == '/') {
    const char *at = redact_userinfo_end(p + 2, end, 0);
    if(at)
      hide(sc, p + 2, at);
  }
  while(p < end && *p != '?' && *p != '#')
    p++;
  if(p < end && *p == '?')
    p = redact_pairs(p + 1, end, QUERY_SEPS, 1, hide_pair, &w);
  if(p < end && *p == '#')
    redact_pairs(p + 1, end, FRAGMENT_SEPS, 0, hide_pair, &w);
}

/* Hides the secrets of the URL in p..end (a run of URL characters, or a
 * part of a URL), if there is one: from its first "scheme://" to end;
 * or of the reference without a scheme that p..end is. */
static void scan_nested(struct scan *sc, const char *p, const char *end,
                        int depth)
{
  const char *c = find_sep(p, end), *s;
  if(!c) {
    if(depth <= MAX_NEST)
      scan_relative(sc, p, end, depth);
    return;
  }
  if(depth > MAX_NEST) {
    hide(sc, p, end);
    return;
  }
  for(s = c; s > p && scheme_char((unsigned char)s[-1]); s--)
    ;
  scan_url(sc, url_end(s, c + 3, end), c, depth);
}

/* 1 when p[i..] (n bytes in all) is an escape scan_decoded() reads, a
 * %XX or JSON's "\/" or "\u0026"; its byte into *c, its length into
 * *len. */
static int escape(const char *p, size_t i, size_t n, char *c, size_t *len)
{
  unsigned char b;
  if(redact_percent(p, i, n, &b)) {
    *c = (char)b;
    *len = 3;
    return 1;
  }
  if(redact_json_u(p, i, n, &b)) {
    *c = (char)b;
    *len = 6;
    return 1;
  }
  if(p[i] == '\\' && i + 1 < n && p[i + 1] == '/') {
    *c = '/';
    *len = 2;
    return 1;
  }
  return 0;
}

static int has_escape(const char *p, const char *end)
{
  size_t i, n = (size_t)(end - p), len;
  char c;
  for(i = 0; i < n; i++)
    if(escape(p, i, n, &c, &len))
      return 1;
  return 0;
}

static void scan_text(struct scan *sc, const char *p, const char *end,
                      int level);

/* A URL may come encoded, whole or in part ("?next=http%3A%2F%2Fu%3Apw%40h",
 * "http:\/\/u:pw@h"): p..end is read once decoded, and what is hidden
 * there is hidden in p..end, escape for escape. */
static void scan_decoded(struct scan *sc, const char *p, const char *end,
                         int level)
{
  size_t n = (size_t)(end - p), i, k = 0, *map;
  struct scan in = {NULL, NULL, 0, 0, 0};
  char *d;
  if(level >= MAX_DECODE) {
    hide(sc, p, end);            /* escapes in escapes: shown nowhere */
    return;
  }
  d = malloc(n + 1);
  map = malloc((n + 1) * sizeof(*map));
  if(!d || !map) {
    free(d);
    free(map);
    sc->oom = 1;
    return;
  }
  for(i = 0; i < n; k++) {
    size_t len = 1;
    map[k] = i;
    if(!escape(p, i, n, &d[k], &len))
      d[k] = p[i];
    i += len;
  }
  map[k] = n;
  in.buf = d;
  scan_text(&in, d, d + k, level + 1);
  for(i = 0; i < in.n; i++)
    hide(sc, p + map[in.r[i][0]], p + map[in.r[i][1]]);
  sc->oom |= in.oom;
  free(in.r);
  free(map);
  free(d);
}

/* Every URL in p..end: each run of URL characters, as it is and, when it
 * has escapes, decoded. */
static void scan_text(struct scan *sc, const char *p, const char *end,
                      int level)
{
  while(p < end) {
    const char *run;
    if(!url_char((unsigned char)*p)) {
      p++;
      continue;
    }
    for(run = p; p < end && url_char((unsigned char)*p); p++)
      ;
    scan_nested(sc, run, p, 0);
    if(has_escape(run, p))
      scan_decoded(sc, run, p, level);
  }
}

static int by_start(const void *a, const void *b)
{
  const size_t *x = a, *y = b;
  if(x[0] != y[0])
    return x[0] < y[0] ? -1 : 1;
  return x[1] > y[1] ? -1 : x[1] < y[1];
}

/* Pass 2: text with every range sc found written as REDACTED; ranges
 * that overlap or touch become one. */
static void put_hidden(struct dynbuf *o, const char *text, size_t len,
                       struct scan *sc)
{
  size_t i, pos = 0;
  int hidden = 0;                 /* a REDACTED ends at pos */
  if(sc->n)
    qsort(sc->r, sc->n, sizeof(*sc->r), by_start);
  for(i = 0; i < sc->n; i++) {
    size_t a = sc->r[i][0], b = sc->r[i][1];
    if(a < pos || (a == pos && hidden)) {
      if(b > pos)
        pos = b;
      continue;
    }
    dynbuf_add(o, text + pos, a - pos);
    dynbuf_add(o, REDACTED, sizeof(REDACTED) - 1);
    pos = b;
    hidden = 1;
  }
  dynbuf_add(o, text + pos, len - pos);
}

/* escape(), and a %XX escaped again, once or more: "%252F" is '/'. */
static int escape_deep(const char *t, size_t k, size_t n, char *c,
                       size_t *len)
{
  size_t pos;
  int level = 0;
  if(!escape(t, k, n, c, len) || *c != '%')
    return 0;
  for(pos = k + *len; *c == '%' && level < MAX_DECODE && pos + 1 < n &&
      isxdigit((unsigned char)t[pos]) &&
      isxdigit((unsigned char)t[pos + 1]); pos += 2, level++) {
    char hex[3] = {t[pos], t[pos + 1], '\0'};
    *c = (char)strtol(hex, NULL, 16);
  }
  *len = pos - k;
  return level > 0;
}

/* How many bytes of t (n in all) spell v: as written, or with some of its
 * bytes escaped, once or more (a header's value in a URL as %XX or
 * %25XX, in JSON with "\/" or "\u002f"); 0 when they do not. */
static size_t spelled(const char *t, size_t n, const char *v, size_t vn)
{
  size_t j, k = 0, len;
  char c;
  if(vn <= n && !memcmp(t, v, vn))
    return vn;
  for(j = 0; j < vn; j++) {
    if(k < n && t[k] == v[j])
      k++;
    else if(k < n && escape(t, k, n, &c, &len) && c == v[j])
      k += len;
    else if(k < n && escape_deep(t, k, n, &c, &len) && c == v[j])
      k += len;
    else
      return 0;
  }
  return k;
}

/* Pass 2, once: text with every URL's secrets written as REDACTED, into
 * o. Returns 0, or -1 when memory ran out. */
static int hide_urls(struct dynbuf *o, const char *text, size_t len)
{
  struct scan sc = {NULL, NULL, 0, 0, 0};
  sc.buf = text;
  scan_text(&sc, text, text + len, 0);
  put_hidden(o, text, len, &sc);
  if(!o->data)
    dynbuf_add(o, "", 0);
  free(sc.r);
  return o->oom || sc.oom ? -1 : 0;
}

/* Pass 1: text with every value of vals, as written or escaped, written
 * as REDACTED, into o. */
static void hide_values(struct dynbuf *o, const char *text, size_t len,
                        const struct redact_values *vals)
{
  size_t i = 0, from = 0;
  while(i < len) {
    size_t j, best = 0;
    for(j = 0; j < vals->count; j++) {
      size_t k;
      if(text[i] != vals->v[j].p[0] && text[i] != '%' && text[i] != '\\')
        continue;
      k = spelled(text + i, len - i, vals->v[j].p, vals->v[j].n);
      if(k > best)
        best = k;
    }
    if(best) {
      dynbuf_add(o, text + from, i - from);
      dynbuf_add(o, REDACTED, sizeof(REDACTED) - 1);
      i += best;
      from = i;
    }
    else
      i++;
  }
  dynbuf_add(o, text + from, len - from);
}

/* The URL pass is made again on what it wrote, until that changes
 * nothing: a text read as written and read decoded may disagree on where
 * a value ends ("?token=a%3F...://x"), and what one reading hides can
 * change what the other finds. Twice is all real text needs. */
#define MAX_ROUNDS 4

char *redact_text(const char *text, size_t len,
                  const struct redact_values *vals, size_t *outlen)
{
  struct dynbuf cur = {NULL, 0, 0, 0};
  const char *src = text;
  size_t srclen = len;
  int round;

  if(vals && vals->oom)
    return NULL;                  /* a value unknown: show nothing */
  if(vals && vals->count) {
    hide_values(&cur, text, len, vals);
    if(cur.oom) {
      free(cur.data);
      return NULL;
    }
    src = cur.data ? cur.data : "";
    srclen = cur.len;
  }
  for(round = 1; ; round++) {
    struct dynbuf next = {NULL, 0, 0, 0};
    int same;
    if(hide_urls(&next, src, srclen) < 0) {
      free(next.data);
      free(cur.data);
      return NULL;
    }
    same = next.len == srclen && !memcmp(next.data, src, srclen);
    free(cur.data);
    cur = next;
    src = cur.data;
    srclen = cur.len;
    if(same || round == MAX_ROUNDS)
      break;
  }
  if(outlen)
    *outlen = cur.len;
  return cur.data;
}
