/*
 * lua_json.h - a strict JSON decoder (RFC 8259) that builds Lua values
 * directly on a Lua stack, for resp:json() (lua_http.c) and scripts
 * (retryrun.core.json_decode). It uses the Lua C API and nothing else:
 * no lua-cjson, no curl, no state of its own.
 *
 * The mapping, and what lua_json.c decides where RFC 8259 leaves a choice:
 * - objects become tables (a duplicated key: the last one wins), arrays
 *   sequences 1..n; an empty object and an empty array are both {};
 * - null is the light userdata NULL, the value lua-cjson's cjson.null is;
 * - a number written without fraction or exponent that fits in a
 *   lua_Integer is an integer ("-0" is the integer 0); every other number
 *   is a float, as strtod rounds it; one past the float range is +-inf
 *   (1e400, as lua-cjson gives), one below it 0.0;
 * - strings: every escape, \uXXXX with surrogate pairs, is decoded to UTF-8;
 *   a lone surrogate, a bad escape or a raw control character (< 0x20) is an
 *   error; bytes >= 0x80 are copied as they are, not checked as UTF-8;
 * - whitespace (space, tab, CR, LF) around the value is allowed; empty
 *   input, a byte order mark, anything after the value, and nesting deeper
 *   than JSON_MAX_DEPTH are errors.
 */
#ifndef RETRYRUN_LUA_JSON_H
#define RETRYRUN_LUA_JSON_H

#include <stddef.h>

#include <lua.h>

/* Arrays and objects nested deeper than this are an error. */
#define JSON_MAX_DEPTH 1000

/* Decodes the JSON text s[0..len) and pushes the value (one value; it
 * makes room on the stack itself), returning 0. On malformed input it
 * pushes nothing, returns -1 and writes into err (at most errlen bytes,
 * always terminated; err may be NULL when errlen is 0) what was expected
 * and the 1-based byte where it was not found, so that s:sub(n, n) in Lua
 * is that byte: "expected ',' or '}' at byte 57", or "... at byte 58 (end
 * of input)". Reads s only; allocates nothing itself. Raises a Lua error
 * only as any push may: out of memory. */
int json_decode(lua_State *L, const char *s, size_t len, char *err,
                size_t errlen);

/* Sets json_decode, a Lua function (string) -> value that raises the
 * message above, on the table at the top of the stack (retryrun.core). */
void ljson_register(lua_State *L);

#endif
