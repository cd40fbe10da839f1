/* map: an open-addressing hash table from byte-string keys to 64-bit
 * values, for todo-server's access tokens and idempotency keys. Copies its
 * keys, caps its entry count, and has no locking: the store serializes it.
 * Entries are never removed one by one; map_filter() rebuilds the table
 * keeping only what the caller wants. */
#ifndef TODO_MAP_H
#define TODO_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum map_result {
  MAP_OK = 0,
  MAP_NOMEM,
  MAP_FULL,   /* already holding max entries */
  MAP_EXISTS  /* map_put: the key is there already; nothing changed */
};

struct map_entry {
  char *key; /* NULL marks an empty slot */
  size_t klen;
  uint64_t hash;
  uint64_t value;
};

struct map {
  struct map_entry *slots;
  size_t cap;   /* a power of two, or 0 */
  size_t count;
  size_t max;   /* most entries ever held */
  uint64_t salt;
};

/* An empty map holding at most max entries; salt varies the hash so that
 * outside keys cannot be chosen to collide. */
void map_init(struct map *m, size_t max, uint64_t salt);

/* Adds key -> value, copying the key. */
enum map_result map_put(struct map *m, const char *key, size_t klen,
                        uint64_t value);

/* True and *value set when key is present. */
bool map_get(const struct map *m, const char *key, size_t klen,
             uint64_t *value);

/* Keeps only the entries for which keep(value, arg) is true. */
enum map_result map_filter(struct map *m, bool (*keep)(uint64_t value,
                                                       void *arg),
                           void *arg);

void map_free(struct map *m);

#endif
