/*
 * lua_json.h - strict JSON (RFC 8259) for Lua values: a decoder that
 * builds them directly on a Lua stack (lua_json_decode.c, with
 * lua_json_unescape.c for escaped strings), lazy views that build the
 * same values a container at a time, when a script first reaches them
 * (lua_json_lazy.c, over the validator of json_scan.c), for resp:json()
 * (lua_response.c) and scripts, and the encoder that matches them
 * (lua_json_encode.c), for json= (http.lua) and scripts; all reach
 * scripts as require "retryrun.json", through the functions and the array
 * metatable of lua_json.c. They use the Lua C API and nothing else: no
 * lua-cjson, no curl, no state of their own beyond registry entries, the
 * metatables.
 *
 * The decoder's mapping, and what it decides where RFC 8259 leaves a
 * choice:
 * - objects become plain tables (a duplicated key: the last one wins),
 *   arrays sequences 1..n whose metatable is the array metatable
 *   (json_push_array_mt), so that an empty array, {} in Lua, is encoded
 *   back as [] and an empty object as {};
 * - null is absent: an object member whose value is null is not set (so
 *   `t.k == nil` holds for it, and a later null for a repeated key removes
 *   the earlier value), and a whole text of null is nil; only inside an
 *   array, where nil would end the sequence, null is the light userdata
 *   NULL, the value lua-cjson's cjson.null is. A caller that must tell
 *   null from absent names the value null reads as, everywhere (NULL, to
 *   decode as lua-cjson does and encode back the same text);
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
 *
 * The encoder's mapping, the decoder's turned round:
 * - nil (only as the whole value) and the light userdata NULL are null;
 *   booleans are true and false;
 * - an integer is written exactly, every one from math.mininteger to
 *   math.maxinteger; a float is written in the fewest significant digits
 *   (15, 16 or 17) that strtod reads back as the same float, with ".0"
 *   added when they would read as an integer (3.0 is "3.0", -0.0 "-0.0"),
 *   so decoding gives back the same value and the same math.type; NaN and
 *   +-inf are errors;
 * - a string is written with '"', '\\' and the control characters escaped
 *   (\n, \t, ... or \u00XX), every other byte as it is; it must be valid
 *   UTF-8 (no overlong forms, surrogates or code points past U+10FFFF):
 *   anything else is an error, as JSON text is UTF-8;
 * - a table whose keys are exactly 1..n (n >= 1) is an array; a table
 *   whose keys are all strings is an object, its keys sorted by their
 *   bytes so the same table always gives the same text; an empty table is
 *   {} unless its metatable is the array metatable (or it is
 *   json.empty_array): then []. A table with
 *   both kinds of key, integer keys that are not 1..n, keys of another
 *   type, a string key in a table marked as an array, a table that
 *   contains itself, or nesting deeper than JSON_MAX_DEPTH is an error;
 * - functions, full userdata, threads and other light userdata are errors;
 * - tables are read raw: no metamethod (__index, __pairs, ...) is called,
 *   and metatables other than the array metatable are ignored.
 * An error names where the value was, as a path from the top in Lua's
 * terms (1-based indices): "json: cannot encode NaN at .items[3].price";
 * it never shows a value, only keys, shortened past a few dozen bytes.
 * A lazy view's containers not yet whole are made whole as the encoder
 * reaches them (json_touch), so it writes the text json_decode's value
 * would give.
 *
 * A lazy view (json_decode_lazy) is the decoder's value, the same in
 * everything a script can do with it, made a level at a time: the text is
 * checked in full first (a malformed text fails as json_decode does, with
 * the same message), then the top container's table is made with its
 * strings, numbers, booleans and nulls; an array or object inside it is
 * made, the same way, when it is first read. A table with members still
 * to make has a metatable (with __index, __newindex, __len, __pairs;
 * __name as the array metatable's, for an array) and a private key;
 * getmetatable, next, rawget, rawset, rawlen, setmetatable and
 * debug.getmetatable/setmetatable, in the versions ljson_lazy_register
 * (lua_json_raw.c) gives the host, make it whole first, so that none of
 * them sees it.
 * C code that reads a table raw (lua_next, lua_rawget, lua_rawlen) calls
 * json_touch on it first.
 */
#ifndef RETRYRUN_LUA_JSON_H
#define RETRYRUN_LUA_JSON_H

#include <stddef.h>

#include <lua.h>

#include "json_scan.h"          /* JSON_MAX_DEPTH */

