/*
 * lua_json_decode.h - what the two files of the JSON decoder share, and
 * nothing else includes: the parser's state (struct jp), the scan over
 * the plain bytes of a string, and the two functions one file calls in
 * the other. lua_json_decode.c parses values and builds the tables;
 * lua_json_unescape.c decodes a string that has escapes. The public
 * interface is json_decode, in lua_json.h.
 *
 * scan_plain is here, static inline, because both files run it in their
 * inner loop; a call per string would cost what the eight-byte scan
 * saves.
 */
#ifndef RETRYRUN_LUA_JSON_DECODE_H
#define RETRYRUN_LUA_JSON_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lua.h>

#if defined(__GNUC__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#define NOINLINE
#define ALWAYS_INLINE inline
#endif

/* Object keys seen, each kept in a Lua stack slot (below everything the
 * decoder pushes) so that a repeated key is pushed with lua_pushvalue
 * instead of hashed and looked up again by lua_pushlstring: an array of
 * records repeats its keys in every record. Direct-mapped on the key's
 * length and end bytes; a key is compared with the input it came from. */
#define KEY_CACHE 32
#define KEY_CACHE_MAXLEN 40     /* Lua's LUAI_MAXSHORTLEN: longer strings
                                   are not interned, nothing to save */

struct key_entry {
  const char *s;          /* the key's bytes in the input; NULL: empty */
  size_t len;
};

struct jp {
  lua_State *L;
  const char *start;      /* the input, for byte offsets in messages */
  const char *end;
  int depth;              /* containers open */
  int cache_base;         /* stack index of the first key slot, 0: none */
  int mt_slot;            /* stack index of the array metatable */
  int null_idx;           /* stack index of what null reads as, or 0:
                             none in an object, the light userdata NULL
                             in an array, nil as the whole value */
  int stack_ok;           /* the Lua stack has room up to this index */
  char *err;
  size_t errlen;
  struct key_entry keys[KEY_CACHE];
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

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* The first byte at or after q that is not plain (or end). Eight bytes at
 * a time: in the mask below, the lowest flagged byte is exactly the first
 * '"', '\\' or control character (bytes above it may be flagged falsely,
 * by borrows), so on a little-endian machine its trailing zeros say where
 * it is; elsewhere the last word is finished byte by byte. */
static inline const char *scan_plain(const char *q, const char *end)
{
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

/* Writes "<what> at byte N" (N 1-based, from jp->start) into jp's error
 * buffer, adding " (end of input)" when at is past the end; returns NULL,
 * so that a parse step can return json_fail(...). Pushes nothing. */
const char *json_fail(struct jp *jp, const char *at, const char *what);

/* A string with escapes, or a malformed one: open is its opening quote
 * and q the first byte after it that is not plain. Pushes the decoded
 * string and returns the byte after its closing quote; or returns NULL
 * through json_fail, leaving a buffer on the stack (a box, to be closed,
 * when the string is long) for json_decode's lua_settop to close. */
const char *json_parse_string_escaped(struct jp *jp, const char *open,
                                      const char *q);

#endif
