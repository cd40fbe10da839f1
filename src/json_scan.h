/*
 * json_scan.h - JSON text checked and walked without building anything:
 * the validator behind lazy views (lua_json_lazy.c), the skip that steps
 * over a container already checked, and the byte scans the decoder
 * (lua_json_decode.c, lua_json_unescape.c) shares with both.
 *
 * Plain C over bytes: no Lua, no allocation, no state. A failure is
 * returned as where and what (struct json_fail); the caller writes the
 * message, so that the decoder and the validator say exactly the same
 * thing about the same text: "<what> at byte N". The grammar and the
 * choices are lua_json.h's.
 */
#ifndef RETRYRUN_JSON_SCAN_H
#define RETRYRUN_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hints.h"

/* Arrays and objects nested deeper than this are an error. */
#define JSON_MAX_DEPTH 1000


/* Where the text went wrong and what was wrong there: the byte at (the
 * end, for "end of input") and a message without position. */
struct json_fail {
  const char *at;
  const char *what;
};

/* 1 for a byte copied as it is inside a string: not '"', '\\' or a
 * control character (bytes >= 0x80 included: UTF-8 is not checked). */
static const unsigned char str_plain[256] = {
  0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
  1,1,0,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,
  1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,0,1,1,1,
  1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,
  1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,
  1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,
  1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,
  1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1
};

#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#define JSON_PLAIN16 1

/* A bit for each of the 16 bytes at q that is not plain (bit i: q[i]),
 * with the SSE2 every x86-64 has: '\\', and, in one comparison, '"' and
 * the bytes below 0x20, which are the bytes that XOR 2 maps to ' ' or
 * below (it maps '"' to ' ' and the bytes below 0x20 among themselves). */
