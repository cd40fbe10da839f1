/*
 * transfer.c - one HTTP attempt with libcurl (see transfer.h).
 *
 * Uses libcurl's easy interface only to describe a request; the event loop
 * (loop.c) drives it through the multi handle. Never includes lua.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "transfer.h"

static struct transfer *free_list;

/* 1 when this libcurl has no pre-request callback (older than 7.80): then
 * no connection is reused, as nothing could stop a silent resend. */
static int no_prereq;

/* 1 when the environment names no proxy at start (see proxy_unset) */
static int no_proxy_env;

extern char **environ;

/* 1 when no variable of the environment could make libcurl use a proxy:
 * none whose name ends in "_proxy", in any case, other than no_proxy
 * (http_proxy, HTTPS_PROXY, ALL_PROXY and kin). libcurl reads them anew
 * for every connection it looks for; a script cannot change them, so
 * reading them once gives the same answer. */
static int proxy_unset(void)
{
  char **v;
  for(v = environ; v && *v; v++) {
    const char *eq = strchr(*v, '=');
    size_t n = eq ? (size_t)(eq - *v) : strlen(*v);
    if(n >= 6 && !strncasecmp(*v + n - 6, "_proxy", 6) &&
       !(n == 8 && !strncasecmp(*v, "no_proxy", 8)))
      return 0;
  }
  return 1;
}

static void attempt_clear(struct transfer *t);

/* Puts the handle back as curl_easy_init made it, and forgets what it
 * held. */
static void handle_reset(struct transfer *t)
{
  curl_easy_reset(t->easy);
  t->configured = t->dirty = 0;
  t->set_url.len = 0;
  t->set_parsed = 0;
  t->set_timeout_ms = t->set_connect_ms = 0;
  t->set_headers = NULL;
  free(t->set_cacert);
  t->set_cacert = NULL;
  t->set_insecure = 0;
  t->set_compressed = 0;
}

/* Keeps a buffer's memory for the next attempt unless it grew large. */
static void buf_clear(struct dynbuf *b)
{
  if(b->cap > 256 * 1024)
    dynbuf_free(b);
  b->len = 0;
  b->oom = 0;
  if(b->data)
    b->data[0] = '\0';
}

/* libcurl mallocs buffers as a transfer starts and frees them as it ends,
 * so with many transfers in flight the top of the heap is freed and made
 * again by turns; glibc gives it back to the system past 128 KB (until a
 * large block moves its thresholds) and the next transfers fault the same
 * pages in anew, 0.05 faults a request at 64 in flight. The heap keeps up
 * to 16 MiB at its top instead, and takes blocks up to 8 MiB (glibc's own
 * rule: trim at twice the mmap threshold). */
static void heap_keep_top(void)
{
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
#endif
}

enum transfer_result transfer_global_init(char *err, size_t errlen)
{
  /* process-wide, as libcurl's own global state is */
  static enum transfer_result result;
  static int tried;
  static char why[TRANSFER_ERROR_SIZE];
  if(!tried) {
    tried = 1;
    if(curlapi_load(why, sizeof(why)))
      result = TRANSFER_NOCURL;
    else if(curl_global_init(CURL_GLOBAL_DEFAULT)) {
      snprintf(why, sizeof(why), "curl_global_init failed");
      result = TRANSFER_NOCURL;
    }
    no_proxy_env = proxy_unset();
    heap_keep_top();
  }
  if(result)
    snprintf(err, errlen, "%s", why);
  return result;
}

