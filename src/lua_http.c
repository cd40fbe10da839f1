/*
 * lua_http.c - the retry engine's Lua face: retryrun.core.request (one
 * logical HTTP call, attempted under a policy), retryrun.core.call (a
 * function retried as a whole), compiled policies, responses and give-up
 * errors.
 *
 * One call is a small state machine in a "retryrun.Call" userdata. Each
 * step may call into Lua (before_attempt, valid, on_retry, on_giveup, the
 * wrapped function) through lua_pcallk, or wait on the loop (a transfer, a
 * backoff timer) through loop_yield; either way it comes back through
 * call_k, so predicates and hooks may themselves make HTTP calls and sleep.
 * The decisions are policy.c's; the HTTP is transfer.c's.
 *
 * Stack of a call, fixed for its whole life (S_* below):
 *   1 request table  2 policy table  3 Call  4 attempts list
 *   5 traceback handler  6 last response  7 last reason  8 function
 *   9 its arguments  10 its results
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <lauxlib.h>
#include <lualib.h>

#include "host.h"
#include "loop.h"
#include "lua_json.h"
#include "lua_task.h"
#include "policy.h"
#include "redact.h"
#include "runtime.h"
#include "transfer.h"

#define CALL_MT "retryrun.Call"
#define POLICY_MT "retryrun.CompiledPolicy"
#define RESPONSE_MT "retryrun.Response"
#define GIVEUP_MT "retryrun.GiveUp"
#define BOX_MT "retryrun.Box"

#define DEFAULT_MAX_BODY (64u * 1024 * 1024)
#define MAX_REDIRECTS 10

/* Seconds an on_giveup hook may wait at least: it runs after the call,
 * which may have given up at its deadline, so it may wait until that
 * deadline or this long after the give-up, whichever is later. */
#define ON_GIVEUP_GRACE 1.0

enum {
  S_REQ = 1, S_POL, S_CALL, S_ATT, S_TB, S_RESP, S_REASON, S_FN, S_ARGS,
  S_RES, S_TOP = S_RES
};

/* Where call_k resumes. */
enum step {
  K_BEFORE = 1, K_SLOT, K_TRANSFER, K_FN, K_VALID, K_ON_RETRY, K_WAIT, K_GIVEUP
};

struct call {
  struct policy pol;
  struct policy_call pc;
  struct policy_outcome out;
  struct policy_decision dec;
  struct transfer *tr;        /* the attempt in flight, owned */
  struct task *task;
  enum step k;
  int wrapper;                /* core.call: attempts run a function */
  int inner_error;            /* the function raised a give-up error, kept
                                 in S_RES */
  int raise;
  int has_valid, has_before, has_on_retry, has_on_giveup;
  size_t max_body;
  int insecure;
  char method[16];
  /* redirects of the attempt in flight: the hop's URL is the Call's user
   * value 1 */
  int hops;                   /* redirects followed */
  int hop_get;                /* a 303 (or a 301/302 after POST) made it a
                                 GET: no body, no Content-Type */
  int hop_cross;              /* it left the request's origin: no
                                 credentials */
  char hop_method[16];        /* the method of the next hop */
  char retry_after[96];       /* copy of the last Retry-After value */
  const char *giveup_note;    /* "interrupted", "cancelled", or NULL */
  double attempt_started;
  double timeout;             /* the call's timeout=, 0 for the policy's */
  double outer_deadline;      /* the task's wrap_deadline before this
                                 wrapper's function ran */
  int in_hook;                /* a hook runs: call_k restores the task's
                                 hook_deadline from outer_hook_deadline */
  double hook_until;          /* when the running hook's waits end */
  double outer_hook_deadline;
};

static char json_key, raw_headers_key;

/* ---- helpers ---- */

static struct call *get_call(lua_State *L)
{
  return lua_touserdata(L, S_CALL);
}

/* Idempotent: releases the transfer, taking it off the loop first. */
static void call_close(struct call *c)
{
  if(c->tr) {
    /* owner is set only while the transfer is in the multi handle, and
     * then its task is alive: it waits on this very transfer */
    if(c->tr->owner)
      loop_wait_cancel(c->tr->owner);
    transfer_release(c->tr);
    c->tr = NULL;
  }
}

static int lcall_gc(lua_State *L)
{
  call_close(luaL_checkudata(L, 1, CALL_MT));
  return 0;
}

/* Copies n bytes of s into d in lower case (header and parameter names). */
static void lower_copy(char *d, const char *s, size_t n)
{
  size_t i;
  for(i = 0; i < n; i++)
    d[i] = (char)tolower((unsigned char)s[i]);
}