static ALWAYS_INLINE unsigned json_not_plain16(const char *q)
{
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
  __m128i y = _mm_xor_si128(x, _mm_set1_epi8(2));
  __m128i quote_ctrl = _mm_cmpeq_epi8(_mm_min_epu8(y, _mm_set1_epi8(' ')), y);
  return (unsigned)_mm_movemask_epi8(
    _mm_or_si128(quote_ctrl, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
}
#endif

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* The first of the sixteen bytes at q that is not plain, or q + 16: the
 * bytes tested one by one, unrolled. Most strings in API bodies are short
 * (keys, names, ids), and for them this is the fast way: each test is a
 * branch the processor predicts, so it runs on into the bytes after the
 * string before the test is done, while a position computed from a mask
 * (json_not_plain16's trailing zeros) is a result it must wait for, about
 * as long as a short string takes byte by byte, and every string of a
 * body waits so in turn. The caller makes sure the sixteen bytes are
 * there, or that a byte which is not plain (the NUL after a Lua string)
 * comes first. */
static ALWAYS_INLINE const char *plain_first16(const char *q)
{
#define PLAIN_AT(k) \
  if(!str_plain[(unsigned char)q[k]]) \
    return q + k;
  PLAIN_AT(0) PLAIN_AT(1) PLAIN_AT(2) PLAIN_AT(3)
  PLAIN_AT(4) PLAIN_AT(5) PLAIN_AT(6) PLAIN_AT(7)
  PLAIN_AT(8) PLAIN_AT(9) PLAIN_AT(10) PLAIN_AT(11)
  PLAIN_AT(12) PLAIN_AT(13) PLAIN_AT(14) PLAIN_AT(15)
#undef PLAIN_AT
  return q + 16;
}

/* The first byte at or after q that is not plain (or end). The first
 * sixteen bytes one by one (plain_first16), then sixteen at a time where
 * SSE2 is, else eight: in the eight-byte mask the lowest flagged byte is
 * exactly the first '"', '\\' or control character (bytes above it may
 * be flagged falsely, by borrows), so on a little-endian machine its
 * trailing zeros say where it is; elsewhere the last word is finished
 * byte by byte. Inline: every string of every pass runs it, and a call
 * per string would cost what the scan saves. */
static ALWAYS_INLINE const char *plain_wide(const char *q, const char *end);

static ALWAYS_INLINE const char *plain_run(const char *q, const char *end)
{
  if(LIKELY(end - q >= 16)) {
    const char *r = plain_first16(q);
    if(r != q + 16)
      return r;
    q = r;
  }
  return plain_wide(q, end);
}

/* plain_run past its first sixteen bytes: sixteen or eight at a time. */
static ALWAYS_INLINE const char *plain_wide(const char *q, const char *end)
{
#ifdef JSON_PLAIN16
  while(end - q >= 16) {        /* sixteen at a time, where SSE2 is */
    unsigned mask = json_not_plain16(q);
    if(mask)
      return q + __builtin_ctz(mask);
    q += 16;
  }
#endif
  while(end - q >= 8) {
    uint64_t x, quote, bslash, mask;
    memcpy(&x, q, 8);
    quote = x ^ (ONES * '"');
    bslash = x ^ (ONES * '\\');
    /* (y - ONES) & ~y & HIGHS flags the bytes of y that are zero;
     * (x - 0x20 * ONES) & ~x & HIGHS the bytes of x below 0x20 */
    mask = (((quote - ONES) & ~quote) | ((bslash - ONES) & ~bslash) |
            ((x - ONES * 0x20) & ~x)) & HIGHS;
    if(mask) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      return q + (__builtin_ctzll(mask) >> 3);
#else
      break;
#endif
    }
    q += 8;
  }
  while(q < end && str_plain[(unsigned char)*q])
    q++;
  return q;
}

/* plain_run, inlined where the compiler judges it worth it: the
 * decoder's string reads and json_skip, which are not the hot loop
 * plain_run is forced into. */
static inline const char *scan_plain(const char *q, const char *end)
{
  return plain_run(q, end);
}

/* The first byte at or after p that is not JSON whitespace (or end). */
static inline const char *json_skip_ws(const char *p, const char *end)
{
  while(p < end && (unsigned char)*p <= ' ' &&
        (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  return p;
}

/* The value of the 4 hex digits at p, or -1. */
static inline long json_hex4(const char *p)
{
  long v = 0;
  int i;
  for(i = 0; i < 4; i++) {
    int c = (unsigned char)p[i];
    if(c >= '0' && c <= '9')
      c -= '0';
    else if((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
      c = (c | 0x20) - 'a' + 10;
    else
      return -1;
    v = v << 4 | c;
  }
  return v;
}

/* Checks the string whose opening quote is at open, given q, the first
 * byte after it that is not plain (scan_plain's answer): its end, its
 * escapes, in the order the decoder meets them (first the end and raw
 * control characters, then each escape). Returns its closing quote, or
 * NULL with f set: "unterminated string starting" (at open), "control
 * character in string", "invalid escape", "expected 4 hex digits after
 * \u" or "lone surrogate" (at the escape). */
const char *json_scan_string(const char *open, const char *q,
                             const char *end, struct json_fail *f);

/* Checks the JSON value whose first byte is p (whitespace skipped before
 * it, none after), inside depth containers already open; the text ends
 * at end, and *end must be a NUL byte, as a Lua string's is (a NUL inside
 * the text is only a wrong byte). Returns the byte after the value, or
 * NULL with f set to what the decoder would report first for the same
 * text. Uses no recursion: a nesting of any depth costs the same 1 KB of
 * C stack. */
const char *json_scan_value(const char *p, const char *end, int depth,
                            struct json_fail *f);

/* The elements of an array of the top level, from the one at p, an array
 * or object (whitespace skipped before it), as long as they are arrays or
 * objects and there are at most max of them: each is checked as
 * json_scan_value(p, end, 1, f) does and where it starts is noted in at[];
 * *n is their count. Returns the byte after the last one and its
 * whitespace (a ',' when more elements follow), or NULL with f set. */
const char *json_scan_elements(const char *p, const char *end,
                               const char **at, int max, int *n,
                               struct json_fail *f);

/* The byte after the array or object opening at p, in text that
 * json_scan_value has accepted (anything else: undefined). */
const char *json_skip(const char *p, const char *end);

#endif
