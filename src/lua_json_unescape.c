/*
 * lua_json_unescape.c - the decoder's slow path for strings: a JSON
 * string that has escapes (\n, \uXXXX with surrogate pairs) decoded to
 * UTF-8 and pushed as a Lua string, or the error that says which escape
 * was wrong (see lua_json.h for what is accepted).
 *
 * It uses the Lua C API (a luaL_Buffer, Lua's memory), the parser's state
 * from lua_json_decode.h and json_scan_string (json_scan.c), which checks
 * the string first, so that the decoder and the validator of lazy views
 * say the same about it; it never touches the key cache, the tables being
 * built, lua-cjson, curl or the loop, and reads the input only.
 */
#include <lauxlib.h>

#include "lua_json_decode.h"

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
 * q the first byte after it that is not plain. json_scan_string checks it
 * and finds its end; then it is decoded into a buffer of the raw length,
 * which every escape only shortens. Kept out of line: its luaL_Buffer is
 * large, and must not sit in every frame of the recursion. */
NOINLINE const char *json_parse_string_escaped(struct jp *jp,
                                               const char *open,
                                               const char *q)
{
  const char *s = open + 1, *r;
  struct json_fail f;
  luaL_Buffer b;
  char *out, *o;

  if(!(q = json_scan_string(open, q, jp->end, &f)))
    return json_fail(jp, f.at, f.what);
  o = out = luaL_buffinitsize(jp->L, &b, (size_t)(q - s));
  for(r = s; r < q;) {
    long cp;
    if(*r != '\\') {
      *o++ = *r++;
      continue;
    }
    r += 2;
    switch(r[-1]) {
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u':
      cp = json_hex4(r);
      r += 4;
      if(cp >= 0xD800 && cp <= 0xDBFF) {     /* checked: a pair */
        cp = 0x10000 + ((cp - 0xD800) << 10) + (json_hex4(r + 2) - 0xDC00);
        r += 6;
      }
      o = put_utf8(o, (unsigned long)cp);
      break;
    default:                                /* '"', '\\' or '/' */
      *o++ = r[-1];
    }
  }
  luaL_pushresultsize(&b, (size_t)(o - out));
  return q + 1;
}