static double field_number(lua_State *L, int t, const char *k, double def)
{
  double v = def;
  if(lua_getfield(L, t, k) != LUA_TNIL)
    v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

static int field_is_function(lua_State *L, int t, const char *k)
{
  int r = lua_getfield(L, t, k) == LUA_TFUNCTION;
  lua_pop(L, 1);
  return r;
}

/* Pushes text with every URL in it redacted and the values in vals (may
 * be NULL) hidden (redact.h). Raises a memory error if it must. */
static int lbox_gc(lua_State *L)
{
  char **box = lua_touserdata(L, 1);
  free(*box);
  *box = NULL;
  return 0;
}

static void push_redacted(lua_State *L, const char *text, size_t len,
                          const struct redact_values *vals)
{
  size_t n;
  /* the copy lives in a box until pushed, so a memory error in between
   * does not leak it */
  char **box = lua_newuserdatauv(L, sizeof(*box), 0);
  *box = NULL;
  luaL_setmetatable(L, BOX_MT);
  *box = redact_text(text, len, vals, &n);
  if(!*box)
    luaL_error(L, "not enough memory");
  lua_pushlstring(L, *box, n);
  free(*box);
  *box = NULL;
  lua_remove(L, -2);
}

static void push_redacted_url(lua_State *L, const char *url)
{
  push_redacted(L, url, strlen(url), NULL);
}

/* Collects the secret values of the request table at idx: its URL's, its
 * secret headers', its body's. The pointers borrow the table's strings:
 * use vals only while the table is alive and unchanged. */
static void collect_secrets(lua_State *L, int idx, struct redact_values *v)
{
  size_t n;
  const char *s;
  memset(v, 0, sizeof(*v));
  if(!lua_istable(L, idx))
    return;
  idx = lua_absindex(L, idx);
  if(lua_getfield(L, idx, "url") == LUA_TSTRING) {
    s = lua_tolstring(L, -1, &n);
    redact_collect_url(v, s, n);
  }
  if(lua_getfield(L, idx, "body") == LUA_TSTRING) {
    s = lua_tolstring(L, -1, &n);
    redact_collect_body(v, s, n);
  }
  lua_pop(L, 2);
  if(lua_getfield(L, idx, "headers") == LUA_TTABLE) {
    lua_pushnil(L);
    while(lua_next(L, -2)) {
      if(lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
        size_t kn;
        const char *k = lua_tolstring(L, -2, &kn);
        s = lua_tolstring(L, -1, &n);
        redact_collect_header(v, k, kn, s, n);
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

/* Replaces the string at idx with its redacted form: URLs, and the
 * secrets of the request table at req (0 for none). Other values are left
 * as they are. */
static void redact_at(lua_State *L, int idx, int req)
{
  struct redact_values v;
  size_t n;
  const char *s;
  idx = lua_absindex(L, idx);
  if(lua_type(L, idx) != LUA_TSTRING)
    return;
  s = lua_tolstring(L, idx, &n);
  if(req)
    collect_secrets(L, req, &v);
  push_redacted(L, s, n, req ? &v : NULL);
  lua_replace(L, idx);
}

/* core.redact(text [, req]) -> text with every URL in it redacted, and
 * the secret values of the request table req ({url=, headers=, body=})
 * hidden. */
static int lcore_redact(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  struct redact_values v;
  if(!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    collect_secrets(L, 2, &v);
  }
  push_redacted(L, s, n, lua_isnoneornil(L, 2) ? NULL : &v);
  return 1;
}

/* core.redact_names(name...): more query parameter and header names whose
 * values are never printed. */
static int lcore_redact_names(lua_State *L)
{
  int i, n = lua_gettop(L);
  for(i = 1; i <= n; i++) {
    size_t len;
    const char *s = luaL_checklstring(L, i, &len);
    if(redact_add_name(s, len))
      return luaL_argerror(L, i, "a name of 1 to 64 bytes expected");
  }
  return 0;
}

/* ---- compiled policies ---- */

static struct policy *check_policy(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, POLICY_MT);
}

/* ---- checks of what a script gives ---- */

/* Longest message about one bad value, and the most of the value shown. */
#define CHECK_MSG 320
#define SHOW_MAX 40

/* The tchar of RFC 9110 section 5.6.2: what methods and header names are
 * made of. Plain ASCII ranges, whatever the locale. */
static int is_tchar(unsigned char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int is_token(const char *s, size_t n)
{
  size_t i;
  for(i = 0; i < n; i++)
    if(!is_tchar((unsigned char)s[i]))
      return 0;
  return n > 0;
}

/* Index of the first byte of s that may not appear in a header value or a
 * URL (a control character other than tab, or DEL), or n if none. */
static size_t find_ctl(const char *s, size_t n, int tab_ok)
{
  size_t i;
  for(i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if((ch < 0x20 && !(tab_ok && ch == '\t')) || ch == 0x7f)
      return i;
  }
  return n;
}

/* Writes s (n bytes) into d as a message shows it: in double quotes,
 * printable ASCII as it is, other bytes escaped, at most SHOW_MAX bytes of
 * s and then "...". d must hold at least SHOW_MAX * 4 + 6 bytes. */
static void show_bytes(char *d, size_t dn, const char *s, size_t n)
{
  size_t i, o = 0;
  d[o++] = '"';
  for(i = 0; i < n && i < SHOW_MAX && o + 6 < dn; i++) {
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
static void show_number(lua_State *L, int idx, char *d, size_t dn)
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
static int whole_number(lua_State *L, int idx, lua_Integer *out)
{
  int isnum;
  *out = lua_tointegerx(L, idx, &isnum);
  return isnum && lua_type(L, idx) == LUA_TNUMBER;
}

/* The longest method: what struct call keeps of it. */
#define METHOD_MAX (sizeof(((struct call *)0)->method) - 1)

/* Checks the request table at index req (core.request's req, or the same
 * table after a before_attempt hook changed it) before anything is taken
 * or sent: method nil or a token; url a string with no control character
 * (a NUL would cut it short); headers nil or a table of token = string or
 * number, values with no control character but tab (a CR or LF would
 * inject a header); body nil or a string; cacert nil or a path; insecure
 * nil or a boolean; max_body nil or a whole number >= 1; timeout nil or a
 * number of seconds above 0. Returns 0, or 1 with the message in err,
 * which never shows a header value or the URL: they may hold secrets.
 * Leaves the stack as it found it; calls no metamethod. */
static int request_check(lua_State *L, int req, char *err, size_t errlen)
{
  char shown[SHOW_MAX * 4 + 8], got[64];
  const char *s;
  size_t len, at;
  int top = lua_gettop(L), bad = 1, type;
  lua_Integer n;
  double v;

  req = lua_absindex(L, req);
  type = lua_getfield(L, req, "method");
  if(type != LUA_TNIL && type != LUA_TSTRING) {
    snprintf(err, errlen, "method must be a string (got %s)",
             luaL_typename(L, -1));
    goto out;
  }
  if(type == LUA_TSTRING) {
    s = lua_tolstring(L, -1, &len);
    if(len > METHOD_MAX || !is_token(s, len)) {
      show_bytes(shown, sizeof(shown), s, len);
      snprintf(err, errlen, "method must be a token of 1 to %d letters, "
               "digits and !#$%%&'*+-.^_`|~ (got %s)", (int)METHOD_MAX,
               shown);
      goto out;
    }
  }
  if(lua_getfield(L, req, "url") != LUA_TSTRING) {
    snprintf(err, errlen, "request needs a url (a string, got %s)",
             luaL_typename(L, -1));
    goto out;
  }
  s = lua_tolstring(L, -1, &len);
  if(len == 0) {
    snprintf(err, errlen, "request needs a url (got an empty string)");
    goto out;
  }
  if((at = find_ctl(s, len, 0)) < len) {
    snprintf(err, errlen, "url has a control character (0x%02x at byte "
             "%zu): it cannot be sent", (unsigned char)s[at], at + 1);
    goto out;
  }
  if(strncasecmp(s, "http://", 7) && strncasecmp(s, "https://", 8)) {
    /* libcurl would guess http:// and every attempt would go astray */
    const char *sep = strstr(s, "://");
    if(sep && (size_t)(sep - s) < 16)
      snprintf(err, errlen, "url scheme '%.*s' is not http or https",
               (int)(sep - s), s);
    else
      snprintf(err, errlen, "url must start with http:// or https://");
    goto out;
  }
  type = lua_getfield(L, req, "headers");
  if(type != LUA_TNIL && type != LUA_TTABLE) {
    snprintf(err, errlen, "headers must be a table of name = value "
             "(got %s)", luaL_typename(L, -1));
    goto out;
  }
  if(type == LUA_TTABLE) {
    lua_pushnil(L);
    while(lua_next(L, -2)) {
      const char *k;
      size_t klen;
      if(lua_type(L, -2) != LUA_TSTRING) {
        snprintf(err, errlen, "headers must be a table of name = value "
                 "(got a %s key)", luaL_typename(L, -2));
        goto out;
      }
      k = lua_tolstring(L, -2, &klen);
      if(!is_token(k, klen)) {
        show_bytes(shown, sizeof(shown), k, klen);
        snprintf(err, errlen, "header name %s must be a token: letters, "
                 "digits and !#$%%&'*+-.^_`|~", shown);
        goto out;
      }
      type = lua_type(L, -1);
      if(type != LUA_TSTRING && type != LUA_TNUMBER) {
        snprintf(err, errlen, "header '%.*s' value must be a string or a "
                 "number (got %s)", SHOW_MAX, k, luaL_typename(L, -1));
        goto out;
      }
      if(type == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &len);
        if((at = find_ctl(s, len, 1)) < len) {
          snprintf(err, errlen, "header '%.*s' value has a control "
                   "character (0x%02x at byte %zu)", SHOW_MAX, k,
                   (unsigned char)s[at], at + 1);
          goto out;
        }
      }
      lua_pop(L, 1);
    }
  }
  type = lua_getfield(L, req, "body");
  if(type != LUA_TNIL && type != LUA_TSTRING) {
    snprintf(err, errlen, "body must be a string (got %s)",
             luaL_typename(L, -1));
    goto out;
  }
  type = lua_getfield(L, req, "cacert");
  if(type != LUA_TNIL && type != LUA_TSTRING) {
    snprintf(err, errlen, "cacert must be the path of a CA bundle (a "
             "string, got %s)", luaL_typename(L, -1));
    goto out;
  }
  if(type == LUA_TSTRING) {
    s = lua_tolstring(L, -1, &len);
    if(len == 0 || (at = find_ctl(s, len, 0)) < len) {
      snprintf(err, errlen, "cacert must be the path of a CA bundle (got "
               "%s)", len ? "a string with a control character" :
               "an empty string");
      goto out;
    }
  }
  type = lua_getfield(L, req, "insecure");
  if(type != LUA_TNIL && type != LUA_TBOOLEAN) {
    snprintf(err, errlen, "insecure must be true or false (got %s)",
             luaL_typename(L, -1));
    goto out;
  }
  if(lua_getfield(L, req, "max_body") != LUA_TNIL &&
     (!whole_number(L, -1, &n) || n < 1)) {
    show_number(L, -1, got, sizeof(got));
    snprintf(err, errlen, "max_body must be a whole number of bytes >= 1 "
             "(got %s)", got);
    goto out;
  }
  if(lua_getfield(L, req, "timeout") != LUA_TNIL &&
     (lua_type(L, -1) != LUA_TNUMBER || !((v = lua_tonumber(L, -1)) > 0) ||
      v > 1e9)) {
    show_number(L, -1, got, sizeof(got));
    snprintf(err, errlen, "timeout must be a number of seconds above 0 and "
             "up to 1e9 (got %s)", got);
    goto out;
  }
  bad = 0;
out:
  lua_settop(L, top);
  return bad;
}

/* Why an HTTP call cannot start here, or NULL: outside a task, or where
 * the task cannot wait. */
static const char *call_cannot_start(lua_State *L)
{
  if(!task_current(L))
    return "HTTP calls run inside a task";
  if(!lua_isyieldable(L))
    return "an HTTP call cannot wait here: it runs inside require, a "
           "metamethod, table.sort or another C function; make the call "
           "outside it";
  return NULL;
}

/* Raises msg at the script's line (host_where). */
static int raise_at_script(lua_State *L, const char *msg)
{
  host_where(L);
  lua_pushstring(L, msg);
  lua_concat(L, 2);
  return lua_error(L);
}

/* Reads number field k of table t (def when absent) for the policy field
 * named label; raises unless it is a number from lo to 1e9. unit is " of
 * seconds" or "". Leaves the stack as it found it. */
static double check_seconds(lua_State *L, int t, const char *k,
                            const char *label, double def, double lo,
                            const char *unit)
{
  double v = def;
  if(lua_getfield(L, t, k) != LUA_TNIL) {
    v = lua_tonumber(L, -1);
    if(lua_type(L, -1) != LUA_TNUMBER || !(v >= lo) || v > 1e9) {
      char got[64], from[32];
      show_number(L, -1, got, sizeof(got));
      snprintf(from, sizeof(from), "%g", lo);
      luaL_error(L, "policy field '%s' must be a number%s from %s to 1e9 "
                 "(got %s)", label, unit, from, got);
    }
  }
  lua_pop(L, 1);
  return v;
}

static void compile_retry_on(lua_State *L, struct policy *p, int t)
{
  lua_Integer i, n, count = 0;
  if(lua_getfield(L, t, "retry_on") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if(!lua_istable(L, -1))
    luaL_error(L, "policy field 'retry_on' must be a list of statuses and "
               "failure classes (got %s)", luaL_typename(L, -1));
  policy_clear_retry_on(p);
  n = luaL_len(L, -1);
  for(i = 1; i <= n; i++) {
    int type = lua_rawgeti(L, -1, i);
    lua_Integer status;
    if(type == LUA_TNUMBER && whole_number(L, -1, &status)) {
      if(status < POLICY_MIN_STATUS || status > POLICY_MAX_STATUS)
        luaL_error(L, "retry_on: %I is not an HTTP status (100 to 599)",
                   (LUAI_UACINT)status);
      policy_set_status(p, (int)status, 1);
    }
    else if(type == LUA_TSTRING) {
      const char *s = lua_tostring(L, -1);
      int cls = policy_class_from_name(s);
      if(cls > 0 && cls != POLICY_TOO_LARGE)
        p->retry_class |= 1u << cls;
      else if(strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' &&
              s[1] == 'x' && s[2] == 'x') {
        int st, base = (s[0] - '0') * 100;
        for(st = base; st < base + 100; st++)
          policy_set_status(p, st, 1);
      }
      else
        luaL_error(L, "retry_on: unknown failure class '%s' (known: "
                   "connect, dns, timeout, reset, tls, other, or a status "
                   "like 503 or \"5xx\")", s);
    }
    else {
      char got[64];
      show_number(L, -1, got, sizeof(got));
      luaL_error(L, "retry_on: entry %I must be a status or a failure "
                 "class (got %s)", (LUAI_UACINT)i, got);
    }
    lua_pop(L, 1);
  }
  /* a key outside 1..n would be ignored: say so instead */
  lua_pushnil(L);
  while(lua_next(L, -2)) {
    lua_pop(L, 1);
    count++;
  }
  if(count != n)
    luaL_error(L, "policy field 'retry_on' must be a list (1, 2, ... with "
               "no other keys)");
  lua_pop(L, 1);
}

/* core.compile(fields) -> CompiledPolicy. Reads the plain-data fields of a
 * policy table; raises naming the field on a wrong type or range, with no
 * position: retryrun.retry raises it again at the script's line. */
static int lcore_compile(lua_State *L)
{
  struct policy *p;
  int type;
  char got[64];
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  p = lua_newuserdatauv(L, sizeof(*p), 0);
  policy_init(p);
  luaL_setmetatable(L, POLICY_MT);

  type = lua_getfield(L, 1, "attempts");
  if(type != LUA_TNIL) {
    lua_Integer n;
    if(!whole_number(L, -1, &n) || n < 1 || n > 1000) {
      show_number(L, -1, got, sizeof(got));
      return luaL_error(L, "policy field 'attempts' must be a whole number "
                        "from 1 to 1000 (got %s)", got);
    }
    p->attempts = (int)n;
  }
  lua_pop(L, 1);
  compile_retry_on(L, p, 1);
  type = lua_getfield(L, 1, "backoff");
  if(type == LUA_TTABLE) {
    int b = lua_gettop(L);
    p->initial = check_seconds(L, b, "initial", "backoff.initial",
                               p->initial, 0, " of seconds");
    p->factor = check_seconds(L, b, "factor", "backoff.factor", p->factor,
                              1, "");
    p->max = check_seconds(L, b, "max", "backoff.max", p->max, 0,
                           " of seconds");
    if(lua_getfield(L, b, "jitter") != LUA_TNIL) {
      int j = lua_type(L, -1) == LUA_TSTRING ?
              policy_jitter_from_name(lua_tostring(L, -1)) : -1;
      if(j < 0)                      /* a string as it is, else its type */
        return luaL_error(L, "backoff.jitter must be \"full\", \"equal\", "
                          "\"decorrelated\" or \"none\" (got %s)",
                          lua_type(L, -1) == LUA_TSTRING ?
                          lua_tostring(L, -1) : luaL_typename(L, -1));
      p->jitter = (enum policy_jitter)j;
    }
    lua_pop(L, 1);
  }
  else if(type != LUA_TNIL)
    return luaL_error(L, "policy field 'backoff' must be a table like "
                      "{initial=0.1, factor=2, max=10, jitter=\"full\"} "
                      "(got %s)", luaL_typename(L, -1));
  lua_pop(L, 1);
  /* a deadline must leave time for an attempt: at least the shortest
   * timeout */
  p->deadline = check_seconds(L, 1, "deadline", "deadline", p->deadline,
                              0.001, " of seconds");
  p->timeout = check_seconds(L, 1, "timeout", "timeout", p->timeout, 0.001,
                             " of seconds");
  p->connect_timeout = check_seconds(L, 1, "connect_timeout",
                                     "connect_timeout", p->connect_timeout,
                                     0.001, " of seconds");
  p->max_retry_after = check_seconds(L, 1, "max_retry_after",
                                     "max_retry_after", p->max_retry_after,
                                     0, " of seconds");
  if(lua_getfield(L, 1, "retry_after") != LUA_TNIL)
    p->retry_after = lua_toboolean(L, -1);
  if(lua_getfield(L, 1, "unsafe") != LUA_TNIL)
    p->unsafe = lua_toboolean(L, -1);
  /* the key's header name goes on the wire */
  if(lua_getfield(L, 1, "idempotency_key") != LUA_TNIL &&
     !lua_isboolean(L, -1)) {
    size_t len = 0;
    const char *s = lua_type(L, -1) == LUA_TSTRING ?
                    lua_tolstring(L, -1, &len) : NULL;
    if(!s || !is_token(s, len)) {
      char shown[SHOW_MAX * 4 + 8];
      if(s)
        show_bytes(shown, sizeof(shown), s, len);
      else
        snprintf(shown, sizeof(shown), "%s", luaL_typename(L, -1));
      return luaL_error(L, "policy field 'idempotency_key' must be true, "
                        "false or a header name (a token of letters, "
                        "digits and !#$%%&'*+-.^_`|~) (got %s)", shown);
    }
  }
  lua_settop(L, 2);
  return 1;
}

/* core.backoff(compiled, n [, prev]) -> the delay before retry n, drawn
 * from the run's seeded generator. */
static int lcore_backoff(lua_State *L)
{
  struct policy *p = check_policy(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  double prev = luaL_optnumber(L, 3, 0);
  luaL_argcheck(L, n >= 1, 2, "retry number must be >= 1");
  lua_pushnumber(L, policy_backoff(p, (int)n, prev, &runtime_of(L)->rng));
  return 1;
}

/* core.seed(n): reseeds the generator behind jitter. */
static int lcore_seed(lua_State *L)
{
  policy_rng_seed(&runtime_of(L)->rng, (uint64_t)luaL_checkinteger(L, 1));
  return 0;
}

/* core.uuid() -> a random UUIDv4, from the kernel's generator (never from
 * the seeded one: keys must differ between two runs with the same seed). */
static int lcore_uuid(lua_State *L)
{
  unsigned char r[16];
  char s[37];
  if(getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
    size_t i;
    for(i = 0; i < sizeof(r); i++)   /* never in practice */
      r[i] = (unsigned char)(policy_rng_u64(&runtime_of(L)->rng) >> 56);
  }
  r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
  r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
  snprintf(s, sizeof(s),
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
           r[10], r[11], r[12], r[13], r[14], r[15]);
  lua_pushstring(L, s);
  return 1;
}

/* core.in_wrapper() -> inside a function wrapped by a policy, the seconds
 * left before the wrapper's deadline; else false. */
static int lcore_in_wrapper(lua_State *L)
{
  struct task *t = task_current(L);
  if(t && t->wrap_depth > 0)
    lua_pushnumber(L, t->wrap_deadline - loop_now());
  else
    lua_pushboolean(L, 0);
  return 1;
}

/* ---- responses ---- */

/* Case-insensitive lookups in resp.headers. */
static int lheaders_index(lua_State *L)
{
  size_t n;
  const char *k = lua_tolstring(L, 2, &n);
  char name[256];
  if(!k || n >= sizeof(name))
    return 0;
  lower_copy(name, k, n);
  lua_pushlstring(L, name, n);
  lua_rawget(L, 1);
  return 1;
}

/* Pushes the headers table parsed from "name: value\r\n" lines; keys are
 * lower case, repeated headers are joined with ", ". */
static void push_headers(lua_State *L, const char *p, size_t len)
{
  const char *end = p + len;
  char name[256];
  lua_createtable(L, 0, 8);
  luaL_setmetatable(L, "retryrun.Headers");
  while(p && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *colon, *v, *ve;
    size_t n;
    if(!eol)
      eol = end;
    colon = memchr(p, ':', (size_t)(eol - p));
    if(colon && (n = (size_t)(colon - p)) > 0 && n < sizeof(name)) {
      lower_copy(name, p, n);
      v = colon + 1;
      ve = eol;
      while(v < ve && (*v == ' ' || *v == '\t'))
        v++;
      while(ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
      lua_pushlstring(L, name, n);
      if(lua_rawget(L, -2) == LUA_TSTRING) {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, v, (size_t)(ve - v));
        lua_concat(L, 3);
      }
      else {
        lua_pop(L, 1);
        lua_pushlstring(L, v, (size_t)(ve - v));
      }
      lua_pushlstring(L, name, n);
      lua_insert(L, -2);
      lua_rawset(L, -3);
    }
    p = eol + 1;
  }
}

/* Pushes a Response for the finished transfer of call c. */
static void push_response(lua_State *L, struct call *c, const char *url)
{
  struct transfer *tr = c->tr;
  lua_createtable(L, 0, 9);
  luaL_setmetatable(L, RESPONSE_MT);
  lua_pushinteger(L, tr->status);
  lua_setfield(L, -2, "status");
  lua_pushboolean(L, tr->status >= 200 && tr->status < 300);
  lua_setfield(L, -2, "ok");
  lua_pushlstring(L, tr->resp_body.data ? tr->resp_body.data : "",
                  tr->resp_body.len);
  lua_setfield(L, -2, "body");
  lua_pushstring(L, tr->effective_url ? tr->effective_url : url);
  lua_setfield(L, -2, "url");
  lua_pushstring(L, c->method);
  lua_setfield(L, -2, "method");
  lua_pushnumber(L, loop_now() - c->pc.started);
  lua_setfield(L, -2, "elapsed");
  lua_pushinteger(L, c->pc.attempt);
  lua_setfield(L, -2, "attempts");
  /* the header lines as they came: resp.headers parses them when asked */
  lua_pushlstring(L, tr->resp_headers.data ? tr->resp_headers.data : "",
                  tr->resp_headers.len);
  lua_rawsetp(L, -2, &raw_headers_key);
}

/* Response __index: resp.headers is parsed from the raw header lines on
 * first use and kept; other names are the methods (upvalue 1). */
static int lresp_index(lua_State *L)
{
  size_t len;
  const char *k = lua_tolstring(L, 2, &len);
  if(k && len == 7 && !memcmp(k, "headers", 7) &&
     lua_rawgetp(L, 1, &raw_headers_key) == LUA_TSTRING) {
    const char *raw = lua_tolstring(L, -1, &len);
    push_headers(L, raw, len);
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, "headers");
    return 1;
  }
  lua_settop(L, 2);
  lua_gettable(L, lua_upvalueindex(1));
  return 1;
}

/* resp:header(name) -> the value, case-insensitive, or nil. */
static int lresp_header(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkstring(L, 2);
  lua_getfield(L, 1, "headers");
  if(!lua_istable(L, -1))
    return 0;
  lua_pushvalue(L, 2);
  lua_gettable(L, -2);
  return 1;
}

/* resp:json() -> the decoded body, decoded once and cached. Raises naming
 * the method, URL and status when the body is not JSON. */
static int lresp_json(lua_State *L)
{
  size_t len;
  const char *body;
  char err[128];
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if(lua_rawgetp(L, 1, &json_key) != LUA_TNIL)
    return 1;
  lua_getfield(L, 1, "body");
  body = lua_tolstring(L, -1, &len);
  if(!body || len == 0)
    snprintf(err, sizeof(err), "the body is empty");
  else if(json_decode(L, body, len, err, sizeof(err)) == 0) {
    lua_pushvalue(L, -1);
    lua_rawsetp(L, 1, &json_key);
    return 1;
  }
  lua_getfield(L, 1, "method");
  lua_getfield(L, 1, "url");
  redact_at(L, -1, 0);
  lua_getfield(L, 1, "status");
  return luaL_error(L, "response to %s %s (status %s) is not JSON: %s",
                    lua_tostring(L, -3), lua_tostring(L, -2),
                    lua_tostring(L, -1), err);
}

static int lresp_tostring(lua_State *L)
{
  lua_getfield(L, 1, "method");
  lua_getfield(L, 1, "url");
  redact_at(L, -1, 0);
  lua_getfield(L, 1, "status");
  lua_pushfstring(L, "retryrun.Response (%s %s: %s)", lua_tostring(L, -3),
                  lua_tostring(L, -2), lua_tostring(L, -1));
  return 1;
}

/* ---- give-up errors ---- */

static int lgiveup_tostring(lua_State *L)
{
  lua_getfield(L, 1, "message");
  if(!lua_isstring(L, -1))
    lua_pushliteral(L, "retryrun: a call gave up");
  return 1;
}

/* Writes the short name of attempt i into w: "500", "reset", "200
 * invalid". Leaves the stack as it found it, so a luaL_Buffer in use stays
 * valid. */
static void attempt_word(lua_State *L, lua_Integer i, char *w, size_t n)
{
  int invalid, top = lua_gettop(L);
  lua_rawgeti(L, S_ATT, i);
  lua_getfield(L, -1, "invalid");
  invalid = lua_toboolean(L, -1);
  if(lua_getfield(L, -2, "status") == LUA_TNUMBER)
    snprintf(w, n, "%d%s", (int)lua_tointeger(L, -1),
             invalid ? " invalid" : "");
  else if(lua_getfield(L, -3, "error") == LUA_TSTRING)
    snprintf(w, n, "%s", lua_tostring(L, -1));
  else                                  /* a wrapped function's value */
    snprintf(w, n, "%s", invalid ? "invalid" : "result");
  lua_settop(L, top);
}

/* Pushes the give-up message for call c:
 *   GET url gave up after 4 attempts in 1.4 s: 500, 500, reset, 500
 * followed by why, when it is not simply "out of attempts". */
static void push_giveup_message(lua_State *L, struct call *c,
                                const char *what)
{
  luaL_Buffer b;
  lua_Integer i, n = luaL_len(L, S_ATT);
  double elapsed = loop_now() - c->pc.started;
  const struct policy_decision *d = &c->dec;
  char num[160];
  const char *words;
  size_t wlen;

  /* the attempts' words first, as a string kept below the message */
  luaL_buffinit(L, &b);
  for(i = 1; i <= n; i++) {
    char word[48];
    attempt_word(L, i, word, sizeof(word));
    luaL_addstring(&b, i == 1 ? ": " : ", ");
    luaL_addstring(&b, word);
  }
  luaL_pushresult(&b);
  words = lua_tolstring(L, -1, &wlen);

  luaL_buffinit(L, &b);
  luaL_addstring(&b, what);
  snprintf(num, sizeof(num), " gave up after %d attempt%s in %.1f s",
           (int)n, n == 1 ? "" : "s", elapsed);
  luaL_addstring(&b, num);
  luaL_addlstring(&b, words, wlen);
  if(c->giveup_note) {
    /* said once: an attempt stopped in flight has it as its word */
    size_t nlen = strlen(c->giveup_note);
    if(wlen < nlen || strcmp(words + wlen - nlen, c->giveup_note)) {
      luaL_addstring(&b, "; ");
      luaL_addstring(&b, c->giveup_note);
    }
  }
  else switch(d->reason) {
  case POLICY_DEADLINE:
    snprintf(num, sizeof(num), "; the deadline of %.3g s is reached",
             c->pol.deadline);
    luaL_addstring(&b, num);
    break;
  case POLICY_UNSAFE:
    luaL_addstring(&b, "; not retried: ");
    luaL_addstring(&b, c->method);
    luaL_addstring(&b, " is not idempotent and the request may have "
                   "reached the server");
    luaL_addstring(&b, c->wrapper ?
                   " (a key does not carry from one run of the function to "
                   "the next: retry the call itself with "
                   "idempotency_key=true, or set unsafe=true here if "
                   "repeating it is harmless)" :
                   " (set idempotency_key=true, or unsafe=true if "
                   "repeating it is harmless)");
    break;
  case POLICY_NOT_RETRYABLE:
    if(c->out.cls == POLICY_TOO_LARGE)
      luaL_addstring(&b, "; a response over a size limit is never retried");
    else if(c->out.cls != POLICY_RESPONSE && c->pol.attempts > 1) {
      luaL_addstring(&b, "; ");
      luaL_addstring(&b, policy_class_name(c->out.cls));
      luaL_addstring(&b, " is not in retry_on");
    }
    break;
  case POLICY_RETRY_AFTER_LONG:
    snprintf(num, sizeof(num), "; the server asked to be called again in "
             "%.0f s (Retry-After), over max_retry_after (%g s)",
             d->retry_after, c->pol.max_retry_after);
    luaL_addstring(&b, num);
    break;
  case POLICY_RETRY_AFTER_DEADLINE:
    snprintf(num, sizeof(num), "; the server asked to be called again in "
             "%.0f s (Retry-After), past the deadline", d->retry_after);
    luaL_addstring(&b, num);
    break;
  default:
    break;
  }
  /* the last attempt's detail: libcurl's words or the predicate's */
  if(lua_isstring(L, S_REASON)) {
    const char *r = lua_tostring(L, S_REASON);
    size_t len = strcspn(r, "\n");
    luaL_addstring(&b, " (");
    luaL_addlstring(&b, r, len > 300 ? 300 : len);
    luaL_addstring(&b, ")");
  }
  luaL_pushresult(&b);
  lua_remove(L, -2);                    /* the words */
}

/* ---- the state machine ---- */

static int call_k(lua_State *L, int status, lua_KContext ctx);
static int send_attempt(lua_State *L, struct call *c);

/* Calls the hook (or predicate) below its nargs arguments for step c->k,
 * coming back through call_k. While it runs, the task carries the call's
 * deadline (for on_giveup, at least ON_GIVEUP_GRACE from now), or an
 * enclosing hook's if that is sooner: run.sleep, task:wait() and HTTP
 * calls inside it end there. */
static int call_hook(lua_State *L, struct call *c, int nargs, int nres)
{
  struct task *t = c->task;
  double now = loop_now(), until = c->pc.started + c->pol.deadline;
  if(c->k == K_GIVEUP && until < now + ON_GIVEUP_GRACE)
    until = now + ON_GIVEUP_GRACE;
  if(t->hook_deadline > 0 && t->hook_deadline < until)
    until = t->hook_deadline;
  c->hook_until = until;
  c->outer_hook_deadline = t->hook_deadline;
  t->hook_deadline = until;
  c->in_hook = 1;
  return call_k(L, lua_pcallk(L, nargs, nres, S_TB, 0, call_k), 0);
}

/* After a hook: 1 when the time it had is over. */
static int hook_out_of_time(struct call *c)
{
  return loop_now() >= c->hook_until;
}

/* Pushes "GET url" (or "function at file:line") for messages. */
static void push_what(lua_State *L, struct call *c)
{
  if(c->wrapper) {
    lua_Debug ar;
    lua_pushvalue(L, S_FN);
    lua_getinfo(L, ">S", &ar);
    lua_pushfstring(L, "function at %s:%d", ar.short_src, ar.linedefined);
    return;
  }
  lua_getfield(L, S_REQ, "url");
  push_redacted_url(L, luaL_optstring(L, -1, "?"));
  lua_pushfstring(L, "%s %s", c->method, lua_tostring(L, -1));
  lua_replace(L, -3);
  lua_pop(L, 1);
}

/* Raises an error from a hook, naming the hook and the call. */
static int raise_hook_error(lua_State *L, struct call *c, const char *hook)
{
  call_close(c);
  if(lua_type(L, -1) == LUA_TSTRING) {
    push_what(L, c);
    lua_pushfstring(L, "%s hook of %s failed: %s", hook, lua_tostring(L, -1),
                    lua_tostring(L, -2));
    redact_at(L, -1, c->wrapper ? 0 : S_REQ);
  }
  return lua_error(L);
}

static int giveup(lua_State *L, struct call *c)
{
  call_close(c);
  lua_settop(L, S_TOP);
  lua_createtable(L, 0, 8);
  luaL_setmetatable(L, GIVEUP_MT);
  push_what(L, c);
  push_giveup_message(L, c, lua_tostring(L, -1));
  lua_setfield(L, -3, "message");
  lua_pop(L, 1);
  lua_pushstring(L, c->giveup_note ? c->giveup_note :
                 c->dec.reason == POLICY_EXHAUSTED ? "exhausted" :
                 c->dec.reason == POLICY_DEADLINE ? "deadline" :
                 c->dec.reason == POLICY_UNSAFE ? "unsafe" :
                 c->dec.reason == POLICY_NOT_RETRYABLE ? "not_retryable" :
                 "retry_after");
  lua_setfield(L, -2, "reason");
  lua_pushvalue(L, S_ATT);
  lua_setfield(L, -2, "attempts");
  lua_pushvalue(L, S_RESP);
  lua_setfield(L, -2, "response");
  lua_pushnumber(L, loop_now() - c->pc.started);
  lua_setfield(L, -2, "elapsed");
  if(c->dec.retry_after >= 0) {
    lua_pushnumber(L, c->dec.retry_after);
    lua_setfield(L, -2, "retry_after");
  }
  lua_createtable(L, 0, 3);
  lua_pushstring(L, c->method);
  lua_setfield(L, -2, "method");
  if(!c->wrapper) {
    lua_getfield(L, S_REQ, "url");
    push_redacted_url(L, luaL_optstring(L, -1, "?"));
    lua_setfield(L, -3, "url");
    lua_pop(L, 1);
  }
  lua_pushboolean(L, c->pc.has_key);
  lua_setfield(L, -2, "idempotency_key");
  lua_setfield(L, -2, "request");
  /* a wrapped call's inner error, for whoever wants the detail */
  if(c->wrapper && c->inner_error) {
    lua_pushvalue(L, S_RES);
    lua_setfield(L, -2, "cause");
  }
  lua_replace(L, S_REASON);
  lua_settop(L, S_TOP);
  c->k = K_GIVEUP;
  if(c->has_on_giveup) {
    lua_getfield(L, S_POL, "on_giveup");
    lua_pushvalue(L, S_REASON);
    return call_hook(L, c, 1, 0);
  }
  return call_k(L, LUA_OK, 0);    /* K_GIVEUP with nothing to call */
}

static int finish_giveup(lua_State *L, struct call *c)
{
  lua_settop(L, S_TOP);
  if(c->raise) {
    luaL_traceback(L, L, NULL, 1);   /* where the call gave up */
    lua_setfield(L, S_REASON, "traceback");
    lua_pushvalue(L, S_REASON);
    return lua_error(L);
  }
  lua_pushnil(L);
  lua_pushvalue(L, S_REASON);
  return 2;
}

static int call_accept(lua_State *L, struct call *c)
{
  call_close(c);
  lua_settop(L, S_TOP);
  if(c->wrapper && c->inner_error) {
    /* an inner give-up this policy does not retry: pass it on as it is */
    lua_pushvalue(L, S_RES);
    return lua_error(L);
  }
  if(c->wrapper) {
    lua_Integer i, n;
    lua_getfield(L, S_RES, "n");
    n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    luaL_checkstack(L, (int)n, "too many results");
    for(i = 1; i <= n; i++)
      lua_rawgeti(L, S_RES, i);
    return (int)n;
  }
  lua_pushvalue(L, S_RESP);
  lua_pushnumber(L, loop_now() - c->pc.started);
  lua_setfield(L, -2, "elapsed");
  lua_pushinteger(L, c->pc.attempt);
  lua_setfield(L, -2, "attempts");
  return 1;
}

/* Records the attempt just made in the attempts list. */
static void record_attempt(lua_State *L, struct call *c, double duration)
{
  lua_createtable(L, 0, 6);
  if(c->out.cls == POLICY_RESPONSE && c->out.status > 0) {
    lua_pushinteger(L, c->out.status);
    lua_setfield(L, -2, "status");
  }
  else if(c->out.cls != POLICY_RESPONSE) {
    lua_pushstring(L, policy_class_name(c->out.cls));
    lua_setfield(L, -2, "error");
  }
  lua_pushboolean(L, c->out.sent);
  lua_setfield(L, -2, "sent");
  lua_pushnumber(L, duration);
  lua_setfield(L, -2, "duration");
  if(c->out.invalid) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "invalid");
  }
  if(lua_isstring(L, S_REASON)) {
    lua_pushvalue(L, S_REASON);
    lua_setfield(L, -2, "reason");
  }
  lua_rawseti(L, S_ATT, c->pc.attempt);
}

static int decide(lua_State *L, struct call *c)
{
  double duration;
  lua_settop(L, S_TOP);
  c->pc.now = loop_now();
  c->pc.now_wall = loop_wall();
  c->out.retry_after = c->retry_after[0] ? c->retry_after : NULL;
  policy_decide(&c->pol, &c->pc, &c->out, &runtime_of(L)->rng, &c->dec);
  duration = c->pc.now - c->attempt_started;
  record_attempt(L, c, duration);
  if(c->dec.verdict == POLICY_ACCEPT)
    return call_accept(L, c);
  if(c->dec.verdict == POLICY_GIVEUP)
    return giveup(L, c);
  /* retry: note the wait on the attempt, tell on_retry, then wait */
  lua_rawgeti(L, S_ATT, c->pc.attempt);
  lua_pushnumber(L, c->dec.delay);
  lua_setfield(L, -2, "delay");
  lua_pop(L, 1);
  c->pc.prev_delay = c->dec.delay;
  c->k = K_ON_RETRY;
  if(c->has_on_retry) {
    lua_getfield(L, S_POL, "on_retry");
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, c->pc.attempt);
    lua_setfield(L, -2, "attempt");
    lua_rawgeti(L, S_ATT, c->pc.attempt);
    lua_getfield(L, -1, "status");
    lua_setfield(L, -3, "status");
    lua_getfield(L, -1, "error");
    lua_setfield(L, -3, "error");
    lua_pop(L, 1);
    lua_pushvalue(L, S_REASON);
    lua_setfield(L, -2, "reason");
    lua_pushnumber(L, c->dec.delay);
    lua_setfield(L, -2, "delay");
    lua_pushvalue(L, S_RESP);
    lua_setfield(L, -2, "response");
    push_what(L, c);
    lua_setfield(L, -2, "call");
    return call_hook(L, c, 1, 0);
  }
  return call_k(L, LUA_OK, 0);
}

/* Runs valid(resp) when the policy has one and the outcome is a response
 * whose status is not retried anyway. */
static int check_valid(lua_State *L, struct call *c, int value_idx)
{
  if(c->has_valid && c->out.cls == POLICY_RESPONSE &&
     !policy_status_retried(&c->pol, c->out.status)) {
    c->k = K_VALID;
    lua_getfield(L, S_POL, "valid");
    lua_pushvalue(L, value_idx);
    return call_hook(L, c, 1, 2);
  }
  return decide(L, c);
}

/* Gives up before an attempt that would have no time: the deadline has
 * passed (while queued for a slot, or a timeout= too small to run). */
static int no_time_left(lua_State *L, struct call *c)
{
  c->dec.verdict = POLICY_GIVEUP;
  c->dec.reason = POLICY_DEADLINE;
  c->dec.retry_after = -1;
  c->pc.attempt--;
  return giveup(L, c);
}

/* Writes the origin of url (scheme, host and port, lower case, the port
 * made explicit) into o; returns 0, or -1 if url has none. */
static int url_origin(const char *url, char *o, size_t n)
{
  const char *sep = strstr(url, "://"), *host, *end, *at, *port;
  int https;
  size_t hlen, i;
  if(!sep)
    return -1;
  https = (size_t)(sep - url) == 5 && !strncasecmp(url, "https", 5);
  host = sep + 3;
  end = host + strcspn(host, "/?#");
  for(at = end; at > host && at[-1] != '@'; at--)
    ;
  if(at > host)
    host = at;
  port = end;
  for(i = (size_t)(end - host); i > 0; i--) {
    if(host[i - 1] == ']')
      break;
    if(host[i - 1] == ':') {
      port = host + i - 1;
      break;
    }
  }
  hlen = (size_t)(port - host);
  if(hlen + 32 > n)
    return -1;
  if(port < end)
    snprintf(o, n, "%.*s|%.*s|%.*s", (int)(sep - url), url, (int)hlen, host,
             (int)(end - port - 1), port + 1);
  else
    snprintf(o, n, "%.*s|%.*s|%s", (int)(sep - url), url, (int)hlen, host,
             https ? "443" : "80");
  for(i = 0; o[i]; i++)
    o[i] = (char)tolower((unsigned char)o[i]);
  return 0;
}

/* For the header at the top of the stack (name below it): 1 when a
 * redirect hop must not send it: credentials once the hop left the
 * request's origin (and a Host set by the script), the body's headers
 * once it became a GET. */
static int skip_on_hop(lua_State *L, struct call *c)
{
  size_t n;
  const char *k = lua_tolstring(L, -2, &n);
  if(c->hop_cross && (redact_secret_header(k, n) || !strcasecmp(k, "host")))
    return 1;
  return c->hop_get && (!strcasecmp(k, "content-type") ||
                        !strcasecmp(k, "content-length") ||
                        !strcasecmp(k, "content-encoding"));
}

/* Ends the attempt without a response: a redirect retryrun will not
 * follow. The request has arrived, so it counts as sent. */
static int redirect_failed(lua_State *L, struct call *c, const char *why)
{
  c->out.cls = POLICY_OTHER;
  c->out.status = 0;
  c->out.sent = 1;
  lua_pushstring(L, why);
  lua_replace(L, S_REASON);
  call_close(c);
  return decide(L, c);
}

/* Follows the redirect of the transfer just done as the next hop of the
 * same attempt, the way RFC 9110 says: a 303 becomes a GET (a HEAD stays
 * HEAD), a 301 or 302 after a POST becomes a GET, 307 and 308 keep the
 * method and body. A GET made here drops the body and its headers; a hop
 * to another origin drops every credential header (redact.h names them). */
static int follow_redirect(lua_State *L, struct call *c)
{
  struct transfer *tr = c->tr;
  const char *to = tr->redirect_url, *method;
  char from_origin[512], to_origin[512];
  int status = (int)tr->status;

  if(c->hops == MAX_REDIRECTS)
    return redirect_failed(L, c, "more than 10 redirects");
  if(strncasecmp(to, "http://", 7) && strncasecmp(to, "https://", 8))
    return redirect_failed(L, c, "a redirect to a URL that is not http or "
                           "https");
  method = c->hops ? c->hop_method : c->method;
  if((status == 303 && strcmp(method, "HEAD")) ||
     ((status == 301 || status == 302) && !strcmp(method, "POST"))) {
    snprintf(c->hop_method, sizeof(c->hop_method), "GET");
    c->hop_get = 1;
  }
  else if(method != c->hop_method)
    snprintf(c->hop_method, sizeof(c->hop_method), "%s", method);
  lua_getfield(L, S_REQ, "url");
  if(url_origin(luaL_optstring(L, -1, ""), from_origin,
                sizeof(from_origin)) ||
     url_origin(to, to_origin, sizeof(to_origin)) ||
     strcmp(from_origin, to_origin))
    c->hop_cross = 1;
  lua_pop(L, 1);
  lua_pushstring(L, to);
  lua_setiuservalue(L, S_CALL, 1);
  c->hops++;
  call_close(c);
  return send_attempt(L, c);
}

/* Gives up because the task was cancelled (or the run interrupted): drops
 * whatever it waits on or holds (a timer, a place in line, a slot). An
 * attempt stopped in flight is recorded, as one that may have been sent. */
static int cancelled(lua_State *L, struct call *c)
{
  loop_wait_cancel(&c->task->lt);
  loop_slot_giveback(&c->task->lt);
  c->giveup_note = loop_interrupted() ? "interrupted" : "cancelled";
  if(c->k == K_TRANSFER) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, c->giveup_note);
    lua_setfield(L, -2, "error");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "sent");
    lua_pushnumber(L, loop_now() - c->attempt_started);
    lua_setfield(L, -2, "duration");
    lua_rawseti(L, S_ATT, c->pc.attempt);
  }
  else if(c->k == K_VALID)    /* a response came; valid() was stopped */
    record_attempt(L, c, loop_now() - c->attempt_started);
  c->dec.verdict = POLICY_GIVEUP;
  c->dec.retry_after = -1;
  return giveup(L, c);
}

/* Gives up because a hook ran past the call's deadline, after the attempt
 * that is recorded (or, from valid(), about to be). */
static int hook_past_deadline(lua_State *L, struct call *c)
{
  if(c->k == K_VALID)
    record_attempt(L, c, loop_now() - c->attempt_started);
  else if(c->k == K_ON_RETRY) {           /* the wait is not made */
    lua_rawgeti(L, S_ATT, c->pc.attempt);
    lua_pushnil(L);
    lua_setfield(L, -2, "delay");
    lua_pop(L, 1);
  }
  c->dec.verdict = POLICY_GIVEUP;
  c->dec.reason = POLICY_DEADLINE;
  c->dec.retry_after = -1;
  return giveup(L, c);
}

/* Reads the request's fields that apply to each attempt (request_check
 * has checked them). */
static void request_fields(lua_State *L, struct call *c)
{
  c->max_body = (size_t)field_number(L, S_REQ, "max_body", DEFAULT_MAX_BODY);
  c->timeout = field_number(L, S_REQ, "timeout", 0);
  lua_getfield(L, S_REQ, "insecure");
  c->insecure = lua_toboolean(L, -1);
  lua_pop(L, 1);
}

/* 1 when the request's method is no longer the one the call started
 * with: the safety rule judged that one, so it may not change. */
static int method_changed(lua_State *L, struct call *c)
{
  int changed;
  lua_getfield(L, S_REQ, "method");
  changed = strcmp(luaL_optstring(L, -1, "GET"), c->method) != 0;
  lua_pop(L, 1);
  return changed;
}

/* Starts the attempt's transfer from the request table as it is now (a
 * before_attempt hook may have changed its url, headers, body, timeout,
 * max_body, insecure and cacert) and suspends the task. */
static int send_attempt(lua_State *L, struct call *c)
{
  struct transfer_opts o;
  struct transfer *tr;
  const char *url;
  double timeout;
  size_t blen = 0;
  CURLcode rc;
  char err[CHECK_MSG] = "";
  char why[TRANSFER_ERROR_SIZE];

  memset(&o, 0, sizeof(o));
  lua_settop(L, S_TOP);
  /* check everything from the script before taking anything: core.request
   * checked the request, but a before_attempt hook (or whoever else holds
   * the table) may have changed it since. A redirect hop sends the same
   * table again. The error has no position: the hook that did it has
   * returned. */
  if((c->has_before || c->pc.attempt > 1) && !c->hops) {
    if(!request_check(L, S_REQ, err, sizeof(err)) && method_changed(L, c))
      snprintf(err, sizeof(err), "req.method cannot change once the call "
               "has started (it is %s)", c->method);
    else if(!*err)
      request_fields(L, c);
    if(*err) {
      loop_slot_giveback(&c->task->lt);
      call_close(c);
      lua_pushfstring(L, "%s%s", c->has_before ? "before_attempt: " : "",
                      err);
      return lua_error(L);
    }
  }
  if(!loop_slot_free(&c->task->lt)) {
    /* over the cap on transfers: wait holding nothing, until a slot is
     * handed over or the deadline passes */
    if(loop_wait_slot(&c->task->lt, c->pc.started + c->pol.deadline))
      return luaL_error(L, "not enough memory to arm a timer");
    c->k = K_SLOT;
    return loop_yield(&c->task->lt, L, 0, call_k);
  }
  timeout = policy_attempt_timeout(&c->pol, c->pc.started, loop_now());
  if(c->timeout > 0 && c->timeout < timeout)
    timeout = c->timeout;             /* the call's own timeout= */
  if(timeout < 0.001)
    return no_time_left(L, c);
  if(c->hops)
    lua_getiuservalue(L, S_CALL, 1);     /* where a redirect points */
  else
    lua_getfield(L, S_REQ, "url");
  url = lua_tostring(L, -1);             /* request_check: a string */
  if(lua_getfield(L, S_REQ, "body") == LUA_TSTRING && !c->hop_get)
    o.body = lua_tolstring(L, -1, &blen);
  o.body_len = blen;
  o.method = c->hops ? c->hop_method : c->method;
  o.url = url;
  o.timeout = timeout;
  o.connect_timeout = c->pol.connect_timeout;
  o.max_body = c->max_body;
  o.insecure = c->insecure;
  o.fresh_connect = !policy_method_idempotent(o.method);
  if(lua_getfield(L, S_REQ, "cacert") == LUA_TSTRING)
    o.cacert = lua_tostring(L, -1);

  tr = c->tr = transfer_get(why, sizeof(why));
  if(!tr)
    return luaL_error(L, "cannot start libcurl: %s", why);
  if(lua_getfield(L, S_REQ, "headers") == LUA_TTABLE) {
    lua_pushnil(L);
    while(lua_next(L, -2)) {
      if(c->hops && skip_on_hop(L, c)) {
        lua_pop(L, 1);
        continue;
      }
      /* libcurl reads "Name:" as "send no Name"; "Name;" sends it empty */
      if(lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) == 0)
        lua_pushfstring(L, "%s;", lua_tostring(L, -2));
      else
        lua_pushfstring(L, "%s: %s", lua_tostring(L, -2),
                        lua_tostring(L, -1));
      if(transfer_add_header(tr, lua_tostring(L, -1))) {
        call_close(c);
        return luaL_error(L, "out of memory");
      }
      lua_pop(L, 2);
    }
  }
  lua_pop(L, 1);
  rc = transfer_prepare(tr, &o, loop_now());
  if(rc == CURLE_OK && loop_wait_transfer(&c->task->lt, tr))
    rc = CURLE_FAILED_INIT;
  if(rc) {
    lua_pushfstring(L, "cannot start %s %s: %s", c->method, url,
                    tr->errbuf[0] ? tr->errbuf : curl_easy_strerror(rc));
    redact_at(L, -1, S_REQ);
    call_close(c);
    return lua_error(L);
  }
  lua_settop(L, S_TOP);
  c->k = K_TRANSFER;
  return loop_yield(&c->task->lt, L, 0, call_k);
}

