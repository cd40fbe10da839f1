/*
 * redact.c - hiding secrets in what retryrun prints (see redact.h).
 *
 * Names are matched whole after normalising (lower case, '-' as '_'), so
 * the list below says exactly what is hidden; scripts add names through
 * http.redact(). This file knows names, parameters and what a request's
 * secret values are; redact_text.c finds them, and every URL, in a text.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "redact_internal.h"

#define NAME_MAX_LEN 64

/* Normalised: lower case, '_' for '-'. Documented in docs/reference.md. */
static const char *const builtin[] = {
  "password", "passwd", "pwd", "pass", "passphrase", "secret",
  "client_secret", "secret_key", "token", "access_token", "refresh_token",
  "id_token", "auth_token", "api_token", "session_token", "security_token",
  "amz_security_token", "amz_signature", "key", "api_key", "apikey",
  "access_key", "private_key", "signing_key", "goog_api_key", "sig",
  "signature", "auth",
  "authorization", "proxy_authorization", "cookie", "set_cookie", "session",
  "session_id", "sessionid", "sid", "jwt", "code", "credential",
  "credentials", "otp", "csrf_token", "xsrf_token", "csrftoken", "bearer",
  NULL
};

static char **added;
static size_t nadded, capadded;

int redact_percent(const char *s, size_t i, size_t n, unsigned char *c)
{
  char hex[3];
  if(s[i] != '%' || i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
     !isxdigit((unsigned char)s[i + 2]))
    return 0;
  hex[0] = s[i + 1];
  hex[1] = s[i + 2];
  hex[2] = '\0';
  *c = (unsigned char)strtol(hex, NULL, 16);
  return 1;
}

int redact_json_u(const char *s, size_t i, size_t n, unsigned char *c)
{
  char hex[3];
  if(s[i] != '\\' || i + 5 >= n || s[i + 1] != 'u' || s[i + 2] != '0' ||
     s[i + 3] != '0' || !isxdigit((unsigned char)s[i + 4]) ||
     !isxdigit((unsigned char)s[i + 5]) || s[i + 4] > '7')
    return 0;
  hex[0] = s[i + 4];
  hex[1] = s[i + 5];
  hex[2] = '\0';
  *c = (unsigned char)strtol(hex, NULL, 16);
  return 1;
}

/* Writes the normalised name into out (NAME_MAX_LEN + 1 bytes); returns
 * its length, or 0 when it is empty or too long to be one of ours. Percent
 * escapes in a parameter's name are read as the bytes they stand for. */
static size_t normalise(const char *s, size_t n, char *out)
{
  size_t i, o = 0;
  for(i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(redact_percent(s, i, n, &c))
      i += 2;
    if(o == NAME_MAX_LEN)
      return 0;
    out[o++] = c == '-' ? '_' : (char)tolower(c);
  }
  out[o] = '\0';
  return o;
}

static int listed(const char *norm)
{
  size_t i;
  for(i = 0; builtin[i]; i++)
    if(!strcmp(norm, builtin[i]))
      return 1;
  for(i = 0; i < nadded; i++)
    if(!strcmp(norm, added[i]))
      return 1;
  return 0;
}

/* Parameters and headers alike: a leading "x_" ("X-Api-Key",
 * "X-Amz-Signature") is dropped too. */
static int secret_name(const char *name, size_t len)
{
  char norm[NAME_MAX_LEN + 1];
  if(!normalise(name, len, norm))
    return 0;
  return listed(norm) ||
         (norm[0] == 'x' && norm[1] == '_' && listed(norm + 2));
}

int redact_secret_param(const char *name, size_t len)
{
  return secret_name(name, len);
}

int redact_secret_header(const char *name, size_t len)
{
  return secret_name(name, len);
}

int redact_add_name(const char *name, size_t len)
{
  char norm[NAME_MAX_LEN + 1];
  char *copy;
  if(!normalise(name, len, norm))
    return -1;
  if(listed(norm))
    return 0;
  if(nadded == capadded) {
    size_t cap = capadded ? capadded * 2 : 8;
    char **a = realloc(added, cap * sizeof(*a));
    if(!a)
      return -1;
    added = a;
    capadded = cap;
  }
  copy = strdup(norm);
  if(!copy)
    return -1;
  added[nadded++] = copy;
  return 0;
}

void redact_free_names(void)
{
  while(nadded)
    free(added[--nadded]);
  free(added);
  added = NULL;
  capadded = 0;
}

void redact_values_init(struct redact_values *vals)
{
  vals->v = vals->inl;
  vals->count = 0;
  vals->cap = REDACT_INLINE_VALUES;
  vals->owned = vals->inl_owned;
  vals->nowned = 0;
  vals->capowned = REDACT_INLINE_OWNED;
  vals->blocks = NULL;
  vals->oom = 0;
}

void redact_values_free(struct redact_values *vals)
{
  while(vals->blocks) {
    void *next = *(void **)vals->blocks;
    free(vals->blocks);
    vals->blocks = next;
  }
  if(vals->v != vals->inl)
    free(vals->v);
  redact_values_init(vals);
}

