/*
 * lua_giveup.c - retryrun.GiveUp (see lua_giveup.h).
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_giveup.h"
#include "luax.h"

/* Registry key of the records: a table with weak keys, GiveUp -> a
 * userdata struct lgiveup_record (metatable LUAX_RECORD_MT) whose user
 * values are the message and the response. Out of the script's reach: no
 * field of the GiveUp, so nothing a script does to the error changes a
 * wrapper's decision, and a table made to look like a GiveUp has none. */
static char records_key;

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
static void attempt_word(lua_State *L, int list, lua_Integer i, char *w,
                         size_t n)
{
  int invalid, top = lua_gettop(L);
  lua_rawgeti(L, list, i);
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

/* Pushes the one-line message of g:
 *   GET url gave up after 4 attempts in 1.4 s: 500, 500, reset, 500
 * followed by why, when it is not simply "out of attempts". */
static void push_message(lua_State *L, const struct lgiveup *g)
{
  luaL_Buffer b;
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, g->attempts);
  const struct policy_decision *d = g->dec;
  char num[160];
  const char *words;
  size_t wlen;

  /* the attempts' words first, as a string kept below the message */
  luaL_buffinit(L, &b);
  for(i = 1; i <= n; i++) {
    char word[48];
    attempt_word(L, g->attempts, i, word, sizeof(word));
    luaL_addstring(&b, i == 1 ? ": " : ", ");
    luaL_addstring(&b, word);
  }
  luaL_pushresult(&b);
  words = lua_tolstring(L, -1, &wlen);

  luaL_buffinit(L, &b);
  luaL_addstring(&b, g->what);
  snprintf(num, sizeof(num), " gave up after %d attempt%s in %.1f s",
           (int)n, n == 1 ? "" : "s", g->elapsed);
  luaL_addstring(&b, num);
  luaL_addlstring(&b, words, wlen);
  if(g->note) {
    /* said once: an attempt stopped in flight has it as its word */
    size_t nlen = strlen(g->note);
    if(wlen < nlen || strcmp(words + wlen - nlen, g->note)) {
      luaL_addstring(&b, "; ");
      luaL_addstring(&b, g->note);
    }
  }
  else switch(d->reason) {
  case POLICY_DEADLINE:
    snprintf(num, sizeof(num), "; the deadline of %.3g s is reached",
             g->pol->deadline);
    luaL_addstring(&b, num);
    break;
  case POLICY_UNSAFE:
    luaL_addstring(&b, "; not retried: ");
    luaL_addstring(&b, g->method);
    luaL_addstring(&b, " is not idempotent and the request may have "
                   "reached the server");
    luaL_addstring(&b, g->wrapper ?
                   " (a key does not carry from one run of the function to "
                   "the next: retry the call itself with "
                   "idempotency_key=true, or set unsafe=true here if "
                   "repeating it is harmless)" :
                   " (set idempotency_key=true, or unsafe=true if "
                   "repeating it is harmless)");
    break;
  case POLICY_NOT_RETRYABLE:
    if(g->out->cls == POLICY_TOO_LARGE)
      luaL_addstring(&b, "; a response over a size limit is never retried");
    else if(g->out->cls != POLICY_RESPONSE && g->pol->attempts > 1) {
      luaL_addstring(&b, "; ");
      luaL_addstring(&b, policy_class_name(g->out->cls));
      luaL_addstring(&b, " is not in retry_on");
    }
    break;
  case POLICY_RETRY_AFTER_LONG:
    snprintf(num, sizeof(num), "; the server asked to be called again in "
             "%.0f s (Retry-After), over max_retry_after (%g s)",
             d->retry_after, g->pol->max_retry_after);
    luaL_addstring(&b, num);
    break;
  case POLICY_RETRY_AFTER_DEADLINE:
    snprintf(num, sizeof(num), "; the server asked to be called again in "
             "%.0f s (Retry-After), past the deadline", d->retry_after);
    luaL_addstring(&b, num);
    break;
  case POLICY_BUDGET:
    luaL_addstring(&b, "; not retried: the retry budget of this host is "
                   "spent (too many retries to it in this run)");
    break;
  case POLICY_CIRCUIT_OPEN:
    luaL_addstring(&b, n ? "; not sent again" : "; not sent");
    luaL_addstring(&b, ": the circuit breaker of this host is open");
    break;
  case POLICY_COOL_DOWN:
    luaL_addstring(&b, n ? "; not sent again" : "; not sent");
    luaL_addstring(&b, ": the host asked for a pause that ends after this "
                   "call's deadline or lasts longer than its "
                   "max_retry_after");
    break;
  default:
    break;
  }
  /* the last attempt's detail: libcurl's words or the predicate's */
  if(g->reason && lua_isstring(L, g->reason)) {
    const char *r = lua_tostring(L, g->reason);
    size_t len = strcspn(r, "\n");
    luaL_addstring(&b, " (");
    luaL_addlstring(&b, r, len > 300 ? 300 : len);
    luaL_addstring(&b, ")");
  }
  luaL_pushresult(&b);
  lua_remove(L, -2);                    /* the words */
}