/* Calls the wrapped function with its arguments, one retry layer down. */
static int call_function(lua_State *L, struct call *c)
{
  lua_Integer i, n;
  lua_settop(L, S_TOP);
  lua_pushvalue(L, S_FN);
  lua_getfield(L, S_ARGS, "n");
  n = lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, (int)n + 2, "too many arguments");
  for(i = 1; i <= n; i++)
    lua_rawgeti(L, S_ARGS, i);
  c->task->wrap_depth++;
  c->outer_deadline = c->task->wrap_deadline;
  if(!c->outer_deadline ||
     c->pc.started + c->pol.deadline < c->outer_deadline)
    c->task->wrap_deadline = c->pc.started + c->pol.deadline;
  c->k = K_FN;
  return call_k(L, lua_pcallk(L, (int)n, LUA_MULTRET, S_TB, 0, call_k), 0);
}

/* One attempt, after before_attempt. */
static int attempt(lua_State *L, struct call *c)
{
  if(loop_task_cancelled(&c->task->lt))
    return cancelled(L, c);
  lua_pushnil(L);
  lua_replace(L, S_REASON);
  c->retry_after[0] = '\0';
  memset(&c->out, 0, sizeof(c->out));
  c->hops = c->hop_get = c->hop_cross = 0;
  c->attempt_started = loop_now();
  return c->wrapper ? call_function(L, c) : send_attempt(L, c);
}

