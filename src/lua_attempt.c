/*
 * lua_attempt.c - one attempt of a call on the wire (see lua_call.h): the
 * request table as it is now, checked again when a hook may have changed
 * it; a transfer (transfer.c) on the loop; its end turned into an outcome
 * (a Response, or a failure class with libcurl's words), or the next hop
 * of a redirect.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "loop.h"
#include "lua_call.h"
#include "lua_check.h"
#include "lua_redact.h"
#include "lua_response.h"
#include "lua_task.h"
#include "luax.h"
#include "runtime.h"
#include "transfer.h"
#include "url.h"

#define DEFAULT_MAX_BODY (64u * 1024 * 1024)
#define MAX_REDIRECTS 10

/* Reads the request's fields that apply to each attempt (request_check
 * has checked them). */
void lattempt_fields(lua_State *L, struct call *c)
{
  const unsigned none = 1u << LUAX_K_MAX_BODY | 1u << LUAX_K_TIMEOUT |
                        1u << LUAX_K_INSECURE | 1u << LUAX_K_REFRESH;
  if((c->req_absent & none) == none) {
    c->max_body = DEFAULT_MAX_BODY;   /* a plain call that gave none */
    c->timeout = 0;
    c->insecure = c->has_refresh = 0;
    return;
  }
  c->max_body = lcall_req_get(L, c, LUAX_K_MAX_BODY) == LUA_TNIL ?
                DEFAULT_MAX_BODY : (size_t)lua_tonumber(L, -1);
  c->timeout = lcall_req_get(L, c, LUAX_K_TIMEOUT) == LUA_TNIL ?
               0 : lua_tonumber(L, -1);
  lcall_req_get(L, c, LUAX_K_INSECURE);
  c->insecure = lua_toboolean(L, -1);
  c->has_refresh = lcall_req_get(L, c, LUAX_K_REFRESH) ==
                   LUA_TFUNCTION;
  lua_pop(L, 4);
}
/* 1 when the request's method is no longer the one the call started
 * with: the safety rule judged that one, so it may not change. */
static int method_changed(lua_State *L, struct call *c)
{
  int changed;
  luax_getkey(L, S_REQ, S_KEYS, LUAX_K_METHOD);
  changed = strcmp(luaL_optstring(L, -1, "GET"), c->method) != 0;
  lua_pop(L, 1);
  return changed;
}
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

/* The parts of the multipart list at the top of the stack (checked by
 * check_request), in a userdata pushed above it; their strings are the
 * list's, so both must stay on the stack until the transfer is
 * prepared. */
static const struct mime_part *multipart_parts(lua_State *L, size_t *n)
{
  int list = lua_gettop(L);
  size_t i, count = lua_rawlen(L, list);
  struct mime_part *parts;
  luaL_checkstack(L, 16, "multipart");   /* and room for what follows */
  parts = lua_newuserdatauv(L, count * sizeof(*parts), 0);
  memset(parts, 0, count * sizeof(*parts));
  for(i = 0; i < count; i++) {
    lua_rawgeti(L, list, (lua_Integer)i + 1);
    lua_getfield(L, -1, "name");
    parts[i].name = lua_tostring(L, -1);
    lua_getfield(L, -2, "data");
    parts[i].data = lua_tolstring(L, -1, &parts[i].data_len);
    lua_getfield(L, -3, "path");
    parts[i].path = lua_tostring(L, -1);
    lua_getfield(L, -4, "filename");
    parts[i].filename = lua_tostring(L, -1);
    lua_getfield(L, -5, "type");
    parts[i].type = lua_tostring(L, -1);
    lua_pop(L, 6);           /* the part's table keeps its strings */
  }
  *n = count;
  return parts;
}

/* As lcall_req_get, but pushes nothing for a field known absent. */
static int req_field(lua_State *L, const struct call *c, int k)
{
  if(c->req_absent & (1u << k))
    return LUA_TNIL;
  return luax_getkey(L, S_REQ, S_KEYS, k);
}

/* Starts a transfer of the request as it is now (or of the redirect hop)
 * with this timeout: the attempt's own, which the task waits on (hedge 0),
 * or a hedge of it, only put on the loop (1); now is the clock, read a
 * moment ago. Returns 0 with *out set and
 * the stack as it was; or -1 with the message (redacted) pushed, having
 * released what it took. */
