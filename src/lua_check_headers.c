/*
 * lua_check_headers.c - the check of a request's headers table (see
 * lua_check.h): names that are tokens, none given twice in two cases,
 * none of the two that retryrun sets, values strings or numbers with no
 * control character.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "lua_check.h"
#include "lua_json.h"

/* Names compared one by one; a table with more is sorted once more. */
#define SEEN 32

static int twice(const char *a, const char *b, char *err, size_t errlen)
{
  snprintf(err, errlen, "header '%.*s' is given twice (as '%.*s' and "
           "'%.*s'): header names ignore case", CHECK_SHOW_MAX, b,
           CHECK_SHOW_MAX, a, CHECK_SHOW_MAX, b);
  return 1;
}

static int by_case(const void *a, const void *b)
{
  return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* The n names of the headers table at h (all strings, checked), sorted
 * regardless of case: two that are the same name are side by side. */
static int twice_past(lua_State *L, int h, size_t n, char *err,
                      size_t errlen)
{
  const char **names = malloc(n * sizeof(*names));
  size_t i = 0;
  int bad = 0;
  if(!names) {
    snprintf(err, errlen, "out of memory checking %zu headers", n);
    return 1;
  }
  lua_pushnil(L);
  while(lua_next(L, h)) {
    lua_pop(L, 1);
    if(i < n)
      names[i++] = lua_tostring(L, -1);
  }
  qsort(names, i, sizeof(*names), by_case);
  for(n = 1; n < i && !bad; n++)
    if(!strcasecmp(names[n - 1], names[n]))
      bad = twice(names[n - 1], names[n], err, errlen);
  free(names);
  return bad;
}

/* Checks the headers table at the top of the stack. Returns 0, or 1 with
 * the message in err; leaves the stack as it found it but for what a
 * failure pushed (check_request's caller resets it). */
int check_headers(lua_State *L, char *err, size_t errlen)
{
  char shown[CHECK_SHOW_MAX * 4 + 8];
  const char *s, *seen[SEEN];
  size_t len, at, i, nseen = 0;
  int type;

  json_touch(L, -1);             /* a table from resp:json(), made whole */
  lua_pushnil(L);
  while(lua_next(L, -2)) {
    const char *k;
    size_t klen;
    if(lua_type(L, -2) != LUA_TSTRING) {
      snprintf(err, errlen, "headers must be a table of name = value "
               "(got a %s key)", luaL_typename(L, -2));
      return 1;
    }
    k = lua_tolstring(L, -2, &klen);
    if(!check_is_token(k, klen)) {
      check_show_bytes(shown, sizeof(shown), k, klen);
      snprintf(err, errlen, "header name %s must be a token: letters, "
               "digits and !#$%%&'*+-.^_`|~", shown);
      return 1;
    }
    if(!strcasecmp(k, "content-length") ||
       !strcasecmp(k, "transfer-encoding")) {
      snprintf(err, errlen, "header '%s' is retryrun's to set, from the "
               "body: leave it out", k);
      return 1;
    }
    for(i = 0; i < nseen && i < SEEN; i++)
      if(!strcasecmp(seen[i], k))
        return twice(seen[i], k, err, errlen);
    if(nseen < SEEN)
      seen[nseen] = k;
    nseen++;
    type = lua_type(L, -1);
    if(type != LUA_TSTRING && type != LUA_TNUMBER) {
      snprintf(err, errlen, "header '%.*s' value must be a string or a "
               "number (got %s)", CHECK_SHOW_MAX, k, luaL_typename(L, -1));
      return 1;
    }
    if(type == LUA_TSTRING) {
      s = lua_tolstring(L, -1, &len);
      if((at = check_find_ctl(s, len, 1)) < len) {
        snprintf(err, errlen, "header '%.*s' value has a control "
                 "character (0x%02x at byte %zu)", CHECK_SHOW_MAX, k,
                 (unsigned char)s[at], at + 1);
        return 1;
      }
    }
    lua_pop(L, 1);
  }
  return nseen > SEEN ? twice_past(L, lua_gettop(L), nseen, err, errlen) : 0;
}