struct transfer *transfer_get(char *err, size_t errlen)
{
  struct transfer *t = free_list;
  if(transfer_global_init(err, errlen))
    return NULL;
  if(t) {
    free_list = t->next_free;
    t->next_free = NULL;
    return t;
  }
  t = calloc(1, sizeof(*t));
  if(t)
    t->easy = curl_easy_init();
  if(!t || !t->easy) {
    free(t);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  return t;
}

struct transfer_jar {
  CURLSH *share;
  int refs;
};

struct transfer_jar *transfer_jar_new(char *err, size_t errlen)
{
  struct transfer_jar *jar;
  if(transfer_global_init(err, errlen))
    return NULL;
  jar = calloc(1, sizeof(*jar));
  if(jar)
    jar->share = curl_share_init();
  if(!jar || !jar->share ||
     curl_share_setopt(jar->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE)) {
    if(jar && jar->share)
      curl_share_cleanup(jar->share);
    free(jar);
    snprintf(err, errlen, "cannot make a cookie jar: out of memory");
    return NULL;
  }
  jar->refs = 1;
  return jar;
}

CURLSH *transfer_jar_share(const struct transfer_jar *jar)
{
  return jar->share;
}

void transfer_jar_drop(struct transfer_jar *jar)
{
  if(jar && --jar->refs == 0) {
    curl_share_cleanup(jar->share);
    free(jar);
  }
}

/* Takes t->ua off the end of the header list, if it is there; returns
 * where the list ends. */
static struct curl_slist **ua_unlink(struct transfer *t)
{
  struct curl_slist **p = &t->headers;
  while(*p && *p != &t->ua)
    p = &(*p)->next;
  *p = NULL;
  return p;
}

void transfer_release(struct transfer *t)
{
  if(!t)
    return;
  ua_unlink(t);
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  t->own_ua = 0;
  curl_mime_free(t->mime);     /* unbinds it from the handle first */
  t->mime = NULL;
  buf_clear(&t->body);
  buf_clear(&t->resp_body);
  buf_clear(&t->resp_headers);
  buf_clear(&t->wire);
  t->effective_url = NULL;
  buf_clear(&t->url_copy);
  free(t->redirect_url);
  t->redirect_url = NULL;
  t->nheaders = 0;
  attempt_clear(t);
  t->done = 0;
  t->status = 0;
  t->code = CURLE_OK;
  t->cls = POLICY_RESPONSE;
  t->sent = 0;
  t->owner = NULL;
  if(t->jar) {
    /* the list of cookie files first (curl_easy_reset leaves it to leak
     * in some libcurl versions; the share's cookies stay), then the
     * share, before the reference goes: the share may go too */
    curl_easy_setopt(t->easy, CURLOPT_COOKIEFILE, NULL);
    curl_easy_setopt(t->easy, CURLOPT_SHARE, NULL);
    transfer_jar_drop(t->jar);
    t->jar = NULL;
  }
  if(t->dirty)
    handle_reset(t);
  t->next_free = free_list;
  free_list = t;
}

void transfer_free_all(void)
{
  while(free_list) {
    struct transfer *t = free_list;
    free_list = t->next_free;
    curl_mime_free(t->mime);
    curl_easy_cleanup(t->easy);
    dynbuf_free(&t->body);
    dynbuf_free(&t->resp_body);
    dynbuf_free(&t->resp_headers);
    dynbuf_free(&t->wire);
    dynbuf_free(&t->set_url);
    curl_url_cleanup(t->parsed);
    dynbuf_free(&t->url_copy);
    free(t->set_cacert);
    free(t);
  }
}

int transfer_add_header(struct transfer *t, const char *line)
{
  struct curl_slist *l = curl_slist_append(t->headers, line);
  if(!l)
    return -1;
  if(!strncasecmp(line, "user-agent", 10) &&
     (line[10] == ':' || line[10] == ';'))
    t->own_ua = 1;
  t->headers = l;
  return 0;
}

/* Gives the handle its URL parsed, once the same URL comes a second time
 * in a row: as a string alone, libcurl parses it anew for every transfer,
 * where a parsed one it only copies (a URL that changes every time stays
 * a string, as the copy would be one step more). The string goes too, as
 * libcurl writes it back from the parse, with the same flags as libcurl's
 * own: some versions report it as the effective URL without reading the
 * parsed one again. A URL curl_url_set refuses stays a string, for
 * libcurl's own error. */
static CURLcode url_on(struct transfer *t, const char *url)
{
  CURLcode rc = CURLE_OK;
  char *normal = NULL;
  if(!t->parsed)
    t->parsed = curl_url();
  if(t->parsed &&
     !curl_url_set(t->parsed, CURLUPART_URL, url,
                   CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) &&
     !curl_url_get(t->parsed, CURLUPART_URL, &normal, 0)) {
    rc = curl_easy_setopt(t->easy, CURLOPT_URL, normal);
    curl_free(normal);
    if(!rc)
      rc = curl_easy_setopt(t->easy, CURLOPT_CURLU, t->parsed);
    t->set_parsed = !rc;
  }
  return rc;
}

/* Clears what one attempt learns about its response. */
static void attempt_clear(struct transfer *t)
{
  t->too_large = 0;
  t->over = TRANSFER_OVER_NONE;
  t->out_of_memory = 0;
  t->content_length = -1;
  t->encoded = 0;
  t->last_status = 0;
  t->requests = 0;
  t->answered = 0;
  t->headers_done = 0;
  t->resend_refused = 0;
  t->received = 0;
  t->errbuf[0] = '\0';
  t->why[0] = '\0';
}

/* 'G' for GET, 'H' for HEAD, 'P' for POST (the methods transfer_prepare
 * treats apart), else 0; read once, byte by byte, for the five tests
 * that were a strcmp each. */
static int method_kind(const char *m)
{
  switch(m[0]) {
  case 'G':
    return m[1] == 'E' && m[2] == 'T' && !m[3] ? 'G' : 0;
  case 'H':
    return m[1] == 'E' && m[2] == 'A' && m[3] == 'D' && !m[4] ? 'H' : 0;
  case 'P':
    return m[1] == 'O' && m[2] == 'S' && m[3] == 'T' && !m[4] ? 'P' : 0;
  }
  return 0;
}

CURLcode transfer_prepare(struct transfer *t, const struct transfer_opts *o,
                          double now)
{
  CURL *e = t->easy;
  CURLcode rc = CURLE_OK;
  long timeout_ms = (long)(o->timeout * 1000.0 + 0.5);
  long connect_ms = (long)(o->connect_timeout * 1000.0 + 0.5);
  int kind = method_kind(o->method), head = kind == 'H';
  int fresh = o->fresh_connect;

  if(timeout_ms < 1)
    timeout_ms = 1;
  if(connect_ms < 1 || connect_ms > timeout_ms)
    connect_ms = timeout_ms;
  attempt_clear(t);
  t->max_body = head ? 0 : o->max_body;
  t->decoding = o->compressed;
  t->started = now;

#define SET(opt, val) do { rc = curl_easy_setopt(e, opt, val); \
                           if(rc) goto out; } while(0)
  /* a CA file of the handle's own goes back to libcurl's default only
   * through a reset */
  if(t->set_cacert && !o->cacert)
    handle_reset(t);
  /* the settings every attempt shares, once per easy handle: a plain GET
   * leaves them as they are for the next one (see transfer_release) */
  if(!t->configured) {
    SET(CURLOPT_PRIVATE, t);
    SET(CURLOPT_ERRORBUFFER, t->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    /* redirects are followed by the engine, which decides the method,
     * body and headers of each hop (lua_attempt.c) */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    /* no proxy variable: "no proxy for any host" says so at once, where
     * libcurl would read five or six variables for every request */
    if(no_proxy_env)
      SET(CURLOPT_NOPROXY, "*");
    if((rc = transfer_recv_on(t, &no_prereq)))
      goto out;
    t->configured = 1;
  }
  fresh = fresh || no_prereq;
  if(o->wire && (rc = transfer_wire_on(t)))
    goto out;
  /* From here each setting is made only when it differs from what the
   * handle holds (a setopt copies, frees or parses); a failure leaves the
   * handle dirty, so the reset at release clears whatever it holds. */
  if(t->set_url.len && !strcmp(t->set_url.data, o->url)) {
    if(!t->set_parsed && (rc = url_on(t, o->url)))
      goto out;
  }
  else {
    t->set_url.len = 0;
    if(t->set_parsed) {
      t->set_parsed = 0;
      SET(CURLOPT_CURLU, NULL);
    }
    SET(CURLOPT_URL, o->url);
    t->set_url.oom = 0;
    if(dynbuf_add(&t->set_url, o->url, strlen(o->url)))
      t->set_url.len = 0;      /* not kept: set again next time */
  }
  if(timeout_ms != t->set_timeout_ms) {
    SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    t->set_timeout_ms = timeout_ms;
  }
  if(connect_ms != t->set_connect_ms) {
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    t->set_connect_ms = connect_ms;
  }
  /* max_body is applied by on_header and on_body, never by libcurl's
   * CURLOPT_MAXFILESIZE, which also refuses a HEAD or 304 announcing a
   * large length, neither of which has a body; on_body sees the decoded
   * body, so that is what it caps */
  /* the settings below these four need a reset before the next use */
  t->dirty = t->dirty || fresh || o->body || o->nparts ||
             kind != 'G';
  /* "": every encoding this libcurl decodes; the body arrives decoded.
   * NULL, libcurl's default: none asked for, none decoded */
  if(o->compressed != t->set_compressed) {
    SET(CURLOPT_ACCEPT_ENCODING, o->compressed ? "" : NULL);
    t->set_compressed = o->compressed;
  }
  /* verification back on is libcurl's default, 1 and 2 */
  if(o->insecure != t->set_insecure) {
    SET(CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    t->set_insecure = o->insecure;
  }
  if(o->cacert && (!t->set_cacert || strcmp(t->set_cacert, o->cacert))) {
    free(t->set_cacert);
    t->set_cacert = NULL;
    SET(CURLOPT_CAINFO, o->cacert);
    t->set_cacert = strdup(o->cacert);
    if(!t->set_cacert)
      t->dirty = 1;            /* held but not known: reset at release */
  }
  if(o->jar && !t->jar) {
    t->dirty = 1;
    t->jar = o->jar;
    o->jar->refs++;
    SET(CURLOPT_SHARE, o->jar->share);
    SET(CURLOPT_COOKIEFILE, "");         /* the engine on, no file */
  }
  if(fresh) {
    SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_FORBID_REUSE, 1L);
  }

  /* the method on the wire is the one asked for: a body alone would make
   * libcurl send a POST */
  if(head)                      /* the caller gives a HEAD no body */
    SET(CURLOPT_NOBODY, 1L);
  else if(o->nparts) {
    /* made anew each attempt: a retry sends every part again */
    t->mime = mime_build(e, o->parts, o->nparts, t->errbuf,
                         sizeof(t->errbuf));
    if(!t->mime) {
      rc = CURLE_READ_ERROR;
      goto out;
    }
    SET(CURLOPT_MIMEPOST, t->mime);
    if(kind != 'P')
      SET(CURLOPT_CUSTOMREQUEST, o->method);
  }
  else if(kind == 'P')
    SET(CURLOPT_POST, 1L);
  else if(kind != 'G' || o->body)
    SET(CURLOPT_CUSTOMREQUEST, o->method);
  if(o->body && !o->nparts) {
    t->body.len = 0;
    if(dynbuf_add(&t->body, o->body, o->body_len)) {
      rc = CURLE_OUT_OF_MEMORY;
      goto out;
    }
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
    SET(CURLOPT_POSTFIELDS, t->body.data);
  }
  else if(kind == 'P' && !o->nparts) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    SET(CURLOPT_POSTFIELDS, "");
  }
  /* no "Expect: 100-continue" round trip for the bodies of API calls */
  if((o->body || o->nparts) && transfer_add_header(t, "Expect:")) {
    rc = CURLE_OUT_OF_MEMORY;
    goto out;
  }
  /* retryrun's User-Agent, unless the script sent its own */
  {
    static char ua_line[] = "User-Agent: retryrun/" RETRYRUN_VERSION;
    struct curl_slist **end = ua_unlink(t);
    if(!t->own_ua) {
      t->ua.data = ua_line;
      t->ua.next = NULL;
      *end = &t->ua;
    }
  }
  /* libcurl keeps the pointer alone and reads the list when it sends:
   * the same pointer is the same setting, whatever list it heads now */
  if(t->headers != t->set_headers) {
    t->set_headers = NULL;
    SET(CURLOPT_HTTPHEADER, t->headers);
    t->set_headers = t->headers;
  }
#undef SET
out:
  if(rc)
    t->dirty = 1;              /* whatever it holds now goes at release */
  return rc;
}