int lattempt_start(lua_State *L, struct call *c, double timeout, int hedge,
                   double now, struct transfer **out)
{
  struct transfer_opts o;
  struct transfer *tr;
  const char *url;
  size_t blen = 0;
  CURLcode rc;
  int top = lua_gettop(L);
  char why[TRANSFER_ERROR_SIZE];

  memset(&o, 0, sizeof(o));
  *out = NULL;
  /* each field read is pushed and stays until the end (settop), its
   * string in use; a field known absent (req_field) pushes nothing */
  if(c->hops) {
    lua_getiuservalue(L, S_CALL, 1);     /* where a redirect points */
    url = lua_tostring(L, -1);
  }
  else if((url = lcall_url(c)) == NULL) {
    lcall_req_get(L, c, LUAX_K_URL);
    url = lua_tostring(L, -1);           /* request_check: a string */
  }
  if(req_field(L, c, LUAX_K_BODY) == LUA_TSTRING && !c->hop_get)
    o.body = lua_tolstring(L, -1, &blen);
  o.body_len = blen;
  if(req_field(L, c, LUAX_K_MULTIPART) == LUA_TTABLE && !c->hop_get)
    o.parts = multipart_parts(L, &o.nparts);
  if(req_field(L, c, LUAX_K_COMPRESSED) != LUA_TNIL)
    o.compressed = lua_toboolean(L, -1);
  o.method = c->hops ? c->hop_method : c->method;
  o.url = url;
  o.timeout = timeout;
  o.connect_timeout = c->pol->connect_timeout;
  o.max_body = c->max_body;
  o.insecure = c->insecure;
  o.fresh_connect = c->hops ? !policy_method_idempotent(o.method) :
                     !c->pc.idempotent;
  o.wire = runtime_of(L)->wire;
  if(req_field(L, c, LUAX_K_CACERT) == LUA_TSTRING)
    o.cacert = lua_tostring(L, -1);
  if(req_field(L, c, LUAX_K_COOKIES) != LUA_TNIL) {
    struct transfer_jar **jar = luax_testsized(L, -1, LUAX_JAR_MT,
                                                sizeof(*jar));
    if(!jar || !*jar) {
      luax_where(L);
      lua_pushfstring(L, "%sreq.cookies must be a cookie jar",
                      lua_tostring(L, -1));
      tr = NULL;
      goto fail;
    }
    o.jar = *jar;
  }

  tr = transfer_get(why, sizeof(why));
  if(!tr) {
    luax_where(L);
    lua_pushfstring(L, "%scannot start libcurl: %s", lua_tostring(L, -1),
                    why);
    goto fail;
  }
  if(req_field(L, c, LUAX_K_HEADERS) == LUA_TTABLE) {
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
        lua_pushliteral(L, "out of memory");
        goto fail;
      }
      lua_pop(L, 2);
    }
  }
  rc = transfer_prepare(tr, &o, now);
  if(rc == CURLE_OK && (hedge ? loop_transfer_add(&c->task->lt, tr) :
                        loop_wait_transfer(&c->task->lt, tr)))
    rc = CURLE_FAILED_INIT;
  if(rc) {
    lua_pushfstring(L, "cannot start %s %s: %s", c->method, url,
                    tr->errbuf[0] ? tr->errbuf : curl_easy_strerror(rc));
    lredact_at(L, -1, S_REQ);
    goto fail;
  }
  lua_settop(L, top);
  *out = tr;
  return 0;
fail:
  if(tr)
    transfer_release(tr);              /* not on the loop */
  lua_copy(L, -1, top + 1);            /* the message, maybe in place */
  lua_settop(L, top + 1);
  return -1;
}

/* Starts the attempt's transfer from the request table as it is now (a
 * before_attempt hook may have changed its url, headers, body, timeout,
 * max_body, insecure and cacert) and suspends the task. */