/* Decodes the JSON text s[0..len) and pushes the value (one value; it
 * makes room on the stack itself), returning 0. null_idx is 0 for the
 * mapping above, or the stack index of the value null reads as wherever
 * it is (the caller keeps it there until the call returns). On malformed
 * input it
 * pushes nothing, returns -1 and writes into err (at most errlen bytes,
 * always terminated; err may be NULL when errlen is 0) what was expected
 * and the 1-based byte where it was not found, so that s:sub(n, n) in Lua
 * is that byte: "expected ',' or '}' at byte 57", or "... at byte 58 (end
 * of input)". Reads s only; allocates nothing itself. Raises a Lua error
 * only as any push may: out of memory. */
int json_decode(lua_State *L, const char *s, size_t len, int null_idx,
                char *err, size_t errlen);

/* Decodes the JSON text at stack index text_idx (a string, which the
 * view holds) as a lazy view (see above) and pushes it, returning 0; a
 * text whose value is not an array or object is decoded by json_decode.
 * null_idx, err, errlen and the failure are json_decode's, with the same
 * message for the same text. mts is 0, or n when the running C function
 * has json_push_lazy_mts's two tables as its upvalues n and n + 1 (they
 * are then not looked up). Raises only as any push may: out of memory. */
int json_decode_lazy(lua_State *L, int text_idx, int null_idx, int mts,
                     char *err, size_t errlen);

/* Pushes the metatables of a lazy view's arrays and objects not yet
 * whole, in that order; made on first use and kept in the registry. */
void json_push_lazy_mts(lua_State *L);

/* Makes the table at idx whole if it is part of a lazy view with members
 * still to make (one level: they are made as levels themselves), so that
 * raw reads see what json_decode would have built; any other value is
 * left alone. Pushes nothing; raises only out of memory. */
void json_touch(lua_State *L, int idx);

/* Checks the options table of json.decode or resp:json(), the C
 * function's argument arg (nil or none: no options): null, any value,
 * and lazy, a boolean, which sets *lazy (left alone when not given). When
 * it names a null value, pushes it and returns its index for json_decode;
 * else pushes nothing and returns 0. Raises a bad argument error for
 * anything but a table, a key other than "null" and "lazy", or a lazy
 * that is not a boolean. */
int json_options(lua_State *L, int arg, int *lazy);

/* The name of the array metatable (its __name, for tostring). */
#define JSON_ARRAY_MT "retryrun.json.array"

/* Pushes the array metatable, the one the decoder gives every array and
 * the encoder looks for on an empty table; made on first use and kept in
 * the registry. Raises only as any push may: out of memory. */
void json_push_array_mt(lua_State *L);

/* Pushes json.empty_array: one empty table, shared, that the encoder
 * writes as [] and that refuses new keys (its metatable's __newindex
 * raises; rawset can still change it, and then it is a table like any
 * other). Made on first use, kept in the registry; raises only as any
 * push may. */
void json_push_empty_array(lua_State *L);

/* Encodes the value at stack index idx and pushes the JSON text, returning
 * 0. On a value JSON cannot carry (see the mapping above) it pushes
 * nothing, returns -1 and writes into err (at most errlen bytes, always
 * terminated; err may be NULL when errlen is 0) what and where, starting
 * "json: ". Calls no Lua code; reads the value only. Its scratch memory
 * lives on the Lua stack, so it raises only as any push may: out of
 * memory, leaking nothing. */
int json_encode(lua_State *L, int idx, char *err, size_t errlen);

/* Sets, on the table at the top of the stack (retryrun.core):
 * json_decode (string [, options]) -> value (a lazy view with lazy =
 * true), raising the decoder's message;
 * json_encode (value) -> string, raising the encoder's message with the
 * caller's position; json_array_mt, the array metatable; json_null, the
 * light userdata NULL; json_empty_array. */
void ljson_register(lua_State *L);

/* Sets, on the table at the top of the stack (retryrun.core), json_base:
 * next, rawget, rawset, rawlen, getmetatable and setmetatable as the base
 * library's (and pairs, handing out that next), and json_debug:
 * getmetatable and setmetatable as the debug library's, each making a
 * lazy view's table whole before it looks (see above); the host puts
 * them in place of the standard ones. */
void ljson_lazy_register(lua_State *L);

/* core.json_unmade(v) -> how many members of the table v are still to
 * make (0: whole, or not a view's), for specs that check a view is lazy. */
int ljson_unmade(lua_State *L);

#endif