/* 1 when the process has no file descriptor left for a socket: libcurl
 * reports that as "Couldn't connect to server". */
static int out_of_descriptors(CURL *e)
{
  long os_errno = 0;
  int fd;
  curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
  if(os_errno == EMFILE || os_errno == ENFILE)
    return 1;
  /* this libcurl may not keep socket()'s errno: try one */
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if(fd >= 0) {
    close(fd);
    return 0;
  }
  return errno == EMFILE || errno == ENFILE;
}

/* Writes retryrun's words for the failure into t->why, where libcurl's
 * would mislead ("Failure writing output" for a cap or an allocation,
 * "Out of memory" for a header line over its limit, "Couldn't connect"
 * for no file descriptor). */
static void explain(struct transfer *t, int started)
{
  const char *curl_says = t->errbuf[0] ? t->errbuf :
                          curl_easy_strerror(t->code);
  if(t->resend_refused)
    snprintf(t->why, sizeof(t->why), "the server closed a reused keep-alive "
             "connection without answering; the request may have reached "
             "it");
  else if(t->too_large) {
    switch(t->over) {
    case TRANSFER_OVER_LENGTH:
      snprintf(t->why, sizeof(t->why), "Content-Length announces %lld "
               "bytes, over max_body of %zu bytes", t->content_length,
               t->max_body);
      break;
    case TRANSFER_OVER_HEADER_LINES:
      snprintf(t->why, sizeof(t->why), "response headers over %d lines, "
               "retryrun's limit", TRANSFER_MAX_HEADERS);
      break;
    case TRANSFER_OVER_HEADER_BYTES:
      snprintf(t->why, sizeof(t->why), "response headers over %d KiB, "
               "retryrun's limit", TRANSFER_MAX_HEADERS_BYTES / 1024);
      break;
    default:
      snprintf(t->why, sizeof(t->why), "response body over max_body of "
               "%zu bytes%s", t->max_body, t->decoding && t->encoded ?
               " once decoded" : "");
      break;
    }
  }
  else if(t->out_of_memory) {
    int body = t->headers_done;
    int n = snprintf(t->why, sizeof(t->why), "out of memory storing the "
                     "response %s, grown to %zu bytes",
                     body ? "body" : "headers",
                     body ? t->resp_body.len : t->resp_headers.len);
    if(body && t->max_body && n > 0 && (size_t)n < sizeof(t->why))
      snprintf(t->why + n, sizeof(t->why) - (size_t)n, ", below max_body "
               "of %zu bytes", t->max_body);
  }
  else if(t->code == CURLE_OUT_OF_MEMORY && started && !t->headers_done)
    snprintf(t->why, sizeof(t->why), "a response header line over %d KiB, "
             "libcurl's limit for one line", CURL_MAX_HTTP_HEADER / 1024);
  else if(t->code == CURLE_COULDNT_CONNECT && out_of_descriptors(t->easy)) {
    struct rlimit rl;
    if(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      snprintf(t->why, sizeof(t->why), "no file descriptor left for a "
               "socket: all %llu that ulimit -n allows are open",
               (unsigned long long)rl.rlim_cur);
    else
      snprintf(t->why, sizeof(t->why), "no file descriptor left for a "
               "socket (%s)", curl_says);
  }
}

void transfer_finish(struct transfer *t, CURLcode code, double now)
{
  long request_bytes = 0;
  char *url = NULL;
  int started;

  t->done = 1;
  t->code = code;
  t->duration = now - t->started;
  t->why[0] = '\0';
  curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &url);
  /* copied into memory the transfer keeps: no allocation per attempt */
  t->effective_url = NULL;
  t->url_copy.len = 0;
  t->url_copy.oom = 0;
  if(url && !dynbuf_add(&t->url_copy, url, strlen(url)))
    t->effective_url = t->url_copy.data;
  if(code == CURLE_OK) {
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    t->cls = POLICY_RESPONSE;
    t->sent = 1;
    if(t->status >= 300 && t->status < 400) {
      url = NULL;
      curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &url);
      t->redirect_url = url ? strdup(url) : NULL;
    }
    return;
  }
  t->status = 0;
  curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &request_bytes);
  /* whether a request went out, from what happened on the wire: the
   * connect time says nothing on a reused connection */
  started = t->requests > 0 || request_bytes > 0 || t->received > 0;
  if(t->resend_refused) {
    t->cls = POLICY_RESET;
    t->sent = 1;
  }
  else if(t->too_large) {
    t->cls = POLICY_TOO_LARGE;
    t->sent = 1;
  }
  else if(t->out_of_memory) {
    t->cls = POLICY_OTHER;
    t->sent = 1;
  }
  else if(code == CURLE_OUT_OF_MEMORY && started && !t->headers_done) {
    /* libcurl's answer to a header line over CURL_MAX_HTTP_HEADER */
    t->cls = POLICY_TOO_LARGE;
    t->sent = 1;
  }
  else
    t->cls = transfer_classify(code, started, &t->sent);
  explain(t, started);
}

const char *transfer_error_text(const struct transfer *t)
{
  if(t->why[0])
    return t->why;
  if(t->errbuf[0])
    return t->errbuf;
  return curl_easy_strerror(t->code);
}
