/*
 * lua_giveup.h - retryrun.GiveUp: the error a call raises (or returns with
 * raise = false) when its policy gives up, with its one-line message, and
 * the record of its outcome that a policy(fn) wrapper decides from.
 *
 * The GiveUp is a table scripts may read and change (message, reason,
 * attempts, response, elapsed, retry_after, request, cause); the record is
 * kept apart from it, so what a script does to the table changes no
 * wrapper's decision.
 */
#ifndef RETRYRUN_LUA_GIVEUP_H
#define RETRYRUN_LUA_GIVEUP_H

#include <lua.h>

#include "policy.h"

struct guard_state;

/* What a give-up is made from. Stack indices are absolute; 0 for none. */
struct lgiveup {
  const char *what;            /* "GET url" or "function at file:line",
                                  redacted */
  const char *url;             /* the redacted URL; NULL for a function */
  const char *method;
  const char *note;            /* "interrupted", "cancelled", or NULL */
  const struct policy *pol;
  const struct policy_decision *dec;
  const struct policy_outcome *out;   /* the last attempt's */
  int wrapper;                 /* a policy(fn) wrapper gave up */
  int has_key;                 /* the request carried an idempotency key */
  int idempotent;              /* the safety rule lets it be repeated */
  double elapsed;
  int attempts;                /* the attempts list */
  int reason;                  /* the last attempt's detail, a string */
  int response;                /* the last response */
  int cause;                   /* the inner give-up of a wrapper */
  struct guard_state *guard;   /* the guards of its last attempt's host */
};

/* The outcome of the call that gave up, as a wrapper judges it. */
struct lgiveup_record {
  struct policy_outcome out;   /* its last attempt (retry_after unset) */
  int idempotent;              /* its method may be repeated */
  double retry_after;          /* seconds the server asked, or -1 */
  char method[16];
  struct guard_state *guard;   /* its host's guards, or NULL: a wrapper
                                  pays its retry from that budget */
};

/* The give-up's `reason` as scripts see it: the note ("interrupted",
 * "cancelled") if any, else "exhausted", "deadline", "unsafe",
 * "not_retryable" or "retry_after" for the decision's reason. */
const char *lgiveup_reason(const struct policy_decision *d, const char *note);

/* Pushes the GiveUp of g. */
void lgiveup_push(lua_State *L, const struct lgiveup *g);

/* The record of the GiveUp at idx, or NULL when retryrun did not make
 * it. When not NULL, pushes its message and its last response (2
 * values). */
const struct lgiveup_record *lgiveup_record(lua_State *L, int idx);

/* 1 when the value at idx is a GiveUp. */
int lgiveup_is(lua_State *L, int idx);

/* Makes the GiveUp metatable; adds GiveUp to the table at the top
 * (retryrun.core). */
void lgiveup_register(lua_State *L);

#endif
