/*
 * lua_check.c - checks of what a script gives retryrun (see lua_check.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_json.h"
#include "lua_check.h"
#include "luax.h"

/* The tchar of RFC 9110 section 5.6.2: what methods and header names are
 * made of. Plain ASCII ranges, whatever the locale. */
static int is_tchar(unsigned char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int check_is_token(const char *s, size_t n)
{
  size_t i;
  for(i = 0; i < n; i++)
    if(!is_tchar((unsigned char)s[i]))
      return 0;
  return n > 0;
}

/* Eight bytes with the value b each. */
#define BYTES8(b) (0x0101010101010101u * (uint64_t)(b))

/* Nonzero when one of the eight bytes of x is below 0x20 or is 0x7f
 * (bits above the first such byte may be set too). */
static uint64_t ctl_in(uint64_t x)
{
  uint64_t del = x ^ BYTES8(0x7f);
  return ((x - BYTES8(0x20)) & ~x & BYTES8(0x80)) |
         ((del - BYTES8(0x01)) & ~del & BYTES8(0x80));
}

/* Index of the first byte of s that may not appear in a header value or a
 * URL (a control character other than tab, or DEL), or n if none. Eight
 * bytes are passed at a time when none of them is one (the last eight
 * for the bytes after the last whole group); a group that has one (or a
 * tab) is looked at byte by byte. */
size_t check_find_ctl(const char *s, size_t n, int tab_ok)
{
  size_t i = 0, end;
  uint64_t x;
  while(i < n) {
    if(n - i >= 8) {
      memcpy(&x, s + i, 8);
      if(!ctl_in(x)) {
        i += 8;
        continue;
      }
      end = i + 8;
    }
    else {
      if(n >= 8) {
        memcpy(&x, s + n - 8, 8);
        if(!ctl_in(x))
          return n;
      }
      end = n;
    }
    for(; i < end; i++) {
      unsigned char ch = (unsigned char)s[i];
      if((ch < 0x20 && !(tab_ok && ch == '\t')) || ch == 0x7f)
        return i;
    }
  }
  return n;
}

/* Printable ASCII as it is, other bytes escaped. */
void check_show_bytes(char *d, size_t dn, const char *s, size_t n)
{
  size_t i, o = 0;
  d[o++] = '"';
  for(i = 0; i < n && i < CHECK_SHOW_MAX && o + 6 < dn; i++) {
    unsigned char ch = (unsigned char)s[i];
    if(ch == '\r' || ch == '\n' || ch == '\t' || ch == '"' || ch == '\\') {
      d[o++] = '\\';
      d[o++] = ch == '\r' ? 'r' : ch == '\n' ? 'n' : ch == '\t' ? 't' :
               (char)ch;
    }
    else if(ch < 0x20 || ch >= 0x7f)
      o += (size_t)snprintf(d + o, dn - o, "\\x%02x", ch);
    else
      d[o++] = (char)ch;
  }
  d[o++] = '"';
  if(i < n && o + 4 <= dn) {
    memcpy(d + o, "...", 3);
    o += 3;
  }
  d[o] = '\0';
}

/* Writes the number at idx into d as Lua's tostring writes it ("-1",
 * "0.5", "1e+99", "inf"), except NaN, which is "nan" whatever its sign;
 * any other value by its type name. Calls no metamethod. */
void check_show_number(lua_State *L, int idx, char *d, size_t dn)
{
  if(lua_type(L, idx) != LUA_TNUMBER)
    snprintf(d, dn, "%s", luaL_typename(L, idx));
  else if(lua_isinteger(L, idx))
    snprintf(d, dn, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
  else {
    lua_Number v = lua_tonumber(L, idx);
    if(v != v)
      snprintf(d, dn, "nan");
    else {
      snprintf(d, dn, LUA_NUMBER_FMT, (LUAI_UACNUMBER)v);
      if(d[strspn(d, "-0123456789")] == '\0' && strlen(d) + 3 <= dn)
        strcat(d, ".0");             /* a float that looks like an int */
    }
  }
}

/* The whole number at idx (an integer, or a float with an exact integer
 * value) into *out; 0 if it is not one. */
int check_whole_number(lua_State *L, int idx, lua_Integer *out)
{
  int isnum;
  *out = lua_tointegerx(L, idx, &isnum);
  return isnum && lua_type(L, idx) == LUA_TNUMBER;
}

/* Checks one string field of the multipart part at the top of the stack:
 * absent (when it may be), or a string with no control character (data
 * may hold any bytes). Returns 0, or 1 with the message in err. */
static int check_part_field(lua_State *L, lua_Integer i, const char *field,
                            int optional, char *err, size_t errlen)
{
  size_t len;
  const char *s;
  int type = lua_getfield(L, -1, field), bad = 0;
  if(type != LUA_TSTRING && !(type == LUA_TNIL && optional)) {
    snprintf(err, errlen, "multipart part %lld: %s must be a string (got "
             "%s)", (long long)i, field, luaL_typename(L, -1));
    bad = 1;
  }
  else if(type == LUA_TSTRING && strcmp(field, "data")) {
    s = lua_tolstring(L, -1, &len);
    if(len == 0 || check_find_ctl(s, len, 0) < len) {
      snprintf(err, errlen, "multipart part %lld: %s must not be empty or "
               "hold a control character", (long long)i, field);
      bad = 1;
    }
  }
  lua_pop(L, 1);
  return bad;
}

/* Checks req.multipart at the top of the stack: a list of 1 to
 * CHECK_MAX_PARTS parts, each {name = s, data = s} or {name = s, path =
 * s}, with filename and type optional; the names and paths of what
 * retryrun.http makes of multipart = {...}. Returns 0, or 1 with the
 * message in err. */
static int check_multipart(lua_State *L, char *err, size_t errlen)
{
  lua_Integer n, i;
  json_touch(L, -1);             /* a list from resp:json(), made whole */
  n = (lua_Integer)lua_rawlen(L, -1);
  if(n < 1 || n > CHECK_MAX_PARTS) {
    snprintf(err, errlen, "multipart must be a list of 1 to %d parts",
             CHECK_MAX_PARTS);
    return 1;
  }
  for(i = 1; i <= n; i++) {
    int bad, has_data, has_path;
    if(lua_rawgeti(L, -1, i) != LUA_TTABLE) {
      snprintf(err, errlen, "multipart part %lld must be a table (got %s)",
               (long long)i, luaL_typename(L, -1));
      lua_pop(L, 1);
      return 1;
    }
    has_data = lua_getfield(L, -1, "data") != LUA_TNIL;
    has_path = lua_getfield(L, -2, "path") != LUA_TNIL;
    lua_pop(L, 2);
    if(has_data == has_path) {
      snprintf(err, errlen, "multipart part %lld needs data (a string) or "
               "path (a file), one of them", (long long)i);
      bad = 1;
    }
    else
      bad = check_part_field(L, i, "name", 0, err, errlen) ||
            check_part_field(L, i, has_data ? "data" : "path", 0, err,
                             errlen) ||
            check_part_field(L, i, "filename", 1, err, errlen) ||
            check_part_field(L, i, "type", 1, err, errlen);
    lua_pop(L, 1);
    if(bad)
      return 1;
  }
  return 0;
}

/* What the checks of one request have seen of its fields so far. */
struct req_seen {
  int head;          /* the method is HEAD */
  int body;          /* a body (a string) */
};

/* The field named k (n bytes), or CHECK_FIELDS for a key check_request does
 * not read. */
static int req_field(const char *k, size_t n)
{
  switch(n) {
  case 3:
    return memcmp(k, "url", 3) ? CHECK_FIELDS : CHECK_URL;
  case 4:
    return memcmp(k, "body", 4) ? CHECK_FIELDS : CHECK_BODY;
  case 6:
    return !memcmp(k, "method", 6) ? CHECK_METHOD :
           !memcmp(k, "cacert", 6) ? CHECK_CACERT : CHECK_FIELDS;
  case 7:
    return !memcmp(k, "headers", 7) ? CHECK_HEADERS :
           !memcmp(k, "timeout", 7) ? CHECK_TIMEOUT : CHECK_FIELDS;
  case 8:
    return !memcmp(k, "insecure", 8) ? CHECK_INSECURE :
           !memcmp(k, "max_body", 8) ? CHECK_MAX_BODY : CHECK_FIELDS;
  case 9:
    return memcmp(k, "multipart", 9) ? CHECK_FIELDS : CHECK_MULTIPART;
  case 10:
    return memcmp(k, "compressed", 10) ? CHECK_FIELDS : CHECK_COMPRESSED;
  }
  return CHECK_FIELDS;
}

/* The length of "http://" or "https://" (in any case) when s starts so,
 * else 0: read byte by byte, for a check every call makes. */
static size_t http_prefix(const char *s, size_t len)
{
  if(len < 7 || (s[0] | 0x20) != 'h' || (s[1] | 0x20) != 't' ||
     (s[2] | 0x20) != 't' || (s[3] | 0x20) != 'p')
    return 0;
  if(s[4] == ':')
    return s[5] == '/' && s[6] == '/' ? 7 : 0;
  return len >= 8 && (s[4] | 0x20) == 's' && s[5] == ':' && s[6] == '/' &&
         s[7] == '/' ? 8 : 0;
}

/* Checks the value at the top of the stack as field f of a request, and
 * notes in *seen what the fields after it depend on; a body and a
 * multipart list together, or with HEAD, are check_request's to find.
 * Returns 0, or 1 with the message in err. May push values above the
 * one checked (check_request resets the stack). */
static int check_field(lua_State *L, int f, struct req_seen *seen,
                       char *err, size_t errlen)
{
  char shown[CHECK_SHOW_MAX * 4 + 8], got[64];
  const char *s;
  size_t len, at;
  int type = lua_type(L, -1);
  lua_Integer n;
  double v;

  switch(f) {
  case CHECK_METHOD:
    if(type == LUA_TNIL)
      return 0;
    if(type != LUA_TSTRING) {
      snprintf(err, errlen, "method must be a string (got %s)",
               luaL_typename(L, -1));
      return 1;
    }
    s = lua_tolstring(L, -1, &len);
    if(len > CHECK_METHOD_MAX || !check_is_token(s, len)) {
      check_show_bytes(shown, sizeof(shown), s, len);
      snprintf(err, errlen, "method must be a token of 1 to %d letters, "
               "digits and !#$%%&'*+-.^_`|~ (got %s)", (int)CHECK_METHOD_MAX,
               shown);
      return 1;
    }
    if(!strcmp(s, "CONNECT")) {
      snprintf(err, errlen, "method CONNECT opens a tunnel through a "
               "proxy: retryrun does not send it");
      return 1;
    }
    seen->head = !strcmp(s, "HEAD");
    return 0;
  case CHECK_URL:
    if(type != LUA_TSTRING) {
      snprintf(err, errlen, "request needs a url (a string, got %s)",
               luaL_typename(L, -1));
      return 1;
    }
    s = lua_tolstring(L, -1, &len);
    if(len == 0) {
      snprintf(err, errlen, "request needs a url (got an empty string)");
      return 1;
    }
    if((at = check_find_ctl(s, len, 0)) < len) {
      snprintf(err, errlen, "url has a control character (0x%02x at byte "
               "%zu): it cannot be sent", (unsigned char)s[at], at + 1);
      return 1;
    }
    if((at = http_prefix(s, len)) > 0) {
      const char *host = s + at;
      if(*host == '\0' || *host == '/' || *host == '?' || *host == '#') {
        snprintf(err, errlen, "url has no host after %.*s",
                 (int)(host - s), s);
        return 1;
      }
    }
    else {
      /* libcurl would guess http:// and every attempt would go astray */
      const char *sep = strstr(s, "://");
      if(sep && (size_t)(sep - s) < 16)
        snprintf(err, errlen, "url scheme '%.*s' is not http or https",
                 (int)(sep - s), s);
      else
        snprintf(err, errlen, "url must start with http:// or https://");
      return 1;
    }
    return 0;
  case CHECK_HEADERS:
    if(type != LUA_TNIL && type != LUA_TTABLE) {
      snprintf(err, errlen, "headers must be a table of name = value "
               "(got %s)", luaL_typename(L, -1));
      return 1;
    }
    return type == LUA_TTABLE && check_headers(L, err, errlen);
  case CHECK_BODY:
    if(type != LUA_TNIL && type != LUA_TSTRING) {
      snprintf(err, errlen, "body must be a string (got %s)",
               luaL_typename(L, -1));
      return 1;
    }
    seen->body = type == LUA_TSTRING;
    return 0;
  case CHECK_MULTIPART:
    if(type == LUA_TNIL)
      return 0;
    if(type != LUA_TTABLE) {
      snprintf(err, errlen, "multipart must be a list of parts (got %s)",
               luaL_typename(L, -1));
      return 1;
    }
    return check_multipart(L, err, errlen);
  case CHECK_COMPRESSED:
    if(type != LUA_TNIL && type != LUA_TBOOLEAN) {
      snprintf(err, errlen, "compressed must be true or false (got %s)",
               luaL_typename(L, -1));
      return 1;
    }
    return 0;
  case CHECK_CACERT:
    if(type != LUA_TNIL && type != LUA_TSTRING) {
      snprintf(err, errlen, "cacert must be the path of a CA bundle (a "
               "string, got %s)", luaL_typename(L, -1));
      return 1;
    }
    if(type == LUA_TSTRING) {
      s = lua_tolstring(L, -1, &len);
      if(len == 0 || check_find_ctl(s, len, 0) < len) {
        snprintf(err, errlen, "cacert must be the path of a CA bundle (got "
                 "%s)", len ? "a string with a control character" :
                 "an empty string");
        return 1;
      }
    }
    return 0;
  case CHECK_INSECURE:
    if(type != LUA_TNIL && type != LUA_TBOOLEAN) {
      snprintf(err, errlen, "insecure must be true or false (got %s)",
               luaL_typename(L, -1));
      return 1;
    }
    return 0;
  case CHECK_MAX_BODY:
    if(type != LUA_TNIL && (!check_whole_number(L, -1, &n) || n < 1)) {
      check_show_number(L, -1, got, sizeof(got));
      snprintf(err, errlen, "max_body must be a whole number of bytes >= 1 "
               "(got %s)", got);
      return 1;
    }
    return 0;
  case CHECK_TIMEOUT:
    if(type != LUA_TNIL && (type != LUA_TNUMBER ||
                            !((v = lua_tonumber(L, -1)) > 0) || v > 1e9)) {
      check_show_number(L, -1, got, sizeof(got));
      snprintf(err, errlen, "timeout must be a number of seconds above 0 "
               "and up to 1e9 (got %s)", got);
      return 1;
    }
    return 0;
  }
  return 0;
}

int check_request_field(lua_State *L, int f, char *err, size_t errlen)
{
  struct req_seen seen = {0, 0};
  return check_field(L, f, &seen, err, errlen);
}

/* A body or a multipart list where the fields seen allow none: HEAD, or
 * both. Returns 0, or 1 with the message in err. */
static int check_multipart_with(const struct req_seen *seen, char *err,
                                size_t errlen)
{
  if(seen->head || seen->body) {
    snprintf(err, errlen, seen->head ? "a HEAD request has no body" :
             "give body or multipart, not both");
    return 1;
  }
  return 0;
}

_Static_assert(LUAX_K_URL - LUAX_K_METHOD == CHECK_URL &&
               LUAX_K_HEADERS - LUAX_K_METHOD == CHECK_HEADERS &&
               LUAX_K_BODY - LUAX_K_METHOD == CHECK_BODY &&
               LUAX_K_MULTIPART - LUAX_K_METHOD == CHECK_MULTIPART &&
               LUAX_K_COMPRESSED - LUAX_K_METHOD == CHECK_COMPRESSED &&
               LUAX_K_CACERT - LUAX_K_METHOD == CHECK_CACERT &&
               LUAX_K_INSECURE - LUAX_K_METHOD == CHECK_INSECURE &&
               LUAX_K_MAX_BODY - LUAX_K_METHOD == CHECK_MAX_BODY &&
               LUAX_K_TIMEOUT - LUAX_K_METHOD == CHECK_TIMEOUT,
               "a request's fields in the order of luax.h's keys");

/* check_request's checks in their order, each field read as
 * lua_getfield would (metamethods and all): the first bad field is the
 * one reported. */
static int check_in_order(lua_State *L, int req, char *err, size_t errlen)
{
  struct req_seen seen = {0, 0};
  int keys = luax_keys(L), f, type;
  for(f = 0; f < CHECK_FIELDS; f++) {
    type = luax_getkey(L, req, keys, LUAX_K_METHOD + f);
    if(f == CHECK_BODY && type == LUA_TSTRING && seen.head) {
      snprintf(err, errlen, "a HEAD request has no body");
      return 1;
    }
    if(f == CHECK_MULTIPART && type == LUA_TTABLE &&
       check_multipart_with(&seen, err, errlen))
      return 1;
    if(check_field(L, f, &seen, err, errlen))
      return 1;
    lua_settop(L, keys);
  }
  return 0;
}

/* Checks the request table at index req (core.request's req, or the same
 * table after a before_attempt hook changed it) before anything is taken
 * or sent: method nil or a token; url a string with no control character
 * (a NUL would cut it short); headers nil or a table of token = string or
 * number, values with no control character but tab (a CR or LF would
 * inject a header); body nil or a string; multipart nil or a list of
 * parts, with no body and not for HEAD; compressed and insecure nil or a
 * boolean; cacert nil or a path; max_body nil or a whole number >= 1;
 * timeout nil or a number of seconds above 0. Returns 0, or 1 with the
 * message in err, which never shows a header value or the URL: they may
 * hold secrets. Leaves the stack as it found it.
 *
 * A table without a metatable is read in one pass over its keys; when
 * that finds anything wrong (or no url), the checks run again in their
 * order, so that the message is the one for the first bad field. */
int check_request(lua_State *L, int req, char *err, size_t errlen)
{
  struct req_seen seen = {0, 0};
  int top = lua_gettop(L), bad = 0, url = 0, multipart = 0;

  req = lua_absindex(L, req);
  if(lua_getmetatable(L, req))
    bad = 1;
  else {
    lua_pushnil(L);
    while(!bad && lua_next(L, req)) {
      size_t n;
      int f = CHECK_FIELDS, base = lua_gettop(L);
      if(lua_type(L, -2) == LUA_TSTRING) {
        const char *k = lua_tolstring(L, -2, &n);
        f = req_field(k, n);
      }
      if(f != CHECK_FIELDS && lua_type(L, -1) != LUA_TNIL) {
        url |= f == CHECK_URL;
        multipart |= f == CHECK_MULTIPART;
        bad = check_field(L, f, &seen, err, errlen);
      }
      lua_settop(L, base - 1);
    }
    bad = bad || !url || (seen.head && seen.body) ||
          (multipart && check_multipart_with(&seen, err, errlen));
  }
  lua_settop(L, top);
  if(bad) {
    bad = check_in_order(L, req, err, errlen);
    lua_settop(L, top);
  }
  return bad;
}

/* Edits (insertions, deletions, substitutions) between two short names;
 * more than 3 is reported as 3. */
static int distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b), i, j;
  int prev[33], cur[33];
  if(la > 32 || lb > 32)
    return 3;
  for(j = 0; j <= lb; j++)
    prev[j] = (int)j;
  for(i = 1; i <= la; i++) {
    cur[0] = (int)i;
    for(j = 1; j <= lb; j++) {
      int d = prev[j - 1] + (a[i - 1] != b[j - 1]);
      if(prev[j] + 1 < d)
        d = prev[j] + 1;
      if(cur[j - 1] + 1 < d)
        d = cur[j - 1] + 1;
      cur[j] = d;
    }
    memcpy(prev, cur, sizeof(int) * (lb + 1));
  }
  return prev[lb] > 3 ? 3 : prev[lb];
}

