/*
 * json_scan.c - JSON text checked and stepped over without building
 * anything (see json_scan.h): json_scan_string, json_scan_value,
 * json_scan_elements and json_skip.
 *
 * The validator follows the decoder's grammar (lua_json_decode.c) step for
 * step, so that for any text both stop at the same byte with the same
 * message; spec/json_spec.lua and spec/fuzz/fuzz_json_decode.c hold them
 * to it. It keeps the closing byte of each open container in an array
 * instead of recursing, and leans on the NUL byte that follows the text
 * (a Lua string has one): no byte stops a string, a number or a run of
 * whitespace but the ones JSON means, and the NUL is none of them, so
 * only reads of several bytes at once check where the text ends. Plain
 * C: no Lua, no allocation.
 *
 * Speed comes from asking the likely question first: at each place the
 * byte that usually comes there (after one space at most), and a string
 * before any other value; and from letting the processor run ahead. Each
 * step's position depends on the step before, so where a position comes
 * from a branch (a byte tested, the pointer moved by one), the processor
 * predicts it and goes on, but where it is computed from the bytes (a
 * mask's trailing zeros, p += *p == ' ') it waits, and every token of a
 * body waits in turn: so the first sixteen bytes of a string or a run of
 * whitespace are tested one by one, and only longer runs are read
 * sixteen bytes at a time (SSE2). On the bodies measured this takes half
 * the time of reading every string sixteen bytes at a time, for a few
 * more instructions. A first pass that turns whole blocks into bit masks
 * (quotes, whitespace) and walks only the tokens was measured too: on
 * API bodies, whose strings are short, stepping from token to token in
 * the masks cost more than this.
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

/* What a byte can start where a value is due. */
enum { V_BAD, V_WS, V_STR, V_NUM, V_ARR, V_OBJ, V_TRUE, V_FALSE, V_NULL };
static const unsigned char value_class[256] = {
  ['\t'] = V_WS, ['\n'] = V_WS, ['\r'] = V_WS, [' '] = V_WS,
  ['"'] = V_STR, ['-'] = V_NUM,
  ['0'] = V_NUM, ['1'] = V_NUM, ['2'] = V_NUM, ['3'] = V_NUM,
  ['4'] = V_NUM, ['5'] = V_NUM, ['6'] = V_NUM, ['7'] = V_NUM,
  ['8'] = V_NUM, ['9'] = V_NUM,
  ['['] = V_ARR, ['{'] = V_OBJ, ['t'] = V_TRUE, ['f'] = V_FALSE,
  ['n'] = V_NULL
};

#ifdef JSON_PLAIN16
/* A bit for each of the 16 bytes at p that is neither ' ' nor '\n'. */
static ALWAYS_INLINE unsigned json_not_blank16(const char *p)
{
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
  return (unsigned)_mm_movemask_epi8(_mm_or_si128(
    _mm_cmpeq_epi8(x, _mm_set1_epi8(' ')),
    _mm_cmpeq_epi8(x, _mm_set1_epi8('\n')))) ^ 0xFFFF;
}
#endif

/* The first byte at or after p, a whitespace byte, that is not
 * whitespace: sixteen bytes at a time where SSE2 is, each round to the
 * first byte that is neither ' ' nor a line break (a tab or carriage
 * return costs a round more), and else, or near the end, byte by byte,
 * which the NUL after the text stops. */
static NOINLINE const char *ws_more(const char *p, const char *end)
{
#ifdef JSON_PLAIN16
  while((uintptr_t)p <= (uintptr_t)end - 16) {
    unsigned mask = json_not_blank16(p);
    if(!mask)
      p += 16;
    else {
      p += (unsigned)__builtin_ctz(mask);
      if(*p != '\t' && *p != '\r')
        return p;
      p++;
    }
  }
#else
  (void)end;
#endif
  while(value_class[(unsigned char)*p] == V_WS)
    p++;
  return p;
}

/* ws_more, with its first sixteen bytes tested one by one, inline: a line
 * break and the indent after it, the usual run, end there; a branch the
 * processor predicts costs less than waiting for a position computed
 * from a mask (see plain_first16). The NUL after the text stops the
 * loop. */
static ALWAYS_INLINE const char *ws_run(const char *p, const char *end)
{
  const char *stop = p + 16;
  while(value_class[(unsigned char)*p] == V_WS)
    if(++p == stop)
      return ws_more(p, end);
  return p;
}

/* The first byte at or after p that is not whitespace. One space, the
 * usual case, costs no loop. */
static ALWAYS_INLINE const char *ws(const char *p, const char *end)
{
  if(*p == ' ')
    p++;
  if(LIKELY(value_class[(unsigned char)*p] != V_WS))
    return p;
  return ws_run(p, end);
}

