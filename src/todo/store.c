/* store: todo-server's shared state (see store.h). One mutex guards all of
 * it; every public function takes it for a short, non-blocking critical
 * section, and renders into a buf the caller owns. Uses map for tokens and
 * idempotency keys and faults for the seeded generator; never touches
 * sockets, MHD or stdio. */
#include "store.h"
#include "map.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NIL UINT32_MAX /* end of a per-user list */

struct item {
  int owner;
  bool done;
  uint64_t created_ms;
  char *summary;
  size_t slen;
  char *desc;
  size_t dlen;
  uint32_t prev, next; /* the owner's open list, by index */
};

struct stats {
  uint64_t requests;
  uint64_t items_created;
  uint64_t idempotent_replays;
  uint64_t tokens_issued;
  uint64_t connections;
  uint64_t connections_peak;
  uint64_t faults[FAULT_COUNT];
};

struct open_list {
  uint32_t head, tail;
};

struct store {
  pthread_mutex_t mu;
  const struct todo_config *cfg;
  struct timespec t0;
  struct fault_rng faults;
  struct fault_rng tokens_rng;
  struct map tokens;  /* token -> expiry_ms << 8 | user */
  struct map keys;    /* "user:key" -> item id */
  struct item *items; /* id n is items[n - 1] */
  size_t nitems, capitems;
  size_t text_bytes;
  struct open_list open[CONFIG_MAX_USERS];
  struct stats stats;
};

struct store *store_new(const struct todo_config *cfg, uint64_t salt)
{
  struct store *st = calloc(1, sizeof(*st));
  if(!st)
    return NULL;
  if(pthread_mutex_init(&st->mu, NULL)) {
    free(st);
    return NULL;
  }
  st->cfg = cfg;
  clock_gettime(CLOCK_MONOTONIC, &st->t0);
  fault_rng_seed(&st->faults, cfg->seed);
  fault_rng_seed(&st->tokens_rng, salt ^ UINT64_C(0x746f646f2d736572));
  map_init(&st->tokens, STORE_MAX_TOKENS, salt);
  map_init(&st->keys, STORE_MAX_KEYS, salt * 31 + 7);
  for(size_t u = 0; u < CONFIG_MAX_USERS; u++)
    st->open[u].head = st->open[u].tail = NIL;
  return st;
}

void store_free(struct store *st)
{
  if(!st)
    return;
  for(size_t i = 0; i < st->nitems; i++) {
    free(st->items[i].summary);
    free(st->items[i].desc);
  }
  free(st->items);
  map_free(&st->tokens);
  map_free(&st->keys);
  pthread_mutex_destroy(&st->mu);
  free(st);
}

uint64_t store_now_ms(const struct store *st)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t ms = (int64_t)(now.tv_sec - st->t0.tv_sec) * 1000 +
               (now.tv_nsec - st->t0.tv_nsec) / 1000000;
  return ms > 0 ? (uint64_t)ms : 0;
}

void store_begin_request(struct store *st, struct fault_draw *draw)
{
  pthread_mutex_lock(&st->mu);
  st->stats.requests++;
  fault_draw(&st->faults, &st->cfg->rates, draw);
  pthread_mutex_unlock(&st->mu);
}

void store_count_fault(struct store *st, enum fault_kind kind)
{
  if((unsigned)kind >= FAULT_COUNT)
    return;
  pthread_mutex_lock(&st->mu);
  st->stats.faults[kind]++;
  pthread_mutex_unlock(&st->mu);
}

void store_connection(struct store *st, int delta)
{
  pthread_mutex_lock(&st->mu);
  if(delta > 0) {
    st->stats.connections++;
    if(st->stats.connections > st->stats.connections_peak)
      st->stats.connections_peak = st->stats.connections;
  }
  else if(st->stats.connections > 0)
    st->stats.connections--;
  pthread_mutex_unlock(&st->mu);
}

/* Appends "name":value, with a leading comma unless first. */
static void add_count(struct buf *out, const char *name, uint64_t v,
                      bool first)
{
  if(!first)
    buf_add(out, ",", 1);
  buf_add_jstr(out, name, strlen(name));
  buf_add(out, ":", 1);
  buf_addu(out, v);
}

