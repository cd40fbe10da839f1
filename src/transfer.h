/*
 * transfer.h - one HTTP attempt with libcurl: a request in, a response or a
 * classified failure out.
 *
 * A transfer owns a reusable easy handle (kept in a free list, so its
 * settings and buffers are recycled), the request's headers and body, and the
 * response's status, headers and body, each under a cap. The event loop adds
 * it to the multi handle and calls transfer_finish() when libcurl is done.
 *
 * A transfer never sends the same request twice: libcurl resends a
 * request on its own when a reused keep-alive connection closes before any
 * answer, and that resend is refused (through libcurl's pre-request
 * callback), so the attempt ends as a `reset` that may have reached the
 * server and the retry engine decides, counts and reports any repeat. A
 * redirect hop, which follows a response, is not a resend.
 *
 * No Lua here, and no decisions: whether to retry is policy.c's business.
 */
#ifndef RETRYRUN_TRANSFER_H
#define RETRYRUN_TRANSFER_H

#include <stddef.h>
#include "curlapi.h"

#include "dynbuf.h"
#include "mime.h"
#include "policy.h"

#define TRANSFER_MAX_HEADERS_BYTES (256 * 1024)
#define TRANSFER_MAX_HEADERS 500

/* Which cap a response went over, for the failure's message. */
enum transfer_over {
  TRANSFER_OVER_NONE = 0,
  TRANSFER_OVER_BODY,          /* the body passed max_body */
  TRANSFER_OVER_LENGTH,        /* Content-Length announced over max_body */
  TRANSFER_OVER_HEADER_LINES,  /* more than TRANSFER_MAX_HEADERS lines */
  TRANSFER_OVER_HEADER_BYTES   /* more than TRANSFER_MAX_HEADERS_BYTES */
};

/* A cookie jar: libcurl's cookie engine over a share of its own, so the
 * transfers given it (and only those) keep and send the same cookies.
 * Counted: each transfer using it holds a reference, and the share is
 * freed when the last one is dropped. */
struct transfer_jar;

struct transfer_opts {
  const char *method;        /* "GET", "POST", ... */
  const char *url;
  const char *body;          /* copied; NULL for none, and for HEAD */
  size_t body_len;
  const struct mime_part *parts;  /* a multipart body instead of body:
                                     nparts > 0; the strings need last
                                     only through transfer_prepare */
  size_t nparts;
  double timeout;            /* seconds for the attempt, > 0 */
  double connect_timeout;
  size_t max_body;           /* bytes; 0: no cap; never applied to HEAD,
                                whose answer has no body */
  int insecure;              /* skip TLS verification */
  const char *cacert;        /* CA bundle path or NULL */
  int fresh_connect;         /* a connection of its own, closed after: a
                                POST or PATCH cannot then meet a stale
                                keep-alive connection, whose failure the
                                engine could not repeat */
  int compressed;            /* ask for every encoding libcurl decodes
                                (Accept-Encoding) and decode the body;
                                max_body then caps the decoded bytes */
  struct transfer_jar *jar;  /* cookies kept and sent, or NULL for none */
  int wire;                  /* keep the header lines sent and received
                                (-vv): transfer_wire.c */
};

struct transfer {
  CURL *easy;
  struct curl_slist *headers;  /* request headers, owned; while the
                                  transfer is prepared, ua may be linked
                                  at its end */
  struct curl_slist ua;        /* "User-Agent: retryrun/V", not owned by
                                  the list: libcurl formats
                                  CURLOPT_USERAGENT anew for every
                                  transfer, a header line it sends as is */
  int own_ua;                  /* the script gave a User-Agent */
  struct dynbuf body;          /* request body copy */
  curl_mime *mime;             /* or the multipart body, owned */
  struct dynbuf resp_body;
  struct dynbuf resp_headers;     /* "name: value\r\n" lines of the last
                                  response (redirects and 1xx dropped) */
  size_t nheaders;
  struct dynbuf wire;          /* with opts.wire: "> " lines sent and "< "
                                  lines received, unredacted */
  int too_large;               /* body or headers over their cap */
  enum transfer_over over;     /* which cap */
  int out_of_memory;           /* storing the response failed */
  size_t max_body;             /* 0: no cap (and for HEAD) */
  long long content_length;    /* announced by the last response, or -1 */
  int decoding;                /* libcurl decodes the body (compressed) */
  int encoded;                 /* the last response has a Content-Encoding
                                  other than identity: its Content-Length
                                  counts encoded bytes, not max_body's */
  int requests;                /* requests libcurl started (its pre-request
                                  callback), redirect hops included */
  int answered;                /* a status line came after the last one */
  int headers_done;            /* the last response's headers ended */
  long last_status;            /* of the last status line, 0 before */
  int resend_refused;          /* libcurl's resend was stopped */
  size_t received;             /* response bytes seen, headers included */
  double started, duration;    /* monotonic seconds */
  int done;
  CURLcode code;
  long status;                 /* 0 when no response */
  enum policy_class cls;       /* POLICY_RESPONSE or the failure */
  int sent;                    /* the request may have reached the server */
  char *effective_url;         /* a copy in url_copy, or NULL */
  struct dynbuf url_copy;      /* kept from attempt to attempt */
  char *redirect_url;          /* a 3xx's Location, resolved against the
                                  request's URL; owned, NULL if none */
  char errbuf[CURL_ERROR_SIZE];
  char why[CURL_ERROR_SIZE + 160];  /* retryrun's own words for the
                                       failure, when libcurl's would
                                       mislead; "" otherwise */
  void *owner;                 /* the task waiting on it */
  struct transfer_jar *jar;    /* held while set on the handle */
  int configured;              /* the shared settings are on the handle */
  int dirty;                   /* settings beyond a plain GET's: reset the
                                  handle before its next use */
  /* What the handle holds from the last attempt, so that the next one
   * sets only what differs (a setopt copies, frees or parses): cleared
   * with the handle by curl_easy_reset */
  struct dynbuf set_url;       /* the URL as asked for; len 0: none */
  CURLU *parsed;               /* set_url parsed, once it came twice */
  int set_parsed;              /* CURLOPT_CURLU is parsed */
  long set_timeout_ms, set_connect_ms;  /* 0: none */
  struct curl_slist *set_headers;       /* CURLOPT_HTTPHEADER */
  char *set_cacert;            /* CURLOPT_CAINFO, owned; NULL: default */
  int set_insecure;            /* verification off */
  int set_compressed;          /* CURLOPT_ACCEPT_ENCODING "" */
  struct transfer *next_free;
};