static ALWAYS_INLINE int digit(char c)
{
  return (unsigned char)(c - '0') < 10;
}

/* (.[0-9]+)?([eE][+-]?[0-9]+)? at p, after a number's integer part. */
static ALWAYS_INLINE const char *scan_fraction(const char *p,
                                               struct json_fail *f)
{
  if(UNLIKELY(*p == '.')) {
    if(!digit(*++p))
      return fail(f, p, "expected a digit after '.'");
    do
      p++;
    while(digit(*p));
  }
  if(UNLIKELY((*p | 0x20) == 'e')) {
    p++;
    if(*p == '+' || *p == '-')
      p++;
    if(!digit(*p))
      return fail(f, p, "expected a digit in the exponent");
    do
      p++;
    while(digit(*p));
  }
  return p;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at p; the NUL after the
 * text stops every loop. */
static ALWAYS_INLINE const char *scan_number(const char *p,
                                             struct json_fail *f)
{
  if(*p == '-')
    p++;
  if(*p == '0')
    p++;
  else if(LIKELY(digit(*p))) {
    do
      p++;
    while(digit(*p));
  }
  else
    return fail(f, p, "expected a digit");
  return scan_fraction(p, f);
}

/* A number at p that starts with 1 to 9, the usual one (an id, a count):
 * the byte after it, or NULL. */
static ALWAYS_INLINE const char *scan_natural(const char *p,
                                              struct json_fail *f)
{
  do
    p++;
  while(digit(*p));
  if(LIKELY(*p != '.' && (*p | 0x20) != 'e'))
    return p;
  return scan_fraction(p, f);
}

/* A string at its opening quote p: the byte after its closing one. */
static ALWAYS_INLINE const char *scan_str(const char *p, const char *end,
                                          struct json_fail *f)
{
  const char *q = plain_first16(p + 1);    /* the NUL stops it */
  if(UNLIKELY(q == p + 17))
    q = plain_wide(q, end);
  if(LIKELY(*q == '"'))         /* at end, *q is the NUL */
    return q + 1;
  q = json_scan_string(p, q, end, f);
  return q ? q + 1 : NULL;
}

/* The 4 bytes at p are those of s: one comparison, never a call. */
static ALWAYS_INLINE int same4(const char *p, const char *s)
{
  uint32_t a, b;
  memcpy(&a, p, 4);
  memcpy(&b, s, 4);
  return a == b;
}

/* A value that is not an array or object, of class k, at p: the byte
 * after it. */
static ALWAYS_INLINE const char *scan_scalar(const char *p, const char *end,
                                             int k, struct json_fail *f)
{
  if(LIKELY(k == V_NUM))
    return scan_number(p, f);
  switch(k) {
  case V_STR:
    return scan_str(p, end, f);
  case V_TRUE:
    if(end - p >= 4 && same4(p, "true"))
      return p + 4;
    break;
  case V_FALSE:
    if(end - p >= 5 && same4(p + 1, "alse"))
      return p + 5;
    break;
  case V_NULL:
    if(end - p >= 4 && same4(p, "null"))
      return p + 4;
    break;
  }
  return fail(f, p, "expected a value");      /* at end: the NUL, V_BAD */
}

/* Where json_scan_elements notes the next element, and the end of its
 * room. */
struct notes {
  const char **next, **end;
};

/* A state machine with a state for each place in an array or an object,
 * so that what follows a value is never asked which of the two it is in
 * (only a closing bracket looks that up); no recursion. Each state tries
 * first the byte that usually comes, after at most one space, and skips
 * other whitespace only when that fails; a string, the usual value, is
 * tried before any other.
 *
 * Given nt, it is json_scan_elements: the top list is level 0, and each
 * of its elements, ended, comes back to the loop at element_done. */
static ALWAYS_INLINE const char *scan_value(const char *p, const char *end,
                                            int depth, struct notes *nt,
                                            struct json_fail *f)
{
  /* close[i]: the byte that closes the container open at level i (from
   * this call's), d of them open */
  char close[JSON_MAX_DEPTH];
  int top = nt != NULL, d = top;
  int k = value_class[(unsigned char)*p];

