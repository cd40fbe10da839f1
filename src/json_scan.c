/*
 * json_scan.c - JSON text checked and stepped over without building
 * anything (see json_scan.h): json_scan_string, json_scan_value and
 * json_skip.
 *
 * The validator follows the decoder's grammar (lua_json_decode.c) step for
 * step, so that for any text both stop at the same byte with the same
 * message; spec/json_spec.lua and spec/fuzz/fuzz_json_decode.c hold them
 * to it. It keeps the kinds of the open containers in a bit per level
 * instead of recursing. Plain C: no Lua, no allocation.
 */
#include <string.h>

#include "json_scan.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char *fail(struct json_fail *f, const char *at,
                        const char *what)
{
  f->at = at;
  f->what = what;
  return NULL;
}

const char *json_scan_string(const char *open, const char *q,
                             const char *end, struct json_fail *f)
{
  const char *close, *r = open + 1;

  for(;;) {
    q = scan_plain(q, end);
    if(q >= end)
      return fail(f, open, "unterminated string starting");
    if(*q == '"')
      break;
    if(*q != '\\')
      return fail(f, q, "control character in string");
    if(end - q < 2)
      return fail(f, open, "unterminated string starting");
    q += 2;
  }
  close = q;
  while((r = memchr(r, '\\', (size_t)(close - r)))) {
    const char *esc = r;
    long cp, lo;
    r += 2;
    switch(esc[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
    case 't':
      break;
    case 'u':
      if(close - r < 4 || (cp = json_hex4(r)) < 0)
        return fail(f, esc, "expected 4 hex digits after \\u");
      r += 4;
      if(cp >= 0xD800 && cp <= 0xDBFF) {
        if(close - r < 6 || r[0] != '\\' || r[1] != 'u' ||
           (lo = json_hex4(r + 2)) < 0xDC00 || lo > 0xDFFF)
          return fail(f, esc, "lone surrogate");
        r += 6;
      }
      else if(cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(f, esc, "lone surrogate");
      break;
    default:
      return fail(f, esc, "invalid escape");
    }
  }
  return close;
}

static inline int is_digit(const char *p, const char *end)
{
  return p < end && *p >= '0' && *p <= '9';
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at p. */
static const char *scan_number(const char *p, const char *end,
                               struct json_fail *f)
{
  if(*p == '-')
    p++;
  if(p < end && *p == '0')
    p++;
  else if(p < end && *p >= '1' && *p <= '9') {
    do
      p++;
    while(is_digit(p, end));
  }
  else
    return fail(f, p, "expected a digit");
  if(p < end && *p == '.') {
    if(!is_digit(++p, end))
      return fail(f, p, "expected a digit after '.'");
    while(is_digit(++p, end))
      ;
  }
  if(p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if(p < end && (*p == '+' || *p == '-'))
      p++;
    if(!is_digit(p, end))
      return fail(f, p, "expected a digit in the exponent");
    while(is_digit(++p, end))
      ;
  }
  return p;
}

/* A string at its opening quote p: the byte after its closing one. */
static inline const char *scan_str(const char *p, const char *end,
                                   struct json_fail *f)
{
  const char *q = scan_plain(p + 1, end);
  if(LIKELY(q < end && *q == '"'))
    return q + 1;
  q = json_scan_string(p, q, end, f);
  return q ? q + 1 : NULL;
}

const char *json_scan_value(const char *p, const char *end, int depth,
                            struct json_fail *f)
{
  /* bit d set: the container open at level d (0-based, from this call's)
   * is an object; object: the innermost one is */
  unsigned char objects[JSON_MAX_DEPTH / 8 + 1];
  int d = 0, first, object = 0;

value:
  if(UNLIKELY(p >= end))
    return fail(f, p, "expected a value");
  switch(*p) {
  case '"':
    if(!(p = scan_str(p, end, f)))
      return NULL;
    break;
  case '[':
  case '{':
    if(depth + d >= JSON_MAX_DEPTH)
      return fail(f, p, "nesting deeper than " STR(JSON_MAX_DEPTH));
    object = *p == '{';
    if(object)
      objects[d / 8] |= (unsigned char)(1u << (d % 8));
    else
      objects[d / 8] &= (unsigned char)~(1u << (d % 8));
    d++;
    p = json_skip_ws(p + 1, end);
    if(p < end && *p == (object ? '}' : ']')) {
      p++;
      goto closed;
    }
    if(!object)
      goto value;
    first = 1;
    goto key;
  case '-': case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9':
    if(!(p = scan_number(p, end, f)))
      return NULL;
    break;
  case 't':
    if(end - p >= 4 && memcmp(p, "true", 4) == 0) {
      p += 4;
      break;
    }
    return fail(f, p, "expected a value");
  case 'f':
    if(end - p >= 5 && memcmp(p, "false", 5) == 0) {
      p += 5;
      break;
    }
    return fail(f, p, "expected a value");
  case 'n':
    if(end - p >= 4 && memcmp(p, "null", 4) == 0) {
      p += 4;
      break;
    }
    return fail(f, p, "expected a value");
  default:
    return fail(f, p, "expected a value");
  }

  /* after a value: the next one of its container, or the container's end */
  while(d > 0) {
    p = json_skip_ws(p, end);
    if(p < end && *p == ',') {
      p = json_skip_ws(p + 1, end);
      if(!object)
        goto value;
      first = 0;
      goto key;
    }
    if(p < end && *p == (object ? '}' : ']')) {
      p++;
closed:                         /* the container at level d - 1 ended */
      d--;
      if(d > 0)
        object = objects[(d - 1) / 8] & (1u << ((d - 1) % 8));
      continue;
    }
    return fail(f, p, object ? "expected ',' or '}'" : "expected ',' or ']'");
  }
  return p;

key:
  if(p >= end || *p != '"')
    return fail(f, p, first ? "expected '\"' or '}'" : "expected '\"'");
  if(!(p = scan_str(p, end, f)))
    return NULL;
  p = json_skip_ws(p, end);
  if(p >= end || *p != ':')
    return fail(f, p, "expected ':'");
  p = json_skip_ws(p + 1, end);
  goto value;
}

/* 1: a string opens; 2: a container opens; 3: one closes. */
static const unsigned char skip_class[256] = {
  ['"'] = 1, ['['] = 2, ['{'] = 2, [']'] = 3, ['}'] = 3
};

const char *json_skip(const char *p, const char *end)
{
  int depth = 0;
  while(p < end) {
    switch(skip_class[(unsigned char)*p++]) {
    case 1:
      for(;;) {
        p = scan_plain(p, end);
        if(p >= end || *p == '"')
          break;
        p += 2;                 /* an escape: checked, so it is there */
      }
      p++;
      break;
    case 2:
      depth++;
      break;
    case 3:
      if(--depth == 0)
        return p;
      break;
    }
  }
  return end;
}
