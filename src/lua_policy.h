/*
 * lua_policy.h - retryrun.Policy: a retry policy as scripts hold it, made
 * once from a table of fields and never changed after (p:extend{...} makes
 * another).
 *
 * The one place a policy field is checked: its name, its type and its
 * range, with the same message whichever way the field came (retry.policy,
 * :extend, retry= on a call). The object keeps the compiled form the
 * engine reads (struct policy, policy.c's), the hooks, and a private copy
 * of the fields for reading back (p.attempts, p.valid).
 */
#ifndef RETRYRUN_LUA_POLICY_H
#define RETRYRUN_LUA_POLICY_H

#include <lua.h>

#include "guard.h"
#include "policy.h"

/* User values of a Policy: the fields, one per hook, then its name as
 * -v, --log and reports show it (redacted). */
enum {
  LPOLICY_FIELDS = 1, LPOLICY_VALID, LPOLICY_BEFORE_ATTEMPT,
  LPOLICY_ON_RETRY, LPOLICY_ON_GIVEUP, LPOLICY_NAME,
  LPOLICY_NUV = LPOLICY_NAME
};

/* The most attempts a hedged call has in flight at once (hedge.max). */
#define LPOLICY_HEDGE_MAX 10

struct lpolicy {
  struct policy pol;
  unsigned hooks;      /* 1 << LPOLICY_VALID, ... for each hook set */
  int raise;           /* a give-up raises (else returns nil, err) */
  struct guard_conf guard;   /* budget, breaker, when_open, key */
  double hedge_delay;  /* hedge = {delay=, max=}: seconds before a hedge */
  int hedge_max;       /* attempts in flight at once; 0: no hedging */
  const char *name;    /* name = "...", redacted (user value LPOLICY_NAME),
                          or NULL when it has none */
};

/* The Policy at idx, or NULL if it is not one. */
struct lpolicy *lpolicy_test(lua_State *L, int idx);

/* 1 when the Policy p has hook uv (LPOLICY_VALID...). */
#define lpolicy_has(p, uv) (((p)->hooks >> (uv)) & 1u)

/* Pushes hook uv of the Policy at idx. */
void lpolicy_push_hook(lua_State *L, int idx, int uv);

/* Adds policy, policy_fields, is_policy, backoff, seed and Policy (the
 * methods table, which retryrun.retry and retryrun.http fill) to the table
 * at the top (retryrun.core). */
void lpolicy_register(lua_State *L);

#endif
