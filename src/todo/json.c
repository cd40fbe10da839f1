/* json: a validating recursive-descent reader for todo-server's request
 * bodies (see json.h). Recursion is bounded by JSON_MAX_DEPTH; strings are
 * checked to be UTF-8; only the members asked for are copied out. Uses buf
 * for decoded strings and touches nothing else. */
#include "json.h"
#include "buf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
  const unsigned char *start;
  const unsigned char *p;
  const unsigned char *end;
  int depth;
  enum json_result result; /* first error */
  char *err;
  size_t errlen;
};

/* Records the first error with the byte offset where it was found. */
static enum json_result fail(struct parser *ps, enum json_result r,
                             const char *what)
{
  if(ps->result == JSON_OK) {
    ps->result = r;
    if(ps->errlen)
      snprintf(ps->err, ps->errlen, "%s at byte %zu", what,
               (size_t)(ps->p - ps->start));
  }
  return ps->result;
}

static void skip_ws(struct parser *ps)
{
  while(ps->p < ps->end &&
        (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static int hexval(unsigned char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if(c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Reads the 4 hex digits after "\u"; -1 when they are not there. */
static long read_hex4(struct parser *ps)
{
  if(ps->end - ps->p < 4)
    return -1;
  long v = 0;
  for(int i = 0; i < 4; i++) {
    int h = hexval(ps->p[i]);
    if(h < 0)
      return -1;
    v = v * 16 + h;
  }
  ps->p += 4;
  return v;
}

static void put_utf8(struct buf *out, unsigned long cp)
{
  char u[4];
  size_t n;
  if(cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  }
  else if(cp < 0x800) {
    u[0] = (char)(0xC0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  }
  else if(cp < 0x10000) {
    u[0] = (char)(0xE0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  }
  else {
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  buf_add(out, u, n);
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
  unsigned char c = p[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
  if(c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if(c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if(c == 0xE0)
      lo = 0xA0;
    else if(c == 0xED)
      hi = 0x9F; /* no UTF-16 surrogates */
  }
  else if(c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if(c == 0xF0)
      lo = 0x90;
    else if(c == 0xF4)
      hi = 0x8F;
  }
  else
    return 0;
  if((size_t)(end - p) < n)
    return 0;
  if(p[1] < lo || p[1] > hi)
    return 0;
  for(size_t i = 2; i < n; i++)
    if(p[i] < 0x80 || p[i] > 0xBF)
      return 0;
  return n;
}

/* Parses a string at ps->p (which is at the opening quote). Decodes into
 * out when out is not NULL. */
static enum json_result parse_string(struct parser *ps, struct buf *out)
{
  ps->p++; /* the opening quote */
  for(;;) {
    const unsigned char *run = ps->p;
    while(ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' &&
          *ps->p >= 0x20 && *ps->p < 0x80)
      ps->p++;
    if(out)
      buf_add(out, run, (size_t)(ps->p - run));
    if(ps->p >= ps->end)
      return fail(ps, JSON_SYNTAX, "unterminated string");
    unsigned char c = *ps->p;
    if(c == '"') {
      ps->p++;
      break;
    }
    if(c < 0x20)
      return fail(ps, JSON_SYNTAX, "control character in string");
    if(c >= 0x80) {
      size_t n = utf8_seq(ps->p, ps->end);
      if(!n)
        return fail(ps, JSON_SYNTAX, "invalid UTF-8 in string");
      if(out)
        buf_add(out, ps->p, n);
      ps->p += n;
      continue;
    }
    /* a backslash */
    ps->p++;
    if(ps->p >= ps->end)
      return fail(ps, JSON_SYNTAX, "unterminated string");
    c = *ps->p++;
    char ch;
    switch(c) {
    case '"': ch = '"'; break;
    case '\\': ch = '\\'; break;
    case '/': ch = '/'; break;
    case 'b': ch = '\b'; break;
    case 'f': ch = '\f'; break;
    case 'n': ch = '\n'; break;
    case 'r': ch = '\r'; break;
    case 't': ch = '\t'; break;
    case 'u': {
      long cp = read_hex4(ps);
      if(cp < 0)
        return fail(ps, JSON_SYNTAX, "bad \\u escape");
      if(cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(ps, JSON_SYNTAX, "lone low surrogate");
      if(cp >= 0xD800 && cp <= 0xDBFF) {
        if(ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
          return fail(ps, JSON_SYNTAX, "lone high surrogate");
        ps->p += 2;
        long lo = read_hex4(ps);
        if(lo < 0xDC00 || lo > 0xDFFF)
          return fail(ps, JSON_SYNTAX, "bad surrogate pair");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      if(out)
        put_utf8(out, (unsigned long)cp);
      continue;
    }
    default:
      ps->p--;
      return fail(ps, JSON_SYNTAX, "bad escape in string");
    }
    if(out)
      buf_add(out, &ch, 1);
  }
  if(out && out->err)
    return fail(ps, JSON_NOMEM, "out of memory");
  return JSON_OK;
}

static bool is_digit(const struct parser *ps)
{
  return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static enum json_result parse_number(struct parser *ps)
{
  if(*ps->p == '-')
    ps->p++;
  if(!is_digit(ps))
    return fail(ps, JSON_SYNTAX, "bad number");
  if(*ps->p == '0')
    ps->p++;
  else
    while(is_digit(ps))
      ps->p++;
  if(ps->p < ps->end && *ps->p == '.') {
    ps->p++;
    if(!is_digit(ps))
      return fail(ps, JSON_SYNTAX, "bad number");
    while(is_digit(ps))
      ps->p++;
  }
  if(ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    ps->p++;
    if(ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
      ps->p++;
    if(!is_digit(ps))
      return fail(ps, JSON_SYNTAX, "bad number");
    while(is_digit(ps))
      ps->p++;
  }
  return JSON_OK;
}

static enum json_result parse_literal(struct parser *ps, const char *word)
{
  size_t n = strlen(word);
  if((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
    return fail(ps, JSON_SYNTAX, "unexpected character");
  ps->p += n;
  return JSON_OK;
}

static enum json_result parse_value(struct parser *ps);

/* Parses an array or object at ps->p. At depth 1 (the top level object)
 * members named in fields are copied out. */
static enum json_result parse_container(struct parser *ps,
                                        struct json_field *fields,
                                        size_t nfields)
{
  bool object = *ps->p == '{';
  char close = object ? '}' : ']';
  if(++ps->depth > JSON_MAX_DEPTH)
    return fail(ps, JSON_TOO_DEEP, "nested too deeply");
  ps->p++;
  skip_ws(ps);
  if(ps->p < ps->end && *ps->p == close) {
    ps->p++;
    ps->depth--;
    return JSON_OK;
  }
  struct buf key;
  buf_init(&key, (size_t)(ps->end - ps->start) + 1);
  for(;;) {
    struct json_field *want = NULL;
    if(object) {
      skip_ws(ps);
      if(ps->p >= ps->end || *ps->p != '"') {
        fail(ps, JSON_SYNTAX, "expected a member name");
        break;
      }
      key.len = 0;
      bool top = fields && ps->depth == 1;
      if(parse_string(ps, top ? &key : NULL))
        break;
      for(size_t i = 0; top && i < nfields; i++)
        if(key.len == strlen(fields[i].name) &&
           !memcmp(key.data, fields[i].name, key.len))
          want = &fields[i];
      skip_ws(ps);
      if(ps->p >= ps->end || *ps->p != ':') {
        fail(ps, JSON_SYNTAX, "expected ':'");
        break;
      }
      ps->p++;
    }
    skip_ws(ps);
    if(want && ps->p < ps->end && *ps->p == '"') {
      struct buf val;
      buf_init(&val, (size_t)(ps->end - ps->start) + 1);
      if(parse_string(ps, &val)) {
        buf_free(&val);
        break;
      }
      free(want->value);
      want->value = buf_take(&val, &want->len);
      if(!want->value) {
        want->kind = JSON_ABSENT;
        fail(ps, JSON_NOMEM, "out of memory");
        break;
      }
      want->kind = JSON_STRING;
    }
    else {
      if(parse_value(ps))
        break;
      if(want) {
        free(want->value);
        want->value = NULL;
        want->len = 0;
        want->kind = JSON_OTHER;
      }
    }
    skip_ws(ps);
    if(ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if(ps->p < ps->end && *ps->p == close) {
      ps->p++;
      ps->depth--;
      break;
    }
    fail(ps, JSON_SYNTAX, object ? "expected ',' or '}'" : "expected ',' or ']'");
    break;
  }
  buf_free(&key);
  return ps->result;
}

static enum json_result parse_value(struct parser *ps)
{
  skip_ws(ps);
  if(ps->p >= ps->end)
    return fail(ps, JSON_SYNTAX, "unexpected end of input");
  switch(*ps->p) {
  case '{':
  case '[':
    return parse_container(ps, NULL, 0);
  case '"':
    return parse_string(ps, NULL);
  case 't':
    return parse_literal(ps, "true");
  case 'f':
    return parse_literal(ps, "false");
  case 'n':
    return parse_literal(ps, "null");
  default:
    if(*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
      return parse_number(ps);
    return fail(ps, JSON_SYNTAX, "unexpected character");
  }
}

void json_fields_free(struct json_field *fields, size_t nfields)
{
  for(size_t i = 0; i < nfields; i++) {
    free(fields[i].value);
    fields[i].value = NULL;
    fields[i].len = 0;
    fields[i].kind = JSON_ABSENT;
  }
}

enum json_result json_object_fields(const char *text, size_t len,
                                    struct json_field *fields, size_t nfields,
                                    char *err, size_t errlen)
{
  struct parser ps = {
    .start = (const unsigned char *)text,
    .p = (const unsigned char *)text,
    .end = (const unsigned char *)text + len,
    .result = JSON_OK,
    .err = err,
    .errlen = errlen,
  };
  if(errlen)
    err[0] = '\0';
  for(size_t i = 0; i < nfields; i++) {
    fields[i].kind = JSON_ABSENT;
    fields[i].value = NULL;
    fields[i].len = 0;
  }
  skip_ws(&ps);
  if(ps.p < ps.end && *ps.p == '{')
    parse_container(&ps, fields, nfields);
  else if(parse_value(&ps) == JSON_OK)
    fail(&ps, JSON_NOT_OBJECT, "not a JSON object");
  if(ps.result == JSON_OK) {
    skip_ws(&ps);
    if(ps.p != ps.end)
      fail(&ps, JSON_SYNTAX, "trailing characters");
  }
  if(ps.result != JSON_OK)
    json_fields_free(fields, nfields);
  return ps.result;
}