static enum store_result rendered(const struct buf *out)
{
  switch(out->err) {
  case BUF_OK: return STORE_OK;
  case BUF_TOO_BIG: return STORE_TOO_BIG;
  default: return STORE_NOMEM;
  }
}

enum store_result store_stats(struct store *st, bool reset, struct buf *out)
{
  pthread_mutex_lock(&st->mu);
  if(reset) {
    uint64_t open = st->stats.connections;
    memset(&st->stats, 0, sizeof(st->stats));
    st->stats.connections = st->stats.connections_peak = open;
  }
  struct stats s = st->stats;
  pthread_mutex_unlock(&st->mu);

  buf_add(out, "{", 1);
  add_count(out, "requests", s.requests, true);
  add_count(out, "items_created", s.items_created, false);
  add_count(out, "idempotent_replays", s.idempotent_replays, false);
  add_count(out, "tokens_issued", s.tokens_issued, false);
  add_count(out, "connections", s.connections, false);
  add_count(out, "connections_peak", s.connections_peak, false);
  buf_adds(out, ",\"faults\":{");
  for(int k = 0; k < FAULT_COUNT; k++)
    add_count(out, fault_name((enum fault_kind)k), s.faults[k], k == 0);
  buf_adds(out, "}}");
  return rendered(out);
}

static bool token_live(uint64_t value, void *arg)
{
  return (value >> 8) > *(uint64_t *)arg;
}

enum store_result store_auth(struct store *st, const char *token, size_t len,
                             int *user)
{
  const struct todo_config *cfg = st->cfg;
  for(size_t u = 0; u < cfg->nusers; u++) {
    if(strlen(cfg->users[u].secret) == len &&
       !memcmp(cfg->users[u].secret, token, len)) {
      *user = (int)u;
      return STORE_OK;
    }
  }
  if(len != STORE_TOKEN_LEN)
    return STORE_BAD_TOKEN;
  uint64_t now = store_now_ms(st);
  uint64_t v;
  pthread_mutex_lock(&st->mu);
  bool found = map_get(&st->tokens, token, len, &v);
  pthread_mutex_unlock(&st->mu);
  if(!found)
    return STORE_BAD_TOKEN;
  if((v >> 8) <= now)
    return STORE_EXPIRED;
  *user = (int)(v & 0xff);
  return STORE_OK;
}

enum store_result store_login(struct store *st, const char *name,
                              size_t nlen, const char *secret, size_t slen,
                              bool omit_token, struct buf *out)
{
  static const char hex[] = "0123456789abcdef";
  const struct todo_config *cfg = st->cfg;
  int user = -1;
  for(size_t u = 0; u < cfg->nusers; u++)
    if(strlen(cfg->users[u].name) == nlen &&
       !memcmp(cfg->users[u].name, name, nlen) &&
       strlen(cfg->users[u].secret) == slen &&
       !memcmp(cfg->users[u].secret, secret, slen))
      user = (int)u;
  if(user < 0)
    return STORE_BAD_LOGIN;

  char token[STORE_TOKEN_LEN + 1] = "at_";
  uint64_t now = store_now_ms(st);
  uint64_t value = ((now + cfg->token_ttl_ms) << 8) | (uint64_t)user;
  enum map_result r;
  pthread_mutex_lock(&st->mu);
  do {
    uint64_t a = fault_rng_next(&st->tokens_rng);
    uint64_t b = fault_rng_next(&st->tokens_rng);
    for(int i = 0; i < 16; i++) {
      token[3 + i] = hex[(a >> (4 * i)) & 15];
      token[19 + i] = hex[(b >> (4 * i)) & 15];
    }
    token[STORE_TOKEN_LEN] = '\0';
    r = map_put(&st->tokens, token, STORE_TOKEN_LEN, value);
    if(r == MAP_FULL) {
      /* make room by forgetting expired tokens, once */
      if(map_filter(&st->tokens, token_live, &now) == MAP_OK)
        r = map_put(&st->tokens, token, STORE_TOKEN_LEN, value);
    }
  } while(r == MAP_EXISTS);
  if(r == MAP_OK)
    st->stats.tokens_issued++;
  pthread_mutex_unlock(&st->mu);
  if(r == MAP_FULL)
    return STORE_FULL;
  if(r)
    return STORE_NOMEM;

  buf_add(out, "{", 1);
  if(!omit_token) {
    buf_adds(out, "\"access_token\":");
    buf_add_jstr(out, token, STORE_TOKEN_LEN);
    buf_add(out, ",", 1);
  }
  /* whole seconds, rounded up, as OAuth clients expect */
  buf_adds(out, "\"expires_in\":");
  buf_addu(out, fault_retry_after_s(cfg->token_ttl_ms));
  buf_add(out, "}", 1);
  return rendered(out);
}

