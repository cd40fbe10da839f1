/*
 * lua_policy.c - retryrun.Policy (see lua_policy.h): making a policy from
 * its fields, reading it back, its methods table, and its backoff drawn
 * from the run's generator (runtime.h).
 *
 * A Policy is a full userdata: struct lpolicy, and user values holding a
 * private copy of the fields and each hook. __newindex refuses every
 * change, so the compiled form and what p.attempts says can never differ.
 * Errors are raised at the script's line (luax_error).
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_check.h"
#include "lua_json.h"
#include "lua_policy.h"
#include "lua_redact.h"
#include "luax.h"
#include "runtime.h"

static const char *const fields[] = {
  "attempts", "retry_on", "valid", "backoff", "deadline", "timeout",
  "connect_timeout", "retry_after", "max_retry_after", "unsafe",
  "idempotency_key", "before_attempt", "on_retry", "on_giveup", "raise",
  "budget", "breaker", "when_open", "key", "hedge", "name", NULL
};
static const char *const backoff_fields[] = {
  "initial", "factor", "max", "jitter", NULL
};
static const char *const hedge_fields[] = {"delay", "max", NULL};
/* hedge = {} means these; see docs/reference.md */
#define HEDGE_DELAY 0.05
#define HEDGE_MAX 2

/* a bucket's fields, then (from BUDGET_RATIO_FIELDS) a ratio's */
static const char *const budget_fields[] = {
  "tokens", "retry_cost", "timeout_cost", "refill", "ratio",
  "min_per_second", NULL
};
#define BUDGET_RATIO_FIELDS 4
static const char *const breaker_fields[] = {
  "ratio", "min_calls", "window", "break_for", "consecutive", NULL
};
/* The hooks, in the order of their user values from LPOLICY_VALID. */
static const char *const hooks[] = {
  "valid", "before_attempt", "on_retry", "on_giveup", NULL
};

/* Raises "unknown <what> field 'name' (did you mean ...)" for a key of the
 * table at t that is not in known. */
static void check_names(lua_State *L, int t, const char *what,
                        const char *const *known)
{
  json_touch(L, t);              /* a table from resp:json(), made whole */
  lua_pushnil(L);
  while(lua_next(L, t)) {
    char hint[64], shown[64];
    int i = 0;
    lua_pop(L, 1);
    if(lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      while(known[i] && strcmp(known[i], k))
        i++;
      if(known[i])
        continue;
      check_suggest(k, known, hint, sizeof(hint));
      luax_error(L, "unknown %s field '%s'%s", what, k, hint);
    }
    check_show_number(L, -1, shown, sizeof(shown));
    luax_error(L, "unknown %s field %s", what, shown);
  }
}

/* Number field k of table t (def when absent), named label in messages;
 * raises unless it is a number from lo to 1e9. unit is " of seconds" or
 * "". */
static double field_seconds(lua_State *L, int t, const char *k,
                            const char *label, double def, double lo,
                            const char *unit)
{
  double v = def;
  if(lua_getfield(L, t, k) != LUA_TNIL) {
    v = lua_tonumber(L, -1);
    if(lua_type(L, -1) != LUA_TNUMBER || !(v >= lo) || v > 1e9) {
      char got[64], from[32];
      check_show_number(L, -1, got, sizeof(got));
      snprintf(from, sizeof(from), "%g", lo);
      luax_error(L, "policy field '%s' must be a number%s from %s to 1e9 "
                 "(got %s)", label, unit, from, got);
    }
  }
  lua_pop(L, 1);
  return v;
}

/* Boolean field k of table t, or def when absent. */
static int field_boolean(lua_State *L, int t, const char *k, int def)
{
  int type = lua_getfield(L, t, k);
  if(type != LUA_TNIL && type != LUA_TBOOLEAN)
    luax_error(L, "policy field '%s' must be true or false (got %s)", k,
               luaL_typename(L, -1));
  if(type == LUA_TBOOLEAN)
    def = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return def;
}

