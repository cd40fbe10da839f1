/*
 * pool.h - the memory allocator of retryrun's Lua state: blocks of up to
 * POOL_MAX bytes come from size classes (16 bytes apart), cut from 64 KB
 * chunks of their own; larger ones from malloc. A Lua state makes and
 * frees small objects (strings, tables, closures, their parts) by the
 * million; a class hands one out with a pointer pop, with no header
 * before the block, and its blocks sit together in memory.
 *
 * An empty chunk is kept for any class to reuse, as long as the empty
 * ones are no more than those in use (and one a class always), so that
 * neither a block freed and made again at a chunk's edge nor a garbage
 * collector's cycles map and unmap the same memory over and over; the
 * rest goes back to the system.
 *
 * Pure C: no Lua, no curl. One pool serves one Lua state (not thread-
 * safe). Under AddressSanitizer (or built with -DRETRYRUN_NO_POOL)
 * POOL_ON is 0 and the host gives Lua plain malloc, so that the
 * sanitizer sees every Lua object as a block of its own.
 */
#ifndef RETRYRUN_POOL_H
#define RETRYRUN_POOL_H

#include <stddef.h>

#define POOL_MAX   2048          /* the largest block a class holds */
#define POOL_CHUNK 65536        /* a chunk's size, and its alignment */

#if defined(RETRYRUN_NO_POOL) || defined(__SANITIZE_ADDRESS__)
#define POOL_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define POOL_ON 0
#endif
#endif
#ifndef POOL_ON
#define POOL_ON 1
#endif

struct pool;

/* A new, empty pool, or NULL when out of memory. */
struct pool *pool_new(void);

/* Unmaps every chunk and frees the pool: every block from it is gone,
 * even one not freed (a Lua state is closed first). NULL is a no-op. */
void pool_free(struct pool *p);

/* Lua's allocator (lua_Alloc) over the pool ud:
 *   nsize == 0: frees ptr (NULL is fine), returns NULL;
 *   ptr == NULL: a new block of nsize bytes (osize is then a type tag
 *     and is not read), or NULL;
 *   else: ptr resized from osize (its size when it was made) to nsize,
 *     moved when the class changes; NULL, with ptr untouched, when out
 *     of memory.
 * Every block is aligned for max_align_t. */
void *pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* What the pool holds: chunks mapped, and blocks handed out from them
 * (blocks from malloc are not counted), counted from the chunks when
 * asked, so that taking and giving a block count nothing. For tests and
 * diagnostics. */
struct pool_stats {
  size_t chunks;
  size_t blocks;
};
void pool_stats(const struct pool *p, struct pool_stats *st);

#endif