static void render_item(const struct item *it, uint64_t id, bool summary,
                        bool desc, struct buf *out)
{
  buf_adds(out, "{\"id\":");
  buf_addu(out, id);
  if(summary) {
    buf_adds(out, ",\"summary\":");
    buf_add_jstr(out, it->summary, it->slen);
  }
  if(desc) {
    buf_adds(out, ",\"description\":");
    buf_add_jstr(out, it->desc, it->dlen);
  }
  buf_add(out, "}", 1);
}

static char *dup_bytes(const char *s, size_t n)
{
  char *p = malloc(n + 1);
  if(p) {
    if(n)
      memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

enum store_result store_create(struct store *st, int user,
                               const char *summary, size_t slen,
                               const char *desc, size_t dlen,
                               const char *key, size_t klen, bool *replayed,
                               struct buf *out)
{
  enum store_result res = STORE_OK;
  char kbuf[16 + STORE_MAX_KEY_LEN];
  size_t kblen = 0;
  char *s = NULL, *d = NULL;
  *replayed = false;
  if(key) {
    if(klen > STORE_MAX_KEY_LEN)
      return STORE_FULL;
    /* keys are per user: "3:" then the key */
    kblen = (size_t)snprintf(kbuf, sizeof(kbuf), "%d:", user);
    memcpy(kbuf + kblen, key, klen);
    kblen += klen;
  }
  s = dup_bytes(summary, slen);
  d = dup_bytes(desc, dlen);
  if(!s || !d) {
    res = STORE_NOMEM;
    goto out;
  }

  pthread_mutex_lock(&st->mu);
  uint64_t id;
  if(key && map_get(&st->keys, kbuf, kblen, &id)) {
    st->stats.idempotent_replays++;
    render_item(&st->items[id - 1], id, true, true, out);
    *replayed = true;
    pthread_mutex_unlock(&st->mu);
    res = rendered(out);
    goto out;
  }
  if(st->nitems >= STORE_MAX_ITEMS ||
     slen + dlen > STORE_MAX_TEXT - st->text_bytes) {
    res = STORE_FULL;
    goto unlock;
  }
  if(st->nitems == st->capitems) {
    size_t cap = st->capitems ? st->capitems * 2 : 1024;
    struct item *items = realloc(st->items, cap * sizeof(*items));
    if(!items) {
      res = STORE_NOMEM;
      goto unlock;
    }
    st->items = items;
    st->capitems = cap;
  }
  id = st->nitems + 1;
  if(key) {
    enum map_result r = map_put(&st->keys, kbuf, kblen, id);
    if(r) {
      res = r == MAP_FULL ? STORE_FULL : STORE_NOMEM;
      goto unlock;
    }
  }
  struct item *it = &st->items[st->nitems++];
  struct open_list *list = &st->open[user];
  *it = (struct item){
    .owner = user,
    .created_ms = store_now_ms(st),
    .summary = s,
    .slen = slen,
    .desc = d,
    .dlen = dlen,
    .prev = list->tail,
    .next = NIL,
  };
  s = d = NULL; /* the item owns them now */
  uint32_t idx = (uint32_t)(id - 1);
  if(list->tail == NIL)
    list->head = idx;
  else
    st->items[list->tail].next = idx;
  list->tail = idx;
  st->text_bytes += slen + dlen;
  st->stats.items_created++;
  render_item(it, id, true, true, out);
  res = rendered(out);
unlock:
  pthread_mutex_unlock(&st->mu);
out:
  free(s);
  free(d);
  return res;
}

/* The item id names for user, or an error; call with the lock held. */
static enum store_result find_item(struct store *st, int user, uint64_t id,
                                   struct item **it)
{
  if(id == 0 || id > st->nitems)
    return STORE_NOT_FOUND;
  *it = &st->items[id - 1];
  if((*it)->owner != user)
    return STORE_FORBIDDEN;
  return STORE_OK;
}

enum store_result store_get(struct store *st, int user, uint64_t id,
                            bool omit_summary, struct buf *out)
{
  struct item *it;
  pthread_mutex_lock(&st->mu);
  uint64_t now = store_now_ms(st); /* never before it->created_ms */
  enum store_result res = find_item(st, user, id, &it);
  /* a lagging item is invisible to everyone, its owner and the others */
  if((res == STORE_OK || res == STORE_FORBIDDEN) && st->cfg->lag_ms &&
     now - it->created_ms < st->cfg->lag_ms)
    res = STORE_LAGGING;
  if(res == STORE_OK) {
    render_item(it, id, !omit_summary, true, out);
    res = rendered(out);
  }
  pthread_mutex_unlock(&st->mu);
  return res;
}

enum store_result store_list(struct store *st, int user, bool omit_summary,
                             size_t skip, size_t limit, struct buf *out,
                             size_t *count, size_t *total)
{
  size_t n = 0, seen = 0;
  size_t max = out->max;
  if(out->max > out->len + STORE_MAX_LIST)
    out->max = out->len + STORE_MAX_LIST;
  pthread_mutex_lock(&st->mu);
  buf_add(out, "[", 1);
  for(uint32_t i = st->open[user].head; i != NIL && !out->err;
      i = st->items[i].next, seen++) {
    if(seen < skip || n == limit)
      continue;
    if(n++)
      buf_add(out, ",", 1);
    render_item(&st->items[i], (uint64_t)i + 1, !omit_summary, false, out);
  }
  buf_add(out, "]", 1);
  pthread_mutex_unlock(&st->mu);
  out->max = max;
  *count = n;
  *total = seen;
  return rendered(out);
}

enum store_result store_update(struct store *st, int user, uint64_t id,
                               const char *summary, size_t slen,
                               const char *desc, size_t dlen,
                               struct buf *out)
{
  enum store_result res = STORE_NOMEM;
  struct item *it;
  char *s = dup_bytes(summary, slen), *d = dup_bytes(desc, dlen);
  if(!s || !d)
    goto out;
  pthread_mutex_lock(&st->mu);
  res = find_item(st, user, id, &it);
  if(res == STORE_OK) {
    size_t old = it->slen + it->dlen;
    if(slen + dlen > old &&
       slen + dlen - old > STORE_MAX_TEXT - st->text_bytes)
      res = STORE_FULL;
    else {
      char *os = it->summary, *od = it->desc;
      it->summary = s, it->slen = slen;
      it->desc = d, it->dlen = dlen;
      s = os, d = od; /* the old texts, freed below */
      st->text_bytes = st->text_bytes - old + slen + dlen;
      render_item(it, id, true, true, out);
      res = rendered(out);
    }
  }
  pthread_mutex_unlock(&st->mu);
out:
  free(s);
  free(d);
  return res;
}

enum store_result store_done(struct store *st, int user, uint64_t id,
                             struct buf *out)
{
  struct item *it;
  pthread_mutex_lock(&st->mu);
  enum store_result res = find_item(st, user, id, &it);
  if(res == STORE_OK && !it->done) {
    struct open_list *list = &st->open[user];
    if(it->prev == NIL)
      list->head = it->next;
    else
      st->items[it->prev].next = it->next;
    if(it->next == NIL)
      list->tail = it->prev;
    else
      st->items[it->next].prev = it->prev;
    it->prev = it->next = NIL;
    it->done = true;
  }
  pthread_mutex_unlock(&st->mu);
  if(res == STORE_OK) {
    buf_adds(out, "{\"id\":");
    buf_addu(out, id);
    buf_adds(out, ",\"done\":true}");
    res = rendered(out);
  }
  return res;
}