static void compile_retry_on(lua_State *L, struct policy *p, int t)
{
  lua_Integer i, n, count = 0;
  if(lua_getfield(L, t, "retry_on") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if(!lua_istable(L, -1))
    luax_error(L, "policy field 'retry_on' must be a list of statuses and "
               "failure classes (got %s)", luaL_typename(L, -1));
  policy_clear_retry_on(p);
  n = (lua_Integer)lua_rawlen(L, -1);
  for(i = 1; i <= n; i++) {
    int type = lua_rawgeti(L, -1, i);
    lua_Integer status;
    if(type == LUA_TNUMBER && check_whole_number(L, -1, &status)) {
      if(status < POLICY_MIN_STATUS || status > POLICY_MAX_STATUS)
        luax_error(L, "retry_on: %I is not an HTTP status (100 to 599)",
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
        luax_error(L, "retry_on: unknown failure class '%s' (known: "
                   "connect, dns, timeout, reset, tls, other, or a status "
                   "like 503 or \"5xx\")", s);
    }
    else {
      char got[64];
      check_show_number(L, -1, got, sizeof(got));
      luax_error(L, "retry_on: entry %I must be a status or a failure "
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
    luax_error(L, "policy field 'retry_on' must be a list (1, 2, ... with "
               "no other keys)");
  lua_pop(L, 1);
}

static void compile_backoff(lua_State *L, struct policy *p, int t)
{
  int type = lua_getfield(L, t, "backoff"), b = lua_gettop(L);
  if(type == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if(type != LUA_TTABLE)
    luax_error(L, "policy field 'backoff' must be a table like "
               "{initial=0.1, factor=2, max=10, jitter=\"full\"} (got %s)",
               luaL_typename(L, -1));
  check_names(L, b, "backoff", backoff_fields);
  p->initial = field_seconds(L, b, "initial", "backoff.initial", p->initial,
                             0, " of seconds");
  p->factor = field_seconds(L, b, "factor", "backoff.factor", p->factor, 1,
                            "");
  p->max = field_seconds(L, b, "max", "backoff.max", p->max, 0,
                         " of seconds");
  if(lua_getfield(L, b, "jitter") != LUA_TNIL) {
    int j = lua_type(L, -1) == LUA_TSTRING ?
            policy_jitter_from_name(lua_tostring(L, -1)) : -1;
    if(j < 0)                        /* a string as it is, else its type */
      luax_error(L, "backoff.jitter must be \"full\", \"equal\", "
                 "\"decorrelated\" or \"none\" (got %s)",
                 lua_type(L, -1) == LUA_TSTRING ?
                 lua_tostring(L, -1) : luaL_typename(L, -1));
    p->jitter = (enum policy_jitter)j;
  }
  lua_pop(L, 2);
}

/* hedge = {delay=, max=} or false (the default: none). */
static void compile_hedge(lua_State *L, struct lpolicy *p, int t)
{
  int type = lua_getfield(L, t, "hedge"), h = lua_gettop(L);
  if(type == LUA_TNIL || (type == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
    lua_pop(L, 1);
    return;
  }
  if(type != LUA_TTABLE)
    luax_error(L, "policy field 'hedge' must be a table like {delay=0.05, "
               "max=2} or false (got %s)", type == LUA_TBOOLEAN ? "true" :
               luaL_typename(L, -1));
  check_names(L, h, "hedge", hedge_fields);
  p->hedge_delay = field_seconds(L, h, "delay", "hedge.delay", HEDGE_DELAY,
                                 0.001, " of seconds");
  p->hedge_max = HEDGE_MAX;
  if(lua_getfield(L, h, "max") != LUA_TNIL) {
    lua_Integer n;
    if(!check_whole_number(L, -1, &n) || n < 1 || n > LPOLICY_HEDGE_MAX) {
      char got[64];
      check_show_number(L, -1, got, sizeof(got));
      luax_error(L, "policy field 'hedge.max' must be a whole number from 1 "
                 "to %d (got %s)", LPOLICY_HEDGE_MAX, got);
    }
    p->hedge_max = (int)n;
  }
  lua_pop(L, 2);
}

/* A whole number field k of table t from lo to 1e9 (def when absent),
 * named label in messages. */
static int field_count(lua_State *L, int t, const char *k, const char *label,
                       int def, int lo)
{
  lua_Integer n = def;
  if(lua_getfield(L, t, k) != LUA_TNIL &&
     (!check_whole_number(L, -1, &n) || n < lo || n > 1000000000)) {
    char got[64];
    check_show_number(L, -1, got, sizeof(got));
    luax_error(L, "policy field '%s' must be a whole number from %d to 1e9 "
               "(got %s)", label, lo, got);
  }
  lua_pop(L, 1);
  return (int)n;
}

/* Field k of table t: nil (def), true (on, with the defaults), false
 * (off) or a table, left at the top (else nothing is pushed). Returns
 * the on/off state; raises for anything else, showing `like`. */
static int guard_table(lua_State *L, int t, const char *k, int def,
                       const char *like)
{
  int type = lua_getfield(L, t, k);
  if(type == LUA_TTABLE)
    return 1;
  if(type != LUA_TNIL && type != LUA_TBOOLEAN)
    luax_error(L, "policy field '%s' must be true, false or a table like "
               "%s (got %s)", k, like, luaL_typename(L, -1));
  if(type == LUA_TBOOLEAN)
    def = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return def;
}

/* budget, breaker, when_open and key: the per-host guards (guard.h). */
static void compile_guard(lua_State *L, struct guard_conf *g, int t)
{
  int b, i, kinds = 0;     /* 1: a bucket's field given, 2: a ratio's */
  guard_conf_init(g);
  if(!guard_table(L, t, "budget", 1, "{tokens=500, retry_cost=5, "
                  "timeout_cost=10, refill=1} or {ratio=0.1, "
                  "min_per_second=10}"))
    g->budget = GUARD_BUDGET_OFF;
  else if(lua_istable(L, -1)) {
    b = lua_gettop(L);
    check_names(L, b, "budget", budget_fields);
    for(i = 0; budget_fields[i]; i++) {
      if(lua_getfield(L, b, budget_fields[i]) != LUA_TNIL)
        kinds |= i < BUDGET_RATIO_FIELDS ? 1 : 2;
      lua_pop(L, 1);
    }
    if(kinds == 3)
      luax_error(L, "policy field 'budget' is a bucket (tokens, retry_cost, "
                 "timeout_cost, refill) or a ratio (ratio, min_per_second), "
                 "not both");
    if(kinds == 2) {
      g->budget = GUARD_BUDGET_RATIO;
      g->ratio = field_seconds(L, b, "ratio", "budget.ratio", g->ratio, 0,
                               "");
      g->min_per_second = field_seconds(L, b, "min_per_second",
                                        "budget.min_per_second",
                                        g->min_per_second, 0, "");
    }
    g->tokens = field_seconds(L, b, "tokens", "budget.tokens", g->tokens, 0,
                              "");
    g->retry_cost = field_seconds(L, b, "retry_cost", "budget.retry_cost",
                                  g->retry_cost, 0, "");
    g->timeout_cost = field_seconds(L, b, "timeout_cost",
                                    "budget.timeout_cost", g->timeout_cost,
                                    0, "");
    g->refill = field_seconds(L, b, "refill", "budget.refill", g->refill, 0,
                              "");
    lua_pop(L, 1);
  }
  g->breaker = guard_table(L, t, "breaker", 0, "{ratio=0.1, min_calls=100, "
                           "window=30, break_for=5, consecutive=5}");
  if(g->breaker && lua_istable(L, -1)) {
    b = lua_gettop(L);
    check_names(L, b, "breaker", breaker_fields);
    if(lua_getfield(L, b, "ratio") != LUA_TNIL) {
      g->fail_ratio = lua_tonumber(L, -1);
      if(lua_type(L, -1) != LUA_TNUMBER || !(g->fail_ratio >= 0) ||
         g->fail_ratio > 1) {
        char got[64];
        check_show_number(L, -1, got, sizeof(got));
        luax_error(L, "policy field 'breaker.ratio' must be a number from "
                   "0 to 1 (got %s)", got);
      }
    }
    lua_pop(L, 1);
    g->min_calls = field_count(L, b, "min_calls", "breaker.min_calls",
                               g->min_calls, 1);
    g->window = field_seconds(L, b, "window", "breaker.window", g->window,
                              0.001, " of seconds");
    g->break_for = field_seconds(L, b, "break_for", "breaker.break_for",
                                 g->break_for, 0.001, " of seconds");
    g->consecutive = field_count(L, b, "consecutive", "breaker.consecutive",
                                 0, 1);
    lua_pop(L, 1);
  }
  if(lua_getfield(L, t, "when_open") != LUA_TNIL) {
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) :
                    NULL;
    if(!s || (strcmp(s, "fail") && strcmp(s, "wait")))
      luax_error(L, "policy field 'when_open' must be \"fail\" or \"wait\" "
                 "(got %s)", s ? s : luaL_typename(L, -1));
    g->when_open_wait = !strcmp(s, "wait");
  }
  lua_pop(L, 1);
  if(lua_getfield(L, t, "key") != LUA_TNIL) {
    size_t len = 0;
    const char *s = lua_type(L, -1) == LUA_TSTRING ?
                    lua_tolstring(L, -1, &len) : NULL;
    size_t i = 0;
    while(s && i < len && (unsigned char)s[i] >= 0x20 && s[i] != 0x7f)
      i++;                    /* it is shown in -v lines and the summary */
    if(!s || len == 0 || len > 200 || i != len)
      luax_error(L, "policy field 'key' must be a name of 1 to 200 bytes, "
                 "no control characters (got %s)", s ? "another string" :
                 luaL_typename(L, -1));
    g->named_key = 1;
  }
  lua_pop(L, 1);
}

static void check_idempotency_key(lua_State *L, int t)
{
  int type = lua_getfield(L, t, "idempotency_key");
  if(type != LUA_TNIL && type != LUA_TBOOLEAN) {
    size_t len = 0;
    const char *s = type == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if(!s || !check_is_token(s, len)) {
      char shown[CHECK_SHOW_MAX * 4 + 8];
      if(s)
        check_show_bytes(shown, sizeof(shown), s, len);
      else
        snprintf(shown, sizeof(shown), "%s", luaL_typename(L, -1));
      luax_error(L, "policy field 'idempotency_key' must be true, false or "
                 "a header name (a token of letters, digits and "
                 "!#$%%&'*+-.^_`|~) (got %s)", shown);
    }
  }
  lua_pop(L, 1);
}

/* Pushes a copy of the table at idx, one level deep. */
static void push_copy(lua_State *L, int idx)
{
  idx = lua_absindex(L, idx);
  json_touch(L, idx);
  lua_newtable(L);
  lua_pushnil(L);
  while(lua_next(L, idx)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
}

/* core.policy(fields) -> Policy. Copies the table first (backoff and
 * retry_on too), reading it raw, so that no metamethod of the script's
 * can show the checks one value and the copy another; then checks every
 * field of the copy and keeps it. */
static int lcore_policy(lua_State *L)
{
  struct lpolicy *p;
  int i, f;
  if(!lua_istable(L, 1))
    return luax_error(L, "bad argument #1 to 'policy' (table expected, got "
                      "%s)", luaL_typename(L, 1));
  lua_settop(L, 1);
  push_copy(L, 1);
  lua_replace(L, 1);
  for(i = 0; i < 5; i++) {
    static const char *const tables[] = {
      "backoff", "retry_on", "budget", "breaker", "hedge"
    };
    const char *k = tables[i];
    lua_pushstring(L, k);
    if(lua_rawget(L, 1) == LUA_TTABLE) {
      push_copy(L, -1);
      lua_setfield(L, 1, k);
    }
    lua_pop(L, 1);
  }
  check_names(L, 1, "policy", fields);
  p = lua_newuserdatauv(L, sizeof(*p), LPOLICY_NUV);
  memset(p, 0, sizeof(*p));
  policy_init(&p->pol);
  luaL_setmetatable(L, LUAX_POLICY_MT);

  if(lua_getfield(L, 1, "attempts") != LUA_TNIL) {
    lua_Integer n;
    if(!check_whole_number(L, -1, &n) || n < 1 || n > 1000) {
      char got[64];
      check_show_number(L, -1, got, sizeof(got));
      luax_error(L, "policy field 'attempts' must be a whole number from 1 "
                 "to 1000 (got %s)", got);
    }
    p->pol.attempts = (int)n;
  }
  lua_pop(L, 1);
  compile_retry_on(L, &p->pol, 1);
  compile_backoff(L, &p->pol, 1);
  /* a deadline must leave time for an attempt: at least the shortest
   * timeout */
  p->pol.deadline = field_seconds(L, 1, "deadline", "deadline",
                                  p->pol.deadline, 0.001, " of seconds");
  p->pol.timeout = field_seconds(L, 1, "timeout", "timeout", p->pol.timeout,
                                 0.001, " of seconds");
  p->pol.connect_timeout = field_seconds(L, 1, "connect_timeout",
                                         "connect_timeout",
                                         p->pol.connect_timeout, 0.001,
                                         " of seconds");
  p->pol.max_retry_after = field_seconds(L, 1, "max_retry_after",
                                         "max_retry_after",
                                         p->pol.max_retry_after, 0,
                                         " of seconds");
  p->pol.retry_after = field_boolean(L, 1, "retry_after",
                                     p->pol.retry_after);
  p->pol.unsafe = field_boolean(L, 1, "unsafe", p->pol.unsafe);
  p->raise = field_boolean(L, 1, "raise", 1);
  check_idempotency_key(L, 1);
  compile_guard(L, &p->guard, 1);
  compile_hedge(L, p, 1);
  if(lua_getfield(L, 1, "name") != LUA_TNIL) {
    size_t n = 0, j = 0;
    int str = lua_type(L, -1) == LUA_TSTRING;
    const char *s = str ? lua_tolstring(L, -1, &n) : "";
    while(j < n && (unsigned char)s[j] >= 0x20 && s[j] != 0x7f)
      j++;
    if(!n || j < n || n > 100)
      luax_error(L, "policy field 'name' must be a string of 1 to 100 bytes "
                 "without control characters (got %s)", !str ?
                 luaL_typename(L, -1) : !n ? "''" : j < n ?
                 "a control character" : "a longer one");
    lredact_push(L, s, n, NULL);       /* as -v, --log and reports show it */
    p->name = lua_tostring(L, -1);
    lua_setiuservalue(L, 2, LPOLICY_NAME);
  }
  lua_pop(L, 1);
  for(i = 0, f = LPOLICY_VALID; hooks[i]; i++, f++) {
    int type = lua_getfield(L, 1, hooks[i]);
    if(type != LUA_TNIL && type != LUA_TFUNCTION)
      luax_error(L, "policy field '%s' must be a function (got %s)",
                 hooks[i], luaL_typename(L, -1));
    if(type == LUA_TFUNCTION)
      p->hooks |= 1u << f;
    lua_setiuservalue(L, 2, f);
  }
  /* the copy the checks read is the one kept */
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 2, LPOLICY_FIELDS);
  return 1;
}

struct lpolicy *lpolicy_test(lua_State *L, int idx)
{
  return luax_testsized(L, idx, LUAX_POLICY_MT, sizeof(struct lpolicy));
}

/* The Policy at idx, or raises at the script's line naming fname. */
static struct lpolicy *check_policy(lua_State *L, int idx, const char *fname)
{
  struct lpolicy *p = lpolicy_test(L, idx);
  if(!p)
    luax_error(L, "bad argument #%d to '%s' (retryrun.Policy expected, got "
               "%s)", idx, fname, luaL_typename(L, idx));
  return p;
}

void lpolicy_push_hook(lua_State *L, int idx, int uv)
{
  lua_getiuservalue(L, idx, uv);
}

/* core.policy_fields(p) -> a copy of p's fields (backoff copied too), to
 * make another policy from. */
static int lcore_policy_fields(lua_State *L)
{
  check_policy(L, 1, "extend");
  lua_getiuservalue(L, 1, LPOLICY_FIELDS);
  push_copy(L, -1);
  if(lua_getfield(L, -1, "backoff") == LUA_TTABLE) {
    push_copy(L, -1);
    lua_setfield(L, -3, "backoff");
  }
  lua_pop(L, 1);
  return 1;
}

/* p.name: the field as it was given (a table field as a copy, so nothing
 * can change the policy through it), else a method (upvalue 1, the
 * methods table, which no method name can use to hide a field). */
static int lpolicy_index(lua_State *L)
{
  int i;
  lua_settop(L, 2);
  if(lua_getiuservalue(L, 1, LPOLICY_FIELDS) == LUA_TTABLE) {
    lua_pushvalue(L, 2);
    switch(lua_rawget(L, -2)) {
    case LUA_TNIL:
      break;
    case LUA_TTABLE:
      push_copy(L, -1);
      return 1;
    default:
      return 1;
    }
  }
  lua_settop(L, 2);
  if(lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    for(i = 0; fields[i]; i++)
      if(!strcmp(k, fields[i]))
        return 0;               /* a field not given: nil, never a method */
  }
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int lpolicy_newindex(lua_State *L)
{
  if(lua_type(L, 2) == LUA_TSTRING)
    return luax_error(L, "a policy cannot change: make another with "
                      "policy:extend{%s = ...}", lua_tostring(L, 2));
  return luax_error(L, "a policy cannot change: make another with "
                    "policy:extend{...}");
}

static int lpolicy_tostring(lua_State *L)
{
  struct lpolicy *p = check_policy(L, 1, "tostring");
  lua_pushfstring(L, "retryrun.Policy (attempts %d)", p->pol.attempts);
  return 1;
}

/* core.is_policy(v) -> true when v is a Policy; upvalue 1 is the Policy
 * metatable (http.lua asks once a call). */
static int lcore_is_policy(lua_State *L)
{
  lua_pushboolean(L, luax_testudata(L, 1, lua_upvalueindex(1), sizeof(struct lpolicy)) != NULL);
  return 1;
}

/* core.backoff(p, n [, prev]) -> the delay before retry n, drawn from the
 * run's seeded generator. */
static int lcore_backoff(lua_State *L)
{
  struct lpolicy *p = check_policy(L, 1, "delay");
  lua_Integer n = luaL_checkinteger(L, 2);
  double prev = luaL_optnumber(L, 3, 0);
  if(n < 1)
    return luax_error(L, "bad argument #1 to 'delay' (retry number must be "
                      ">= 1)");
  if(n > 100000)
    n = 100000;                 /* past any cap: the same wait */
  lua_pushnumber(L, policy_backoff(&p->pol, (int)n, prev,
                                   &runtime_of(L)->rng));
  return 1;
}

/* core.seed(n): reseeds the generator behind jitter. */
static int lcore_seed(lua_State *L)
{
  policy_rng_seed(&runtime_of(L)->rng, (uint64_t)luaL_checkinteger(L, 1));
  return 0;
}

void lpolicy_register(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"policy", lcore_policy},
    {"policy_fields", lcore_policy_fields},
    {"backoff", lcore_backoff},
    {"seed", lcore_seed},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__newindex", lpolicy_newindex},
    {"__tostring", lpolicy_tostring},
    {NULL, NULL}
  };
  luax_newtype(L, LUAX_POLICY_MT, meta, NULL);
  lua_newtable(L);                      /* the methods */
  lua_pushvalue(L, -1);
  lua_setfield(L, -4, "Policy");
  lua_pushcclosure(L, lpolicy_index, 1);
  lua_setfield(L, -2, "__index");
  /* getmetatable(p) gives this name, not the table every policy shares */
  lua_pushliteral(L, LUAX_POLICY_MT);
  lua_setfield(L, -2, "__metatable");
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, lcore_is_policy, 1);
  lua_setfield(L, -3, "is_policy");
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
