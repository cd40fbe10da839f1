/* store: everything todo-server's connections share, behind one mutex:
 * users and access tokens, the items and their per-user open lists,
 * idempotency keys, the fault generator and the /_stats counters. It
 * renders its answers as JSON into the caller's buf. It never sees HTTP,
 * sockets or MHD, and never sleeps; the server decides what a result means
 * on the wire. Every function is safe to call from any thread. */
#ifndef TODO_STORE_H
#define TODO_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "faults.h"

#define STORE_MAX_ITEMS    (1u << 20)          /* items ever created */
#define STORE_MAX_TEXT     (256u * 1024 * 1024) /* summary+description bytes */
#define STORE_MAX_TOKENS   (1u << 18)          /* live access tokens */
#define STORE_MAX_KEYS     STORE_MAX_ITEMS     /* idempotency keys */
#define STORE_MAX_KEY_LEN  255                 /* bytes in an Idempotency-Key */
#define STORE_MAX_LIST     (64u * 1024 * 1024) /* bytes of a GET /items answer */
#define STORE_TOKEN_LEN    35                  /* "at_" and 32 hex digits */

enum store_result {
  STORE_OK = 0,
  STORE_NOMEM,
  STORE_FULL,      /* a cap on items, text, keys or tokens was reached */
  STORE_TOO_BIG,   /* the answer would pass STORE_MAX_LIST */
  STORE_BAD_TOKEN, /* no user has this secret or access token */
  STORE_EXPIRED,   /* an access token past its --token-ttl */
  STORE_BAD_LOGIN, /* POST /token: wrong user or secret */
  STORE_NOT_FOUND,
  STORE_FORBIDDEN, /* the item belongs to another user */
  STORE_LAGGING    /* the item exists, but --lag still hides it */
};

struct store;

/* A store for cfg, which must outlive it. salt seeds the hash tables and
 * the access-token generator (never the fault generator: that is
 * cfg->seed). NULL when memory ran out. */
struct store *store_new(const struct todo_config *cfg, uint64_t salt);
void store_free(struct store *st);

/* Monotonic milliseconds since store_new(). */
uint64_t store_now_ms(const struct store *st);

/* Counts one request (not /_stats) and draws its faults. */
void store_begin_request(struct store *st, struct fault_draw *draw);
/* Counts one fault that was applied. */
void store_count_fault(struct store *st, enum fault_kind kind);
/* A connection opened (+1) or closed (-1). */
void store_connection(struct store *st, int delta);
/* Renders the /_stats object; with reset, zeroes the counters first (the
 * peak becomes the connections open now). */
enum store_result store_stats(struct store *st, bool reset, struct buf *out);

/* Which user a bearer token (a user's secret or an access token) names. */
enum store_result store_auth(struct store *st, const char *token, size_t len,
                             int *user);

/* POST /token: issues an access token and renders
 * {"access_token","expires_in"}; omit_token leaves access_token out. */
enum store_result store_login(struct store *st, const char *name,
                              size_t nlen, const char *secret, size_t slen,
                              bool omit_token, struct buf *out);

/* POST /items: creates an item for user and renders it. With an
 * idempotency key (key != NULL) already used by this user, creates nothing,
 * renders the item that key created and sets *replayed. */
enum store_result store_create(struct store *st, int user,
                               const char *summary, size_t slen,
                               const char *desc, size_t dlen,
                               const char *key, size_t klen, bool *replayed,
                               struct buf *out);

/* GET /items/<id>; omit_summary leaves summary out. */
enum store_result store_get(struct store *st, int user, uint64_t id,
                            bool omit_summary, struct buf *out);

/* GET /items: the user's open items, oldest first, from the skip-th (0
 * for the first) and at most limit of them (SIZE_MAX for all); *count
 * says how many were written, *total how many are open. */
enum store_result store_list(struct store *st, int user, bool omit_summary,
                             size_t skip, size_t limit, struct buf *out,
                             size_t *count, size_t *total);

/* PUT /items/<id>: replaces the item's summary and description (open or
 * done, lag or not) and renders it. */
enum store_result store_update(struct store *st, int user, uint64_t id,
                               const char *summary, size_t slen,
                               const char *desc, size_t dlen,
                               struct buf *out);

/* DELETE /items/<id>: marks the item done (again is fine). */
enum store_result store_done(struct store *st, int user, uint64_t id,
                             struct buf *out);

#endif
