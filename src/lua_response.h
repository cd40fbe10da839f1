/*
 * lua_response.h - retryrun.Response: what a call returns (status, ok,
 * body, url, method, elapsed, attempts), its headers parsed on first use
 * into a case-insensitive retryrun.Headers table, resp:header(name) and
 * resp:json() (decoded once, by lua_json.c).
 */
#ifndef RETRYRUN_LUA_RESPONSE_H
#define RETRYRUN_LUA_RESPONSE_H

#include <lua.h>

struct transfer;

/* Pushes a Response for the finished transfer tr of a call to method
 * (url: the request's, when libcurl gave no effective URL). */
void lresp_push(lua_State *L, const struct transfer *tr, const char *method,
                const char *url, double elapsed, lua_Integer attempts);
/* The same, with the table of luax_keys at index keys. */
void lresp_new(lua_State *L, int keys, const struct transfer *tr,
               const char *method, const char *url, double elapsed,
               lua_Integer attempts);

/* Copies the value of the first header `name` (lower case) of the
 * Response at idx into buf (size bytes, cut to fit; "" when there is
 * none). Stack balanced. */
void lresp_header_copy(lua_State *L, int idx, const char *name, char *buf,
                       size_t size);

/* 1 when the value at idx is a Response. */
int lresp_is(lua_State *L, int idx);

/* Makes the Response and Headers metatables; adds Response and
 * response_methods (the methods' table, to which Lua modules may add) to
 * the table at the top (retryrun.core). */
void lresp_register(lua_State *L);

#endif