int lattempt_send(lua_State *L, struct call *c)
{
  double timeout, now;
  int gate;
  char err[CHECK_MSG];

  err[0] = '\0';
  lcall_top(L);
  /* check everything from the script before taking anything: core.request
   * checked the request, but a before_attempt hook (or whoever else holds
   * the table) may have changed it since. A redirect hop sends the same
   * table again. The error has no position: the hook that did it has
   * returned. */
  if((c->has_before || c->pc.attempt > 1 || c->refreshed) && !c->hops) {
    if(!check_request(L, S_REQ, err, sizeof(err)) &&
       method_changed(L, c))
      snprintf(err, sizeof(err), "req.method cannot change once the call "
               "has started (it is %s)", c->method);
    else if(!*err)
      lattempt_fields(L, c);
    if(*err) {
      loop_slot_giveback(&c->task->lt);
      lcall_close(c);
      lua_pushfstring(L, "%s%s", c->has_before ? "before_attempt: " : "",
                      err);
      return lua_error(L);
    }
  }
  if((gate = lgate_pass(L, c)) >= 0)
    return gate;                      /* a rate limit's wait, or chaos */
  if(!loop_slot_free(&c->task->lt)) {
    /* over the cap on transfers: wait holding nothing, until a slot is
     * handed over or the deadline passes */
    if(loop_wait_slot(&c->task->lt, c->pc.started + c->pol->deadline))
      return luax_error(L, "not enough memory to arm a timer");
    c->k = K_SLOT;
    return loop_yield(&c->task->lt, L, 0, lcall_k);
  }
  /* the clock as lgate_pass read it when the attempt went out */
  now = c->hops || c->wrapper ? loop_now() : c->sent_at;
  timeout = policy_attempt_timeout(c->pol, c->pc.started, now, c->timeout);
  if(timeout < 0.001)
    return lcall_no_time_left(L, c);
  if(lattempt_start(L, c, timeout, 0, now, &c->tr)) {
    loop_slot_giveback(&c->task->lt);
    lcall_close(c);
    return lua_error(L);
  }
  lcall_top(L);                       /* as lattempt_start found it */
  if(lhedge_wanted(c))
    return lhedge_wait(L, c);
  c->k = K_TRANSFER;
  return loop_yield(&c->task->lt, L, (lua_KContext)c, lcall_k);
}
/* For the header at the top of the stack (name below it): 1 when a
 * redirect hop must not send it: credentials once the hop left the
 * request's origin (and a Host set by the script), the body's headers
 * once it became a GET. */
/* Ends the attempt without a response: a redirect retryrun will not
 * follow. The request has arrived, so it counts as sent. */
static int redirect_failed(lua_State *L, struct call *c, const char *why)
{
  c->out.cls = POLICY_OTHER;
  c->out.status = 0;
  c->out.sent = 1;
  lua_pushstring(L, why);
  lua_replace(L, S_REASON);
  lcall_close(c);
  return lcall_decide(L, c);
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
  c->redirected = 1;
  lcall_close(c);
  return lattempt_send(L, c);
}
/* A transfer ended: turn it into an outcome, or follow its redirect. */
int lattempt_done(lua_State *L, struct call *c)
{
  struct transfer *tr = c->tr;
  lcall_top(L);
  lwire_keep(L, tr);
  if(tr->cls == POLICY_RESPONSE && tr->redirect_url &&
     (tr->status == 301 || tr->status == 302 || tr->status == 303 ||
      tr->status == 307 || tr->status == 308)) {
    lhedge_cancel_rest(L, c);   /* the answer is a redirect: follow it */
    return follow_redirect(L, c);
  }
  if(tr->code == CURLE_URL_MALFORMAT && !c->hops) {
    /* no attempt can work: the script's mistake, not the network's (the
     * scheme was checked before; a server's odd answer is a failure
     * class like any other) */
    luax_where(L);
    lcall_push_what(L, c);
    lua_pushfstring(L, "%s%s: malformed URL (%s)", lua_tostring(L, -2),
                    lua_tostring(L, -1), transfer_error_text(tr));
    lredact_at(L, -1, S_REQ);
    lcall_close(c);
    return lua_error(L);
  }
  c->out.cls = tr->cls;
  c->out.status = (int)tr->status;
  /* after a redirect the request itself has certainly arrived */
  c->out.sent = tr->sent || c->hops > 0;
  if(tr->cls == POLICY_RESPONSE) {
    const char *url = tr->effective_url;
    if(!url) {
      lcall_req_get(L, c, LUAX_K_URL);
      url = lua_tostring(L, -1);
    }
    lresp_new(L, S_KEYS, tr, c->method, url, loop_now() - c->pc.started,
              c->judged);
    lua_replace(L, S_RESP);
    lcall_top(L);
    lgate_after(L, c, (int)tr->status);
  }
  else {
    lua_pushstring(L, transfer_error_text(tr));
    lredact_at(L, -1, S_REQ);
    lua_replace(L, S_REASON);
  }
  /* this transfer only: a hedged attempt's others go on (lua_hedge.c) */
  transfer_release(c->tr);
  c->tr = NULL;
  if(c->has_refresh && !c->refreshed && c->out.cls == POLICY_RESPONSE &&
     !c->hop_cross) {
    /* a session's auth sees the response first: it may renew the
     * credentials and have the attempt made again (not for an answer
     * from another origin, which never saw them) */
    c->k = K_REFRESH;
    c->req_absent = 0;                /* the hook may change it */
    lcall_req_get(L, c, LUAX_K_REFRESH);
    lua_pushvalue(L, S_RESP);
    lua_pushvalue(L, S_REQ);
    return lcall_hook(L, c, 2, 2);
  }
  return lcall_check_valid(L, c, S_RESP);
}

