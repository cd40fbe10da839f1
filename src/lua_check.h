/*
 * lua_check.h - checks of what a script gives retryrun: tokens, control
 * characters, whole numbers, a request table as core.request takes it,
 * and how a bad value is shown in a message (never a header value or a
 * URL: they may hold secrets). "Did you mean" suggestions for names.
 *
 * Reads Lua values, runs no metamethod, raises nothing: each check returns
 * whether the value is good and leaves the message to its caller.
 */
#ifndef RETRYRUN_LUA_CHECK_H
#define RETRYRUN_LUA_CHECK_H

#include <stddef.h>
#include <lua.h>

/* Longest message about one bad value, and the most of a value shown. */
#define CHECK_MSG 320
#define CHECK_SHOW_MAX 40
/* The longest method a request may name. */
#define CHECK_METHOD_MAX 15
/* The most parts a multipart body may have. */
#define CHECK_MAX_PARTS 1000

/* 1 when s (n > 0 bytes) is an RFC 9110 token: a method or header name. */
int check_is_token(const char *s, size_t n);

/* Index of the first byte of s that may not appear in a header value or a
 * URL (a control character, but tab when tab_ok, or DEL), or n if none. */
size_t check_find_ctl(const char *s, size_t n, int tab_ok);

/* Writes s (n bytes) into d as a message shows it: quoted, escaped, at
 * most CHECK_SHOW_MAX bytes and then "...". dn >= CHECK_SHOW_MAX * 4 + 6. */
void check_show_bytes(char *d, size_t dn, const char *s, size_t n);

/* Checks the headers table at the top of the stack. Returns 0, or 1 with
 * the message in err; leaves the stack as it found it but for what a
 * failure pushed (check_request's caller resets it). */
int check_headers(lua_State *L, char *err, size_t errlen);

/* Writes the number at idx as tostring does (NaN as "nan"), or another
 * value's type name. */
void check_show_number(lua_State *L, int idx, char *d, size_t dn);

/* The whole number at idx (an integer, or a float with an integral value)
 * into *out; 0 if it is not one. */
int check_whole_number(lua_State *L, int idx, lua_Integer *out);

/* Checks a request table (see core.request) before anything is sent.
 * Returns 0, or 1 with the message in err. Leaves the stack as it was. */
int check_request(lua_State *L, int req, char *err, size_t errlen);

/* The fields of a request table check_request reads, in the order it
 * checks them (and the order of luax.h's keys, from LUAX_K_METHOD). */
enum check_field {
  CHECK_METHOD, CHECK_URL, CHECK_HEADERS, CHECK_BODY, CHECK_MULTIPART,
  CHECK_COMPRESSED, CHECK_CACERT, CHECK_INSECURE, CHECK_MAX_BODY,
  CHECK_TIMEOUT, CHECK_FIELDS
};

/* Checks the value at the top of the stack as field f of a request, as
 * check_request does, but on its own: a body or a multipart list with
 * HEAD, or with each other, is check_request's to find. Returns 0, or 1
 * with the message in err; may leave values above the one checked. */
int check_request_field(lua_State *L, int f, char *err, size_t errlen);

/* Writes " (did you mean 'x'?)" into out when name is at most two edits
 * from one of known (a NULL-terminated list), else "". */
void check_suggest(const char *name, const char *const *known, char *out,
                   size_t n);

/* Adds suggest to the table at the top (retryrun.core). */
void lcheck_register(lua_State *L);

#endif