const char *lgiveup_reason(const struct policy_decision *d, const char *note)
{
  if(note)
    return note;
  switch(d->reason) {
  case POLICY_EXHAUSTED: return "exhausted";
  case POLICY_DEADLINE: return "deadline";
  case POLICY_UNSAFE: return "unsafe";
  case POLICY_NOT_RETRYABLE: return "not_retryable";
  case POLICY_BUDGET: return "budget";
  case POLICY_CIRCUIT_OPEN: return "circuit_open";
  case POLICY_COOL_DOWN: return "cool_down";
  default: return "retry_after";
  }
}

void lgiveup_push(lua_State *L, const struct lgiveup *g)
{
  struct lgiveup_record *r;
  lua_createtable(L, 0, 10);
  luaL_setmetatable(L, LUAX_GIVEUP_MT);
  push_message(L, g);
  lua_setfield(L, -2, "message");
  lua_pushstring(L, lgiveup_reason(g->dec, g->note));
  lua_setfield(L, -2, "reason");
  lua_pushvalue(L, g->attempts);
  lua_setfield(L, -2, "attempts");
  if(g->response) {
    lua_pushvalue(L, g->response);
    lua_setfield(L, -2, "response");
  }
  lua_pushnumber(L, g->elapsed);
  lua_setfield(L, -2, "elapsed");
  if(g->dec->retry_after >= 0) {
    lua_pushnumber(L, g->dec->retry_after);
    lua_setfield(L, -2, "retry_after");
  }
  lua_createtable(L, 0, 3);
  if(g->method[0]) {            /* none for a function's own value */
    lua_pushstring(L, g->method);
    lua_setfield(L, -2, "method");
  }
  if(g->url) {
    lua_pushstring(L, g->url);
    lua_setfield(L, -2, "url");
  }
  lua_pushboolean(L, g->has_key);
  lua_setfield(L, -2, "idempotency_key");
  lua_setfield(L, -2, "request");
  if(g->cause) {
    lua_pushvalue(L, g->cause);
    lua_setfield(L, -2, "cause");
  }
  /* the record, out of the script's reach */
  r = lua_newuserdatauv(L, sizeof(*r), 2);
  memset(r, 0, sizeof(*r));
  r->out = *g->out;
  r->out.retry_after = NULL;
  r->idempotent = g->idempotent;
  r->retry_after = g->dec->retry_after;
  r->guard = g->guard;
  snprintf(r->method, sizeof(r->method), "%s", g->method);
  luaL_setmetatable(L, LUAX_RECORD_MT);
  lua_getfield(L, -2, "message");
  lua_setiuservalue(L, -2, 1);
  if(g->response)
    lua_pushvalue(L, g->response);
  else
    lua_pushnil(L);
  lua_setiuservalue(L, -2, 2);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &records_key);
  lua_pushvalue(L, -3);                  /* the GiveUp */
  lua_pushvalue(L, -3);                  /* its record */
  lua_rawset(L, -3);
  lua_pop(L, 2);
}

int lgiveup_is(lua_State *L, int idx)
{
  return luax_is_a(L, idx, LUAX_GIVEUP_MT);
}

const struct lgiveup_record *lgiveup_record(lua_State *L, int idx)
{
  const struct lgiveup_record *r;
  idx = lua_absindex(L, idx);
  if(!lua_istable(L, idx))
    return NULL;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &records_key);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  lua_remove(L, -2);
  r = luax_testsized(L, -1, LUAX_RECORD_MT, sizeof(*r));
  if(!r) {
    lua_pop(L, 1);
    return NULL;
  }
  lua_getiuservalue(L, -1, 1);
  lua_getiuservalue(L, -2, 2);
  lua_remove(L, -3);
  return r;          /* the GiveUp at idx keeps it */
}

void lgiveup_register(lua_State *L)
{
  lua_newtable(L);                      /* the records, weak keys */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &records_key);
  luaL_newmetatable(L, LUAX_RECORD_MT);
  lua_pushliteral(L, "the record of a give-up");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  luaL_newmetatable(L, LUAX_GIVEUP_MT);
  lua_pushcfunction(L, lgiveup_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_setfield(L, -2, "GiveUp");
}
