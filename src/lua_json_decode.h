/*
 * lua_json_decode.h - what the files of the JSON decoder share, and
 * nothing else includes: the parser's state (struct jp) and the functions
 * one file calls in another. lua_json_decode.c parses values and builds
 * the tables; lua_json_unescape.c decodes a string that has escapes;
 * lua_json_lazy.c builds lazy views a level at a time, with the scalars
 * parsed here, and lua_json_raw.c has two of their metamethods. The byte
 * scans they share are json_scan.h's. The public
 * interface is lua_json.h.
 */
#ifndef RETRYRUN_LUA_JSON_DECODE_H
#define RETRYRUN_LUA_JSON_DECODE_H

#include <stddef.h>

#include <lua.h>

#include "json_scan.h"

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

/* Writes "<what> at byte N" (N 1-based, from jp->start) into jp's error
 * buffer, adding " (end of input)" when at is past the end; returns NULL,
 * so that a parse step can return json_fail(...). Pushes nothing. */
const char *json_fail(struct jp *jp, const char *at, const char *what);

/* p is at the first byte of a value that is not an array or object
 * (whitespace skipped): pushes it (null: the value at jp->null_idx, else
 * the light userdata NULL) and returns the byte after it; or returns NULL
 * through json_fail. Makes room for nothing: the caller has 4 slots. */
const char *json_parse_scalar(struct jp *jp, const char *p);

/* As json_parse_scalar, for p at a string's opening quote. */
const char *json_parse_string(struct jp *jp, const char *p);

/* A string with escapes, or a malformed one: open is its opening quote
 * and q the first byte after it that is not plain. Pushes the decoded
 * string and returns the byte after its closing quote; or returns NULL
 * through json_fail, pushing nothing. */
const char *json_parse_string_escaped(struct jp *jp, const char *open,
                                      const char *q);

/* __len and __pairs of a lazy view's table not yet whole
 * (lua_json_raw.c): each makes the table whole first. */
int json_lazy_len(lua_State *L);
int json_lazy_pairs(lua_State *L);

/* How many members of the table at idx, a lazy view's, are still to make
 * (0: whole, or not a view's). Leaves the stack as it was. */
lua_Integer json_lazy_unmade(lua_State *L, int idx);

#endif