static int before_attempt(lua_State *L, struct call *c)
{
  lua_settop(L, S_TOP);
  if(loop_task_cancelled(&c->task->lt))
    return cancelled(L, c);
  c->pc.attempt++;
  c->k = K_BEFORE;
  if(c->has_before) {
    lua_getfield(L, S_POL, "before_attempt");
    if(c->wrapper)
      lua_pushnil(L);
    else
      lua_pushvalue(L, S_REQ);
    lua_pushinteger(L, c->pc.attempt);
    return call_hook(L, c, 2, 0);
  }
  return attempt(L, c);
}

static int is_response(lua_State *L, int idx)
{
  return host_is_a(L, idx, RESPONSE_MT);
}

/* Pushes the raw `response` field of the error at idx (nil if none) and
 * returns its index: what expect= puts in its error. */
static int expect_response(lua_State *L, int idx)
{
  idx = lua_absindex(L, idx);
  if(lua_istable(L, idx)) {
    lua_pushliteral(L, "response");
    lua_rawget(L, idx);
  }
  else
    lua_pushnil(L);
  return lua_gettop(L);
}

/* Judges the value at the top, the first result of a wrapped function (or
 * the response an expect= error carried): a Response by its status and
 * valid(), anything else by valid() alone. */
static int judge_response(lua_State *L, struct call *c)
{
  c->out.cls = POLICY_RESPONSE;
  c->out.status = 0;
  c->out.sent = 1;
  snprintf(c->method, sizeof(c->method), "GET");
  c->pc.has_key = 0;   /* no key carries from one run of fn to the next */
  if(is_response(L, -1)) {
    lua_getfield(L, -1, "status");
    c->out.status = (int)lua_tointeger(L, -1);
    lua_getfield(L, -2, "method");
    if(lua_isstring(L, -1))
      snprintf(c->method, sizeof(c->method), "%s", lua_tostring(L, -1));
    lua_getfield(L, -3, "headers");
    lua_getfield(L, -1, "retry-after");
    if(lua_isstring(L, -1))
      snprintf(c->retry_after, sizeof(c->retry_after), "%s",
               lua_tostring(L, -1));
    lua_pop(L, 4);
  }
  lua_pushvalue(L, -1);
  lua_replace(L, S_RESP);
  c->pc.method = c->method;
  return check_valid(L, c, lua_gettop(L));
}

