/*
 * lua_json_unescape.c - the decoder's slow path for strings: a JSON
 * string that has escapes (\n, \uXXXX with surrogate pairs) decoded to
 * UTF-8 and pushed as a Lua string, or the error that says which escape
 * was wrong (see lua_json.h for what is accepted).
 *
 * It uses the Lua C API (a luaL_Buffer, Lua's memory) and the parser's
 * state from lua_json_decode.h; it never touches the key cache, the
 * tables being built, lua-cjson, curl or the loop, and reads the input
 * only.
 */
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_json_decode.h"

/* The value of 4 hex digits at p, or -1. */
static long hex4(const char *p)
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

static char *put_utf8(char *o, unsigned long cp)
{
  if(cp < 0x80) {
    *o++ = (char)cp;
  }
  else if(cp < 0x800) {
    *o++ = (char)(0xC0 | cp >> 6);
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  else if(cp < 0x10000) {
    *o++ = (char)(0xE0 | cp >> 12);
    *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  else {
    *o++ = (char)(0xF0 | cp >> 18);
    *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
    *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  return o;
}

/* A string with escapes, or a malformed one: open is its opening quote and
 * q the first byte after it that is not plain. First finds the closing
 * quote, then decodes into a buffer of the raw length, which every escape
 * only shortens. On failure the buffer is left on the stack (a box, to be
 * closed, when the string is long) for json_decode's lua_settop to close.
 * Kept out of line: its luaL_Buffer is large, and must not sit in every
 * frame of the recursion. */
NOINLINE const char *json_parse_string_escaped(struct jp *jp,
                                               const char *open,
                                               const char *q)
{
  const char *s = open + 1, *end = jp->end, *r;
  luaL_Buffer b;
  char *out, *o;

  for(;;) {
    q = scan_plain(q, end);
    if(q >= end)
      return json_fail(jp, open, "unterminated string starting");
    if(*q == '"')
      break;
    if(*q != '\\')
      return json_fail(jp, q, "control character in string");
    if(end - q < 2)
      return json_fail(jp, open, "unterminated string starting");
    q += 2;
  }

  o = out = luaL_buffinitsize(jp->L, &b, (size_t)(q - s));
  for(r = s; r < q;) {
    const char *esc;
    long cp, lo;
    if(*r != '\\') {
      *o++ = *r++;
      continue;
    }
    esc = r;
    r += 2;
    switch(esc[1]) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '/': *o++ = '/'; break;
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u':
      if(q - r < 4 || (cp = hex4(r)) < 0)
        return json_fail(jp, esc, "expected 4 hex digits after \\u");
      r += 4;
      if(cp >= 0xD800 && cp <= 0xDBFF) {
        if(q - r < 6 || r[0] != '\\' || r[1] != 'u' ||
           (lo = hex4(r + 2)) < 0xDC00 || lo > 0xDFFF)
          return json_fail(jp, esc, "lone surrogate");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        r += 6;
      }
      else if(cp >= 0xDC00 && cp <= 0xDFFF) {
        return json_fail(jp, esc, "lone surrogate");
      }
      o = put_utf8(o, (unsigned long)cp);
      break;
    default:
      return json_fail(jp, esc, "invalid escape");
    }
  }
  luaL_pushresultsize(&b, (size_t)(o - out));
  return q + 1;
}
