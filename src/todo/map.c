/* map: string-keyed hash table for todo-server (see map.h). Linear probing
 * in a power-of-two table kept at most half full. Touches only its own
 * memory. */
#include "map.h"

#include <stdlib.h>
#include <string.h>

void map_init(struct map *m, size_t max, uint64_t salt)
{
  m->slots = NULL;
  m->cap = 0;
  m->count = 0;
  m->max = max;
  m->salt = salt;
}

/* FNV-1a over the key, started from the salt, then mixed. */
static uint64_t map_hash(const struct map *m, const char *key, size_t klen)
{
  uint64_t h = UINT64_C(0xcbf29ce484222325) ^ m->salt;
  for(size_t i = 0; i < klen; i++) {
    h ^= (unsigned char)key[i];
    h *= UINT64_C(0x100000001b3);
  }
  h ^= h >> 33;
  h *= UINT64_C(0xff51afd7ed558ccd);
  h ^= h >> 33;
  return h;
}

/* The slot holding key, or the empty slot where it would go. */
static struct map_entry *map_slot(struct map_entry *slots, size_t cap,
                                  const char *key, size_t klen, uint64_t h)
{
  size_t mask = cap - 1;
  for(size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    struct map_entry *e = &slots[i];
    if(!e->key ||
       (e->hash == h && e->klen == klen && !memcmp(e->key, key, klen)))
      return e;
  }
}

/* Rehashes into a table of cap slots, keeping entries keep() accepts and
 * freeing the keys of the others. */
static enum map_result map_rebuild(struct map *m, size_t cap,
                                   bool (*keep)(uint64_t, void *), void *arg)
{
  struct map_entry *slots = calloc(cap, sizeof(*slots));
  if(!slots)
    return MAP_NOMEM;
  size_t count = 0;
  for(size_t i = 0; i < m->cap; i++) {
    struct map_entry *e = &m->slots[i];
    if(!e->key)
      continue;
    if(keep && !keep(e->value, arg)) {
      free(e->key);
      continue;
    }
    *map_slot(slots, cap, e->key, e->klen, e->hash) = *e;
    count++;
  }
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  m->count = count;
  return MAP_OK;
}

enum map_result map_put(struct map *m, const char *key, size_t klen,
                        uint64_t value)
{
  uint64_t h = map_hash(m, key, klen);
  if(m->cap) {
    struct map_entry *e = map_slot(m->slots, m->cap, key, klen, h);
    if(e->key)
      return MAP_EXISTS;
  }
  if(m->count >= m->max)
    return MAP_FULL;
  if((m->count + 1) * 2 > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    enum map_result r = map_rebuild(m, cap, NULL, NULL);
    if(r)
      return r;
  }
  char *copy = malloc(klen + 1);
  if(!copy)
    return MAP_NOMEM;
  memcpy(copy, key, klen);
  copy[klen] = '\0';
  struct map_entry *e = map_slot(m->slots, m->cap, key, klen, h);
  e->key = copy;
  e->klen = klen;
  e->hash = h;
  e->value = value;
  m->count++;
  return MAP_OK;
}

bool map_get(const struct map *m, const char *key, size_t klen,
             uint64_t *value)
{
  if(!m->cap)
    return false;
  const struct map_entry *e =
    map_slot(m->slots, m->cap, key, klen, map_hash(m, key, klen));
  if(!e->key)
    return false;
  *value = e->value;
  return true;
}

enum map_result map_filter(struct map *m, bool (*keep)(uint64_t, void *),
                           void *arg)
{
  if(!m->cap)
    return MAP_OK;
  return map_rebuild(m, m->cap, keep, arg);
}

void map_free(struct map *m)
{
  for(size_t i = 0; i < m->cap; i++)
    free(m->slots[i].key);
  free(m->slots);
  m->slots = NULL;
  m->cap = 0;
  m->count = 0;
}