/* The outcome of a wrapped function: its results, or the give-up error of
 * the one-attempt call inside it. Other errors are not retried. */
static int function_done(lua_State *L, struct call *c, int status)
{
  c->task->wrap_depth--;
  c->task->wrap_deadline = c->outer_deadline;
  if(status != LUA_OK) {
    lua_Integer n;
    if(!host_is_giveup(L, -1)) {
      expect_response(L, -1);               /* err, its response */
      if(is_response(L, -1)) {
        /* expect= refused a response: judge that response, and raise
         * this error again if the policy accepts it */
        lua_pushvalue(L, -2);
        lua_replace(L, S_RES);
        lua_replace(L, S_TOP + 1);
        lua_settop(L, S_TOP + 1);
        c->inner_error = 1;
        return judge_response(L, c);
      }
      lua_pop(L, 1);
      call_close(c);
      return lua_error(L);          /* a bug is not a transient failure */
    }
    /* judge the inner call by its last attempt; keep its error */
    lua_pushvalue(L, -1);
    lua_replace(L, S_RES);
    lua_replace(L, S_REASON);
    lua_settop(L, S_TOP);
    c->inner_error = 1;
    lua_getfield(L, S_REASON, "response");
    lua_replace(L, S_RESP);
    lua_getfield(L, S_REASON, "attempts");
    n = luaL_len(L, -1);
    lua_rawgeti(L, -1, n);
    if(lua_istable(L, -1)) {
      int cls;
      lua_getfield(L, -1, "error");
      cls = lua_isstring(L, -1) ?
            policy_class_from_name(lua_tostring(L, -1)) : POLICY_RESPONSE;
      c->out.cls = cls < 0 ? POLICY_OTHER : (enum policy_class)cls;
      lua_getfield(L, -2, "status");
      c->out.status = (int)lua_tointeger(L, -1);
      lua_getfield(L, -3, "sent");
      c->out.sent = lua_toboolean(L, -1);
      lua_getfield(L, -4, "invalid");
      c->out.invalid = lua_toboolean(L, -1);
    }
    lua_settop(L, S_TOP);
    lua_getfield(L, S_REASON, "request");
    if(lua_istable(L, -1)) {
      lua_getfield(L, -1, "method");
      if(lua_isstring(L, -1))
        snprintf(c->method, sizeof(c->method), "%s", lua_tostring(L, -1));
    }
    lua_settop(L, S_TOP);
    lua_getfield(L, S_REASON, "retry_after");
    c->retry_after[0] = '\0';
    if(lua_isnumber(L, -1))
      snprintf(c->retry_after, sizeof(c->retry_after), "%.0f",
               lua_tonumber(L, -1));
    lua_settop(L, S_TOP);
    /* the reason of this attempt is the inner message */
    lua_getfield(L, S_REASON, "message");
    lua_replace(L, S_REASON);
    c->pc.method = c->method;
    return decide(L, c);
  }
  /* results: pack them; a Response is judged by status and valid() */
  c->inner_error = 0;
  {
    int n = lua_gettop(L) - S_TOP, i;
    lua_createtable(L, n, 1);
    lua_insert(L, S_TOP + 1);
    for(i = n; i >= 1; i--)
      lua_rawseti(L, S_TOP + 1, i);
    lua_pushinteger(L, n);
    lua_setfield(L, S_TOP + 1, "n");
    lua_replace(L, S_RES);
    lua_rawgeti(L, S_RES, 1);
    return judge_response(L, c);
  }
}