/* After req.refresh(resp, req): true when it renewed the credentials, and
 * the attempt is made again with them, once a call, taking no attempt of
 * the policy's (nor any wait); false to judge the response as it is; nil
 * and a message (or an error raised) ends the call with it, redacted. */
int lattempt_refreshed(lua_State *L, struct call *c, int status)
{
  if(loop_task_cancelled(&c->task->lt))
    return lcall_cancelled(L, c);
  if(loop_now() >= c->hook_until) {
    /* the call's time ran out meanwhile: judge the response as it is */
    lua_settop(L, S_TOP);
    return lcall_check_valid(L, c, S_RESP);
  }
  if(status != LUA_OK || lua_isnil(L, -2)) {
    if(lua_type(L, -1) == LUA_TSTRING)
      lredact_at(L, -1, S_REQ);
    if(runtime_observed(runtime_of(L))) {
      /* the attempt reached the server: it is traced and counted, the
       * call given up for its auth, before the error goes on */
      c->dec.verdict = POLICY_GIVEUP;
      c->dec.retry_after = -1;
      c->giveup_note = "auth";
      ltrace_attempt(L, c, loop_now() - c->attempt_started);
      ltrace_call(L, c, 0);
    }
    return lua_error(L);
  }
  if(!lua_toboolean(L, -2)) {
    lua_settop(L, S_TOP);
    return lcall_check_valid(L, c, S_RESP);
  }
  c->refreshed = 1;
  if(runtime_observed(runtime_of(L)))
    ltrace_renew(L, c, loop_now() - c->attempt_started);
  lhedge_renewed(L, c);
  return lcall_before_attempt(L, c);
}

/* The CookieJar userdata: a pointer to the jar, NULL once closed. */
static int ljar_close(lua_State *L)
{
  struct transfer_jar **jar = luax_checksized(L, 1, LUAX_JAR_MT,
                                               sizeof(*jar));
  transfer_jar_drop(*jar);
  *jar = NULL;
  return 0;
}
static int lcore_cookie_jar(lua_State *L)
{
  char why[TRANSFER_ERROR_SIZE];
  struct transfer_jar **jar = lua_newuserdatauv(L, sizeof(*jar), 0);
  *jar = NULL;
  luaL_setmetatable(L, LUAX_JAR_MT);
  *jar = transfer_jar_new(why, sizeof(why));
  if(!*jar)
    return luaL_error(L, "%s", why);
  return 1;
}

/* core.url_origin(url) -> "http|example.com|80", or nil when url has no
 * scheme://, the way redirects judge a hop (url.h). */
static int lcore_url_origin(lua_State *L)
{
  char o[512];
  if(url_origin(luaL_checkstring(L, 1), o, sizeof(o)))
    lua_pushnil(L);
  else
    lua_pushstring(L, o);
  return 1;
}

/* core.check_file_part(name, path) -> nil, or the message saying why the
 * file cannot be a multipart part (mime.h). */
static int lcore_check_file_part(lua_State *L)
{
  char err[1024];
  if(!mime_check_file(luaL_checkstring(L, 1), luaL_checkstring(L, 2), err,
                      sizeof(err)))
    return 0;
  lua_pushstring(L, err);
  return 1;
}

void lattempt_register(lua_State *L)
{
  static const luaL_Reg meta[] = {
    {"__gc", ljar_close},
    {"__close", ljar_close},
    {NULL, NULL}
  };
  luax_newtype(L, LUAX_JAR_MT, meta, NULL);
  lua_pop(L, 1);
  lua_pushcfunction(L, lcore_cookie_jar);
  lua_setfield(L, -2, "cookie_jar");
  lua_pushcfunction(L, lcore_url_origin);
  lua_setfield(L, -2, "url_origin");
  lua_pushcfunction(L, lcore_check_file_part);
  lua_setfield(L, -2, "check_file_part");
}