static void add_value(struct redact_values *vals, const char *p, size_t n)
{
  size_t i;
  if(n < REDACT_MIN_VALUE)
    return;
  for(i = 0; i < vals->count; i++)
    if(vals->v[i].n == n && !memcmp(vals->v[i].p, p, n))
      return;
  if(vals->count == vals->cap) {
    size_t cap = vals->cap ? vals->cap * 2 : REDACT_INLINE_VALUES;
    struct redact_value *v = vals->v == vals->inl ? NULL : vals->v;
    v = cap < vals->cap ? NULL : realloc(v, cap * sizeof(*v));
    if(!v) {
      vals->oom = 1;
      return;
    }
    if(vals->v == vals->inl)
      memcpy(v, vals->inl, vals->count * sizeof(*v));
    vals->v = v;
    vals->cap = cap;
  }
  vals->v[vals->count].p = p;
  vals->v[vals->count].n = n;
  vals->count++;
}

/* Room for need more bytes of owned values: the rest of the current
 * block, or a new one (blocks never move, as values point into them).
 * NULL when memory ran out. */
static char *owned_room(struct redact_values *vals, size_t need)
{
  size_t size = need > 4096 ? need : 4096;
  void **block;
  if(vals->owned && vals->capowned - vals->nowned >= need)
    return vals->owned + vals->nowned;
  block = size + sizeof(*block) < size ? NULL :
          malloc(sizeof(*block) + size);
  if(!block) {
    vals->oom = 1;
    return NULL;
  }
  *block = vals->blocks;
  vals->blocks = block;
  vals->owned = (char *)(block + 1);
  vals->nowned = 0;
  vals->capowned = size;
  return vals->owned;
}

/* Adds the base64 form of p[0..n) (as libcurl sends user:password in a
 * Basic Authorization header). */
static void add_base64(struct redact_values *vals, const char *p, size_t n)
{
  static const char digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t need = (n + 2) / 3 * 4, i;
  char *o = owned_room(vals, need), *start = o;
  if(!o)
    return;
  for(i = 0; i < n; i += 3) {
    unsigned long v = (unsigned long)(unsigned char)p[i] << 16;
    if(i + 1 < n)
      v |= (unsigned long)(unsigned char)p[i + 1] << 8;
    if(i + 2 < n)
      v |= (unsigned char)p[i + 2];
    *o++ = digits[(v >> 18) & 63];
    *o++ = digits[(v >> 12) & 63];
    *o++ = i + 1 < n ? digits[(v >> 6) & 63] : '=';
    *o++ = i + 2 < n ? digits[v & 63] : '=';
  }
  vals->nowned += need;
  add_value(vals, start, need);
}

/* Adds p[0..n) as it reads once decoded, when that differs: %XX and '+'
 * of a URL or form (json 0), or the backslash escapes of a JSON string
 * (json 1; of the \u escapes, those of ASCII bytes). */
static void add_decoded(struct redact_values *vals, const char *p, size_t n,
                        int json)
{
  char *o;
  size_t i, k = 0;
  if(!memchr(p, json ? '\\' : '%', n) && (json || !memchr(p, '+', n)))
    return;
  o = owned_room(vals, n);
  if(!o)
    return;
  for(i = 0; i < n; i++) {
    char ch = p[i];
    unsigned char b;
    if(json && redact_json_u(p, i, n, &b)) {
      ch = (char)b;                               /* "\u0026": '&' */
      i += 5;
    }
    else if(json && ch == '\\' && i + 1 < n && p[i + 1] != 'u') {
      ch = p[++i];
      ch = ch == 'n' ? '\n' : ch == 't' ? '\t' : ch == 'r' ? '\r' :
           ch == 'b' ? '\b' : ch == 'f' ? '\f' : ch;
    }
    else if(!json && ch == '+')
      ch = ' ';
    else if(!json && redact_percent(p, i, n, &b)) {
      ch = (char)b;
      i += 2;
    }
    o[k++] = ch;
  }
  vals->nowned += k;
  add_value(vals, o, k);
}

const char *redact_pairs(const char *p, const char *end, const char *seps,
                         int stop_hash, redact_pair_fn *fn, void *ud)
{
  while(p < end && !(stop_hash && *p == '#')) {
    const char *e = p, *eq;
    while(e < end && !strchr(seps, *e) && !(stop_hash && *e == '#'))
      e++;
    eq = memchr(p, '=', (size_t)(e - p));
    fn(ud, p, eq, e, eq && redact_secret_param(p, (size_t)(eq - p)));
    p = e;
    if(p < end && strchr(seps, *p))
      p++;
  }
  return p;
}

/* A secret pair's value, as written and decoded, into vals. */
static void collect_pair(void *vals, const char *name, const char *eq,
                         const char *end, int secret)
{
  (void)name;
  if(secret) {
    add_value(vals, eq + 1, (size_t)(end - eq - 1));
    add_decoded(vals, eq + 1, (size_t)(end - eq - 1), 0);
  }
}