/* Copies the Retry-After value of the response, if any, into the call. */
static void copy_retry_after(struct call *c, const struct transfer *tr)
{
  const char *p = tr->resp_headers.data, *end = p + tr->resp_headers.len;
  while(p && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if(!eol)
      eol = end;
    if(eol - p > 12 && !strncasecmp(p, "retry-after:", 12)) {
      const char *v = p + 12;
      size_t n;
      while(v < eol && (*v == ' ' || *v == '\t'))
        v++;
      n = (size_t)(eol - v);
      while(n && (v[n - 1] == '\r' || v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
      if(n >= sizeof(c->retry_after))
        n = sizeof(c->retry_after) - 1;    /* policy.c refuses it */
      memcpy(c->retry_after, v, n);
      c->retry_after[n] = '\0';
      return;
    }
    p = eol + 1;
  }
}

/* A transfer ended: turn it into an outcome, or follow its redirect. */
static int transfer_done(lua_State *L, struct call *c)
{
  struct transfer *tr = c->tr;
  lua_settop(L, S_TOP);
  if(tr->cls == POLICY_RESPONSE && tr->redirect_url &&
     (tr->status == 301 || tr->status == 302 || tr->status == 303 ||
      tr->status == 307 || tr->status == 308))
    return follow_redirect(L, c);
  if(tr->code == CURLE_UNSUPPORTED_PROTOCOL ||
     tr->code == CURLE_URL_MALFORMAT) {
    /* no attempt can work: the script's mistake, not the network's */
    push_what(L, c);
    lua_pushfstring(L, "%s: %s", lua_tostring(L, -1),
                    tr->code == CURLE_URL_MALFORMAT ? "malformed URL" :
                    "retryrun speaks only http and https");
    call_close(c);
    return lua_error(L);
  }
  c->out.cls = tr->cls;
  c->out.status = (int)tr->status;
  /* after a redirect the request itself has certainly arrived */
  c->out.sent = tr->sent || c->hops > 0;
  if(tr->cls == POLICY_RESPONSE) {
    lua_getfield(L, S_REQ, "url");
    push_response(L, c, lua_tostring(L, -1));
    lua_replace(L, S_RESP);
    lua_pop(L, 1);
    copy_retry_after(c, tr);
  }
  else {
    lua_pushstring(L, transfer_error_text(tr));
    redact_at(L, -1, S_REQ);
    lua_replace(L, S_REASON);
  }
  call_close(c);
  return check_valid(L, c, S_RESP);
}

static int call_k(lua_State *L, int status, lua_KContext ctx)
{
  struct call *c = get_call(L);
  int after_hook = c->in_hook;
  (void)ctx;
  /* a pcallk whose callee yielded comes back with LUA_YIELD: success */
  if(status == LUA_YIELD)
    status = LUA_OK;
  if(after_hook) {
    c->in_hook = 0;
    c->task->hook_deadline = c->outer_hook_deadline;
  }
  switch(c->k) {
  case K_BEFORE:
    /* a hook stopped by cancellation or the deadline ends the call as
     * such, whatever it raised */
    if(status != LUA_OK && loop_task_cancelled(&c->task->lt))
      return cancelled(L, c);
    if(hook_out_of_time(c))
      return no_time_left(L, c);
    if(status != LUA_OK)
      return raise_hook_error(L, c, "before_attempt");
    return attempt(L, c);
  case K_SLOT:
    if(loop_task_cancelled(&c->task->lt))
      return cancelled(L, c);
    if(loop_task_wait(&c->task->lt) == WAIT_SLOT)
      return loop_yield(&c->task->lt, L, 0, call_k);   /* still queued */
    if(!loop_task_slot_granted(&c->task->lt) &&
       loop_task_fired(&c->task->lt))
      return no_time_left(L, c);         /* the deadline passed in line */
    return send_attempt(L, c);
  case K_TRANSFER:
    if(loop_task_cancelled(&c->task->lt))
      return cancelled(L, c);
    if(!c->tr->done)
      /* woken for something else */
      return loop_yield(&c->task->lt, L, 0, call_k);
    return transfer_done(L, c);
  case K_FN:
    return function_done(L, c, status);
  case K_VALID:
    if(status != LUA_OK && loop_task_cancelled(&c->task->lt))
      return cancelled(L, c);
    if(status != LUA_OK) {
      /* a predicate that raises marks the response invalid; its message
       * and traceback become the attempt's reason */
      c->out.invalid = 1;
      lua_replace(L, S_REASON);
    }
    else {
      c->out.invalid = !lua_toboolean(L, -2);
      if(c->out.invalid) {
        if(lua_isstring(L, -1))
          lua_pushvalue(L, -1);
        else
          lua_pushliteral(L, "valid() returned false");
        lua_replace(L, S_REASON);
      }
    }
    redact_at(L, S_REASON, c->wrapper ? 0 : S_REQ);
    if(c->out.invalid && hook_out_of_time(c))
      return hook_past_deadline(L, c);
    return decide(L, c);
  case K_ON_RETRY:
    if(status != LUA_OK && loop_task_cancelled(&c->task->lt))
      return cancelled(L, c);
    /* the wait must still end before the deadline */
    if(after_hook && (hook_out_of_time(c) ||
                      loop_now() + c->dec.delay >= c->hook_until))
      return hook_past_deadline(L, c);
    if(status != LUA_OK)
      return raise_hook_error(L, c, "on_retry");
    lua_settop(L, S_TOP);
    c->k = K_WAIT;
    if(loop_wait_timer(&c->task->lt, loop_now() + c->dec.delay))
      return luaL_error(L, "not enough memory to arm a timer");
    return loop_yield(&c->task->lt, L, 0, call_k);
  case K_WAIT:
    if(loop_task_cancelled(&c->task->lt))
      return cancelled(L, c);
    if(!loop_task_fired(&c->task->lt))
      return loop_yield(&c->task->lt, L, 0, call_k);
    return before_attempt(L, c);
  case K_GIVEUP:
    /* an on_giveup stopped by cancellation or its time keeps the give-up */
    if(status != LUA_OK && !loop_task_cancelled(&c->task->lt) &&
       !hook_out_of_time(c))
      return raise_hook_error(L, c, "on_giveup");
    return finish_giveup(L, c);
  }
  return luaL_error(L, "retryrun: bad call state");
}

/* Lays out the fixed stack around the request (slot 1) and the policy
 * (slot 2), and the wrapped function and its arguments if any, and makes
 * the Call. */
static struct call *call_new(lua_State *L, int wrapper)
{
  struct task *t = task_current(L);
  struct call *c;
  const char *why = call_cannot_start(L);
  if(why)
    raise_at_script(L, why);
  lua_settop(L, S_TOP);
  lua_getfield(L, S_POL, "_compiled");
  if(!luaL_testudata(L, -1, POLICY_MT))
    luaL_error(L, "bad policy (make one with retry.policy{...})");
  c = lua_newuserdatauv(L, sizeof(*c), 1);
  memset(c, 0, sizeof(*c));
  luaL_setmetatable(L, CALL_MT);
  memcpy(&c->pol, lua_touserdata(L, -2), sizeof(c->pol));
  lua_replace(L, S_CALL);
  lua_pop(L, 1);
  lua_newtable(L);
  lua_replace(L, S_ATT);
  lua_pushcfunction(L, host_traceback);
  lua_replace(L, S_TB);
  c->task = t;
  c->wrapper = wrapper;
  c->raise = 1;
  if(lua_getfield(L, S_POL, "raise") != LUA_TNIL)
    c->raise = lua_toboolean(L, -1);
  lua_pop(L, 1);
  c->has_valid = field_is_function(L, S_POL, "valid");
  c->has_before = field_is_function(L, S_POL, "before_attempt");
  c->has_on_retry = field_is_function(L, S_POL, "on_retry");
  c->has_on_giveup = field_is_function(L, S_POL, "on_giveup");
  c->dec.retry_after = -1;
  c->pc.started = loop_now();
  c->pc.method = c->method;
  /* inside another call's hook: no later than that call's deadline */
  if(t->hook_deadline > 0 &&
     c->pc.started + c->pol.deadline > t->hook_deadline)
    c->pol.deadline = t->hook_deadline > c->pc.started ?
                      t->hook_deadline - c->pc.started : 0;
  return c;
}

/* core.request(req, policy) -> Response, or raises a give-up error (or
 * returns nil, err when the policy says raise=false).
 * req: {method=, url=, headers={}, body=, max_body=, insecure=, cacert=,
 * idempotency_key=bool}; policy: a retry.policy object. */
static int lcore_request(lua_State *L)
{
  struct call *c;
  const char *method, *why;
  char err[CHECK_MSG];
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  if((why = call_cannot_start(L)) != NULL)
    return raise_at_script(L, why);
  if(request_check(L, 1, err, sizeof(err)))
    return raise_at_script(L, err);
  c = call_new(L, 0);
  lua_getfield(L, S_REQ, "method");
  method = luaL_optstring(L, -1, "GET");   /* a token, at most METHOD_MAX */
  memcpy(c->method, method, strlen(method) + 1);
  lua_pop(L, 1);
  request_fields(L, c);
  lua_getfield(L, S_REQ, "idempotency_key");
  c->pc.has_key = lua_toboolean(L, -1);
  lua_settop(L, S_TOP);
  return before_attempt(L, c);
}

/* core.call(policy, fn, ...) -> fn's results, retrying fn as a whole. */
static int lcore_call(lua_State *L)
{
  int n = lua_gettop(L) - 2, i;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_createtable(L, n, 1);             /* the arguments, packed */
  lua_insert(L, 3);
  for(i = n; i >= 1; i--)
    lua_rawseti(L, 3, i);
  lua_pushinteger(L, n);
  lua_setfield(L, 3, "n");
  lua_settop(L, S_TOP);                 /* policy, fn, args, nil... */
  lua_pushvalue(L, 2);
  lua_replace(L, S_FN);
  lua_pushvalue(L, 3);
  lua_replace(L, S_ARGS);
  lua_pushvalue(L, 1);
  lua_replace(L, S_POL);
  lua_pushnil(L);
  lua_replace(L, S_REQ);
  return before_attempt(L, call_new(L, 1));
}

void lhttp_register(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"request", lcore_request},
    {"call", lcore_call},
    {"compile", lcore_compile},
    {"backoff", lcore_backoff},
    {"seed", lcore_seed},
    {"uuid", lcore_uuid},
    {"in_wrapper", lcore_in_wrapper},
    {"redact", lcore_redact},
    {"redact_names", lcore_redact_names},
    {NULL, NULL}
  };
  luaL_newmetatable(L, BOX_MT);
  lua_pushcfunction(L, lbox_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, CALL_MT);
  lua_pushcfunction(L, lcall_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, lcall_gc);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  luaL_newmetatable(L, POLICY_MT);
  lua_pop(L, 1);
  luaL_newmetatable(L, "retryrun.Headers");
  lua_pushcfunction(L, lheaders_index);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newmetatable(L, GIVEUP_MT);
  lua_pushcfunction(L, lgiveup_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);

  luaL_newmetatable(L, RESPONSE_MT);
  lua_newtable(L);
  lua_pushcfunction(L, lresp_header);
  lua_setfield(L, -2, "header");
  lua_pushcfunction(L, lresp_json);
  lua_setfield(L, -2, "json");
  lua_pushcclosure(L, lresp_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, lresp_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "retryrun.Response");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);

  luaL_setfuncs(L, funcs, 0);
  luaL_getmetatable(L, RESPONSE_MT);
  lua_setfield(L, -2, "Response");
  luaL_getmetatable(L, GIVEUP_MT);
  lua_setfield(L, -2, "GiveUp");
}
