/* reply: the reply a route builds, and the error answers every route
 * shares (see reply.h). Uses buf for the body; never touches
 * libmicrohttpd, the store's state or the server. */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void reply_init(struct reply *rp)
{
  memset(rp, 0, sizeof(*rp));
  buf_init(&rp->body, REPLY_MAX);
  rp->fault = FAULT_NONE;
}

void reply_error(struct reply *rp, unsigned status, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  rp->status = status;
  rp->body.len = 0;
  rp->body.err = BUF_OK;
  buf_adds(&rp->body, "{\"error\":");
  buf_add_jstr(&rp->body, msg, strlen(msg));
  buf_add(&rp->body, "}", 1);
}

void reply_store_error(struct reply *rp, enum store_result r, uint64_t id)
{
  switch(r) {
  case STORE_NOT_FOUND:
  case STORE_LAGGING:
    reply_error(rp, 404, "no such item: %llu", (unsigned long long)id);
    break;
  case STORE_FORBIDDEN:
    reply_error(rp, 403, "item %llu belongs to another user",
                (unsigned long long)id);
    break;
  case STORE_FULL:
    reply_error(rp, 507, "the store is full");
    break;
  case STORE_TOO_BIG:
    reply_error(rp, 500, "the answer would be too large");
    break;
  case STORE_BAD_TOKEN:
    reply_error(rp, 401, "invalid token");
    rp->challenge = true;
    break;
  case STORE_EXPIRED:
    reply_error(rp, 401, "token expired");
    rp->challenge = true;
    break;
  case STORE_BAD_LOGIN:
    reply_error(rp, 401, "wrong user or secret");
    break;
  default:
    reply_error(rp, 500, "out of memory");
    break;
  }
}