const char *redact_userinfo_end(const char *host, const char *end,
                               int lenient)
{
  const char *h, *at = NULL;
  for(h = host; h < end && *h == '/'; h++)
    ;                             /* "http:///u:p@h": libcurl takes it */
  for(; h < end && *h != '/'; h++) {
    if((*h == '?' || *h == '#') && (at || !lenient))
      return at;
    if(*h == '@')
      at = h;
  }
  return at;
}

void redact_collect_url(struct redact_values *vals, const char *url,
                        size_t len)
{
  const char *end = url + len, *p = url, *q, *at = NULL;
  const char *scheme = NULL;
  for(q = url; q + 2 < end; q++)
    if(q[0] == ':' && q[1] == '/' && q[2] == '/') {
      scheme = q;
      break;
    }
  if(scheme) {
    const char *host = scheme + 3, *h;
    at = redact_userinfo_end(host, end, 1);
    if(at) {
      while(*host == '/')
        host++;
      const char *colon = memchr(host, ':', (size_t)(at - host));
      add_value(vals, host, (size_t)(at - host));
      if(colon)
        add_value(vals, colon + 1, (size_t)(at - colon - 1));
      add_base64(vals, host, (size_t)(at - host));
      host = at + 1;
    }
    for(h = host; h < end && !strchr("/?#", *h); h++)
      ;
    p = h;
  }
  while(p < end && *p != '?' && *p != '#')
    p++;
  if(p < end && *p == '?')
    p = redact_pairs(p + 1, end, QUERY_SEPS, 1, collect_pair, vals);
  if(p < end && *p == '#')
    redact_pairs(p + 1, end, FRAGMENT_SEPS, 0, collect_pair, vals);
}

void redact_collect_copy(struct redact_values *vals, const char *value,
                         size_t len)
{
  char *o;
  if(len < REDACT_MIN_VALUE || !(o = owned_room(vals, len)))
    return;
  memcpy(o, value, len);
  vals->nowned += len;
  add_value(vals, o, len);
}

void redact_collect_field(struct redact_values *vals, const char *name,
                          size_t nlen, const char *value, size_t vlen)
{
  if(redact_secret_param(name, nlen))
    add_value(vals, value, vlen);
}

void redact_collect_header(struct redact_values *vals, const char *name,
                           size_t nlen, const char *value, size_t vlen)
{
  const char *sp;
  if(!redact_secret_header(name, nlen))
    return;
  while(vlen && (*value == ' ' || *value == '\t')) {
    value++;
    vlen--;
  }
  add_value(vals, value, vlen);
  /* "Bearer abc", "Basic dXNlcjpwdw==": the credential alone too */
  sp = memchr(value, ' ', vlen);
  if(sp) {
    const char *cred = sp + 1, *end = value + vlen;
    while(cred < end && *cred == ' ')
      cred++;
    add_value(vals, cred, (size_t)(end - cred));
  }
  /* "a=1; sid=xyz": each secret cookie's value */
  if(memchr(value, '=', vlen)) {
    const char *p = value, *end = value + vlen;
    while(p < end) {
      while(p < end && (*p == ' ' || *p == ';'))
        p++;
      {
        const char *e = p, *eq;
        while(e < end && *e != ';')
          e++;
        eq = memchr(p, '=', (size_t)(e - p));
        if(eq)
          add_value(vals, eq + 1, (size_t)(e - eq - 1));
        p = e;
      }
    }
  }
}

/* Reads the JSON string starting at the quote p; returns the byte after
 * its closing quote (or end), its contents in *s, *n. */
static const char *json_string(const char *p, const char *end,
                               const char **s, size_t *n)
{
  const char *q = p + 1;
  while(q < end && *q != '"') {
    if(*q == '\\' && q + 1 < end)
      q++;
    q++;
  }
  *s = p + 1;
  *n = (size_t)(q - p - 1);
  return q < end ? q + 1 : end;
}

static const char *skip_space(const char *p, const char *end)
{
  while(p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    p++;
  return p;
}

void redact_collect_body(struct redact_values *vals, const char *body,
                         size_t len)
{
  const char *end = body + len, *p = skip_space(body, end);
  if(p == end)
    return;
  if(*p != '{' && *p != '[') {
    /* a form, or nothing */
    redact_pairs(p, end, QUERY_SEPS, 0, collect_pair, vals);
    return;
  }
  /* JSON: every "name": value whose name is secret, at any depth */
  while(p < end) {
    const char *k, *v;
    size_t kn, vn;
    if(*p != '"') {
      p++;
      continue;
    }
    p = json_string(p, end, &k, &kn);
    p = skip_space(p, end);
    if(p == end || *p != ':' || !redact_secret_param(k, kn))
      continue;
    p = skip_space(p + 1, end);
    if(p < end && *p == '"') {
      p = json_string(p, end, &v, &vn);
      add_value(vals, v, vn);
      add_decoded(vals, v, vn, 1);
    }
    else {
      v = p;
      while(p < end && !strchr(",}] \t\r\n", *p))
        p++;
      add_value(vals, v, (size_t)(p - v));
    }
  }
}
