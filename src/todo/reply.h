/* reply: what todo-server answers a request with, built up before it is
 * sent: status, JSON body and the few headers a route may ask for. Turns
 * an error message or a store result into its HTTP status and
 * {"error": message} body. Uses buf, faults and store's result codes;
 * never touches libmicrohttpd, the connection, the store's state or any
 * thread: request.c turns a reply into a response. */
#ifndef TODO_REPLY_H
#define TODO_REPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "faults.h"
#include "store.h"

/* Bytes a reply's body may reach. */
#define REPLY_MAX              (STORE_MAX_LIST + 4096)
/* Headers a route may add beyond the named ones below. */
#define REPLY_MAX_HEADERS      16

/* What the request is answered with. */
struct reply {
  unsigned status;
  struct buf body;
  const char *allow;      /* the Allow header of a 405 */
  const char *location;   /* the Location header of a redirect */
  char link[320];         /* the Link header of a page of GET /items, or
                             "" */
  const char *set_cookie; /* a Set-Cookie header (/_cookie) */
  uint64_t retry_after;   /* seconds; sent when has_retry_after */
  bool has_retry_after;
  bool challenge;         /* WWW-Authenticate on a 401 */
  bool replayed;          /* an Idempotency-Key replay */
  bool drop;              /* close the connection instead of answering */
  enum fault_kind fault;  /* the fault this reply shows, if any */
  /* more headers, sent in this order after the others (a name may
   * repeat); the strings are borrowed: static, or the request's own,
   * which outlive the reply */
  const char *header_name[REPLY_MAX_HEADERS];
  const char *header_value[REPLY_MAX_HEADERS];
  unsigned nheaders;
};

/* Empties rp: no status, an empty body capped at REPLY_MAX, no fault.
 * Its body is the caller's to free (buf_free) or take (buf_take). */
void reply_init(struct reply *rp);

/* Sets status and the body {"error": message}, message made from fmt as
 * printf does and cut at 255 bytes; keeps every other field. */
void reply_error(struct reply *rp, unsigned status, const char *fmt, ...);

/* Turns a store failure into its HTTP answer; id names the item in a 404
 * or 403. A 401 for a bad or expired token asks for a challenge. */
void reply_store_error(struct reply *rp, enum store_result r, uint64_t id);

#endif