  if(top)
    *nt->next++ = p;
  if(k != V_ARR && k != V_OBJ) {
    if(!(p = scan_scalar(p, end, k, f)) || !top)
      return p;
    goto element_done;
  }
open:                           /* p at '[' or '{' */
  if(UNLIKELY(depth + d >= JSON_MAX_DEPTH))
    return fail(f, p, "nesting deeper than " STR(JSON_MAX_DEPTH));
  if(*p++ == '{') {
    close[d++] = '}';
    if(LIKELY(*p == '"'))
      goto key;
    p = ws(p, end);
    if(*p == '"')
      goto key;
    if(*p != '}')
      return fail(f, p, "expected '\"' or '}'");
  }
  else {
    close[d++] = ']';
    p = ws(p, end);
    if(*p != ']')
      goto element;
  }
  p++;
closed:                         /* the container at level d - 1 ended */
  if(--d == top) {
    if(!top)
      return p;
    goto element_done;
  }
  if(close[d - 1] == '}')
    goto after_member;

after_element:
  if(LIKELY(*p == ',')) {
next_element:
    p++;
    if(*p == ' ')
      p++;
element:                        /* at an element or whitespace before it */
    if(*p == '"') {
      if(!(p = scan_str(p, end, f)))
        return NULL;
      goto after_element;
    }
    if((unsigned char)(*p - '1') < 9) {
      if(!(p = scan_natural(p, f)))
        return NULL;
      goto after_element;
    }
    k = value_class[(unsigned char)*p];
    if(k == V_ARR || k == V_OBJ)
      goto open;
    if(UNLIKELY(k == V_WS)) {
      p = ws_run(p, end);
      goto element;
    }
    if(!(p = scan_scalar(p, end, k, f)))
      return NULL;
    goto after_element;
  }
  if(*p == ']') {
    p++;
    goto closed;
  }
  if(value_class[(unsigned char)*p] == V_WS) {
    p = ws_run(p, end);
    if(*p == ',')
      goto next_element;
    if(*p == ']') {
      p++;
      goto closed;
    }
  }
  return fail(f, p, "expected ',' or ']'");

after_member:
  if(LIKELY(*p == ',')) {
next_member:
    p++;
    if(*p == ' ')
      p++;
    if(UNLIKELY(*p != '"')) {
      if(value_class[(unsigned char)*p] == V_WS)
        p = ws_run(p, end);
      if(*p != '"')
        return fail(f, p, "expected '\"'");
    }
key:                            /* at its opening quote */
    if(!(p = scan_str(p, end, f)))
      return NULL;
    if(LIKELY(*p == ':'))
      p++;
    else {
      p = ws(p, end);
      if(*p != ':')
        return fail(f, p, "expected ':'");
      p++;
    }
    if(*p == ' ')
      p++;
member:                         /* at a value or whitespace before it */
    if(*p == '"') {
      if(!(p = scan_str(p, end, f)))
        return NULL;
      goto after_member;
    }
    if((unsigned char)(*p - '1') < 9) {
      if(!(p = scan_natural(p, f)))
        return NULL;
      goto after_member;
    }
    k = value_class[(unsigned char)*p];
    if(k == V_ARR || k == V_OBJ)
      goto open;
    if(UNLIKELY(k == V_WS)) {
      p = ws_run(p, end);
      goto member;
    }
    if(!(p = scan_scalar(p, end, k, f)))
      return NULL;
    goto after_member;
  }
  if(*p == '}') {
    p++;
    goto closed;
  }
  if(value_class[(unsigned char)*p] == V_WS) {
    p = ws_run(p, end);
    if(*p == ',')
      goto next_member;
    if(*p == '}') {
      p++;
      goto closed;
    }
  }
  return fail(f, p, "expected ',' or '}'");

element_done:                   /* p after an element of the top list */
  if(*p != ',' && *p != ']')
    p = ws(p, end);
  if(*p == ',' && nt->next < nt->end) {
    const char *next = ws(p + 1, end);
    if(*next == '{') {          /* a record, the usual element, opened
                                 * here (at depth 1, below any cap) */
      p = next;
      *nt->next++ = p;
      close[d++] = '}';
      p++;
      if(LIKELY(*p == '"'))
        goto key;
      p = ws(p, end);
      if(*p == '"')
        goto key;
      if(*p != '}')
        return fail(f, p, "expected '\"' or '}'");
      p++;
      goto closed;
    }
    if(*next == '[') {
      p = next;
      *nt->next++ = p;
      goto open;
    }
  }
  return p;
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

const char *json_scan_value(const char *p, const char *end, int depth,
                            struct json_fail *f)
{
  return scan_value(p, end, depth, NULL, f);
}

const char *json_scan_elements(const char *p, const char *end,
                               const char **at, int max, int *n,
                               struct json_fail *f)
{
  struct notes nt;
  nt.next = at;
  nt.end = at + max;
  if((p = scan_value(p, end, 0, &nt, f)))
    *n = (int)(nt.next - at);
  return p;
}