enum transfer_result {
  TRANSFER_OK = 0,
  TRANSFER_NOCURL,             /* libcurl cannot be loaded or started */
  TRANSFER_NOMEM
};

/* Room for any message the functions below write into an error buffer. */
#define TRANSFER_ERROR_SIZE 256

/* Loads and starts libcurl once (curlapi_load, curl_global_init). Returns
 * TRANSFER_OK, or TRANSFER_NOCURL with why in err (errlen bytes, at most
 * TRANSFER_ERROR_SIZE needed); prints nothing. A failure is final: later
 * calls return it again, with the same words. Called before the first
 * transfer; never before it is needed. */
enum transfer_result transfer_global_init(char *err, size_t errlen);

/* Takes a transfer from the free list (or makes one), starting libcurl
 * first if need be. NULL when libcurl cannot start or memory runs out,
 * with why in err. Return it with transfer_release(). */
struct transfer *transfer_get(char *err, size_t errlen);
/* Clears it and puts it back on the free list; the easy handle keeps a
 * GET's settings (URL, timeouts, headers, TLS verification, CA file,
 * compression) for the next use, and is reset after anything else. */
void transfer_release(struct transfer *t);
/* Frees the whole free list (at exit). */
void transfer_free_all(void);

/* Adds one request header line ("Name: value"). Returns 0, or -1 if out of
 * memory. */
int transfer_add_header(struct transfer *t, const char *line);

/* A new jar with one reference, or NULL (why in err) when libcurl cannot
 * start or memory runs out. */
struct transfer_jar *transfer_jar_new(char *err, size_t errlen);
/* Drops one reference; the last frees the share. NULL is ignored. */
void transfer_jar_drop(struct transfer_jar *jar);
/* The libcurl share holding the jar's cookies. */
CURLSH *transfer_jar_share(const struct transfer_jar *jar);
/* Calls fn with the value of each cookie in the jar (transfer_wire.c),
 * so that what it sends can be hidden where it is shown. Returns 0, or -1
 * when libcurl or memory failed and not every value was given. */
int transfer_jar_values(const struct transfer_jar *jar,
                        void (*fn)(void *ud, const char *v, size_t n),
                        void *ud);

/* Sets up the easy handle for one attempt. Returns CURLE_OK, or an error
 * with the detail in t->errbuf (a multipart file that cannot be read is
 * CURLE_READ_ERROR, saying which). */
CURLcode transfer_prepare(struct transfer *t, const struct transfer_opts *o,
                          double now);

/* transfer_recv.c: sets the callbacks libcurl hands the response to
 * (capped into t's buffers) and calls before each request (refusing its
 * silent resend). Sets *no_prereq when this libcurl has no pre-request
 * callback (older than 7.80), and then never tries it again. */
CURLcode transfer_recv_on(struct transfer *t, int *no_prereq);

/* transfer_wire.c: has libcurl hand every header line sent and received
 * to t->wire, for this attempt (transfer_release turns it off). */
CURLcode transfer_wire_on(struct transfer *t);

/* Records how the attempt ended: status, class, sent, duration, and the
 * words for a failure. */
void transfer_finish(struct transfer *t, CURLcode code, double now);

/* The class of a libcurl failure; *sent says whether the request may have
 * reached the server. `started`: libcurl began writing a request (its
 * pre-request callback ran, request bytes went out, or response bytes came
 * back). Never the connect time: a reused keep-alive connection has none,
 * yet its request was sent. A timeout before any request started is
 * `connect` (never sent); after, `timeout` (sent). */
enum policy_class transfer_classify(CURLcode code, int started, int *sent);

/* A line for the failure, saying what happened and, for a cap, which one:
 * retryrun's words where libcurl's would mislead, else libcurl's error
 * buffer, else its generic text. Valid until the transfer is released. */
const char *transfer_error_text(const struct transfer *t);

#endif
