/*
 * lua_trace.c - the -v line of an attempt (see lua_call.h): when, which
 * task, the request (its URL redacted), what came back, how long it took,
 * and what the policy decided:
 *
 *   [  0.412] task 1  GET http://h/items  503  12 ms  retry in 0.42 s
 *
 * It only makes the line; the host's trace function prints it. Costs
 * nothing when -v is off: the call never gets here.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "loop.h"
#include "lua_call.h"
#include "lua_redact.h"
#include "lua_task.h"
#include "runtime.h"

#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define RED "\033[31m"
#define PLAIN "\033[0m"

/* Writes what the attempt came back with: "503", "200 invalid", "reset". */
static void outcome_word(const struct call *c, char *w, size_t n)
{
  if(c->out.cls != POLICY_RESPONSE)
    snprintf(w, n, "%s", policy_class_name(c->out.cls));
  else if(c->out.status)
    snprintf(w, n, "%d%s", c->out.status, c->out.invalid ? " invalid" : "");
  else
    snprintf(w, n, "%s", c->out.invalid ? "invalid" : "result");
}

/* Writes the decision and returns its colour. */
static const char *decision(const struct call *c, const char *word, char *d,
                            size_t n)
{
  const struct policy_decision *dec = &c->dec;
  if(dec->verdict == POLICY_ACCEPT) {
    snprintf(d, n, "accept");
    return GREEN;
  }
  if(dec->verdict == POLICY_RETRY) {
    if(dec->retry_after >= 0)
      snprintf(d, n, "retry at Retry-After %g s", dec->retry_after);
    else
      snprintf(d, n, "retry in %.3g s: %s", dec->delay, word);
    return YELLOW;
  }
  switch(dec->reason) {
  case POLICY_UNSAFE:
    snprintf(d, n, "not retried: %s may have reached the server",
             c->method);
    break;
  case POLICY_DEADLINE:
    snprintf(d, n, "give up: the deadline of %.3g s", c->pol.deadline);
    break;
  case POLICY_NOT_RETRYABLE:
    snprintf(d, n, "give up: %s is not retried", word);
    break;
  case POLICY_RETRY_AFTER_LONG:
  case POLICY_RETRY_AFTER_DEADLINE:
    snprintf(d, n, "give up: Retry-After %g s is too long",
             dec->retry_after);
    break;
  default:
    snprintf(d, n, "give up: attempts exhausted");
    break;
  }
  return RED;
}

void ltrace_attempt(lua_State *L, struct call *c, double duration)
{
  const struct runtime *rt = runtime_of(L);
  char word[48], dec[160], head[96];
  const char *colour;
  int top = lua_gettop(L);

  outcome_word(c, word, sizeof(word));
  colour = decision(c, word, dec, sizeof(dec));
  snprintf(head, sizeof(head), "[%8.3f] task %u  ", loop_now() - rt->started,
           c->task->id);
  lcall_push_what(L, c);               /* redacted */
  lua_pushfstring(L, "%s%s  attempt %d  %s  %d ms  %s%s%s", head,
                  lua_tostring(L, -1), c->pc.attempt, word,
                  (int)(duration * 1000 + 0.5), rt->color ? colour : "",
                  dec, rt->color ? PLAIN : "");
  rt->trace(lua_tostring(L, -1));
  lua_settop(L, top);
}