void check_suggest(const char *name, const char *const *known, char *out,
                   size_t n)
{
  const char *best = NULL;
  int bestd = 3, i;
  for(i = 0; known[i]; i++) {
    int d = distance(name, known[i]);
    /* the nearest; of two as near, the first in byte order, so that the
     * answer does not hang on the order of a table's keys */
    if(d < bestd || (d == bestd && best && strcmp(known[i], best) < 0)) {
      best = known[i];
      bestd = d;
    }
  }
  if(best)
    snprintf(out, n, " (did you mean '%s'?)", best);
  else if(n)
    out[0] = '\0';
}

/* core.suggest(name, known) -> " (did you mean 'x'?)" or "", for a name
 * and a table whose string keys are the known names: check_suggest for
 * retryrun's Lua modules (retryrun.check). */
static int lcore_suggest(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  const char *known[65];
  char out[96];
  int n = 0;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushnil(L);
  while(n < 64 && lua_next(L, 2)) {
    lua_pop(L, 1);
    if(lua_type(L, -1) == LUA_TSTRING)
      known[n++] = lua_tostring(L, -1);   /* the table keeps it */
  }
  known[n] = NULL;
  lua_settop(L, 2);
  check_suggest(name, known, out, sizeof(out));
  lua_pushstring(L, out);
  return 1;
}

void lcheck_register(lua_State *L)
{
  lua_pushcfunction(L, lcore_suggest);
  lua_setfield(L, -2, "suggest");
}
