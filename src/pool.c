/*
 * pool.c - size classes for the Lua state's small blocks (see pool.h).
 *
 * Class i (0 .. NCLASS-1) holds blocks of (i + 1) * STEP bytes. A chunk
 * is POOL_CHUNK bytes mapped at a POOL_CHUNK-aligned address, so a
 * block's chunk is its address rounded down; the chunk's header lies a
 * few cache lines in (chunk_of), its blocks after it, and it serves one
 * class. A block never handed out lies past the
 * chunk's bump pointer (its pages untouched until then); a freed one is
 * on the chunk's free list, linked through its first word. A class
 * lists the chunks that have a block to give (avail); a full chunk is on
 * no such list until a block of it is freed. Every chunk is also on the
 * pool's list of all chunks, for pool_free.
 *
 * An empty chunk is kept for reuse rather than unmapped: first as its
 * class's spare, then on the pool's idle list, which any class takes
 * from, while the idle chunks are no more than the chunks in use. A
 * garbage collector frees a cycle's garbage in one sweep and the next
 * cycle makes as much again: unmapping it would map, fault in and zero
 * the same pages once a cycle. Memory is held at the last peak at most,
 * and an emptied pool keeps one spare a class.
 *
 * Lua tells the allocator a block's size when it frees or resizes it
 * (osize), so the size says which class, or malloc, a block came from;
 * nothing is stored beside a block. A chunk's header holds its class's
 * block size and count, so that taking a block reads the class's avail
 * list and the chunk alone. Uses mmap and malloc; no Lua.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hints.h"
#include "pool.h"

/* The rare paths are kept out of line (NOINLINE), so that pool_alloc's
 * common ones (a block taken or given back within a chunk) save no
 * registers and call nothing. */

#define STEP   16
#define NCLASS (POOL_MAX / STEP)

_Static_assert(STEP % alignof(max_align_t) == 0,
               "blocks must be aligned for max_align_t");
_Static_assert(POOL_MAX % STEP == 0, "POOL_MAX is a multiple of STEP");
_Static_assert((POOL_CHUNK & (POOL_CHUNK - 1)) == 0,
               "POOL_CHUNK is a power of two");

struct chunk {
  void *free;                  /* freed blocks */
  char *bump;                  /* blocks never handed out start here */
  unsigned used;               /* blocks handed out */
  unsigned cap;                /* blocks it holds: its class's */
  unsigned size;               /* bytes a block: its class's */
  unsigned cls;
  int avail;                   /* on the class's avail list */
  struct chunk *next, *prev;   /* the class's avail list, when on it */
  struct chunk *all_next, *all_prev;
};

/* The header, rounded up so that the first block is aligned. */
#define HEAD (((sizeof(struct chunk) + STEP - 1) / STEP) * STEP)

struct pool_class {
  struct chunk *avail;         /* chunks with a block to give */
  struct chunk *spare;         /* an empty chunk kept back, or NULL */
  unsigned size;               /* bytes a block */
};

struct pool {
  struct pool_class cls[NCLASS];
  struct chunk *all;
  struct chunk *idle;          /* empty chunks of no class, through next */
  size_t nidle;
  size_t empty;                /* empty chunks: spares and idle ones */
  size_t chunks;
};

static unsigned class_of(size_t n)   /* 1 <= n <= POOL_MAX */
{
  return (unsigned)((n - 1) / STEP);
}

/* Block b's chunk header. Chunks are POOL_CHUNK-aligned, so headers at
 * their starts would all fall in the same few sets of a cache, and push
 * one another out of it; each header sits COLOUR_LINE bytes times its
 * colour (its chunk's address, in chunks, modulo COLOURS) past its
 * chunk's start instead. The bytes before it go unused. */
#define COLOURS     16
#define COLOUR_LINE 64

_Static_assert(COLOUR_LINE % STEP == 0, "a header is aligned as a block");

static struct chunk *chunk_of(void *block)
{
  uintptr_t a = (uintptr_t)block;
  return (struct chunk *)((a & ~(uintptr_t)(POOL_CHUNK - 1)) +
                          (a / POOL_CHUNK % COLOURS) * COLOUR_LINE);
}

/* The start of chunk k's memory. */
static char *chunk_base(struct chunk *k)
{
  return (char *)((uintptr_t)k & ~(uintptr_t)(POOL_CHUNK - 1));
}

/* Maps POOL_CHUNK bytes at a POOL_CHUNK-aligned address: twice that,
 * then the ends cut off. NULL when the system has none. */
static void *map_aligned(void)
{
  size_t len = 2 * (size_t)POOL_CHUNK;
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *a;
  if(m == MAP_FAILED)
    return NULL;
  a = (char *)(((uintptr_t)m + POOL_CHUNK - 1) &
               ~(uintptr_t)(POOL_CHUNK - 1));
  if(a > m)
    munmap(m, (size_t)(a - m));
  if(a + POOL_CHUNK < m + len)
    munmap(a + POOL_CHUNK, (size_t)(m + len - (a + POOL_CHUNK)));
  return a;
}

static void avail_push(struct pool_class *c, struct chunk *k)
{
  k->prev = NULL;
  k->next = c->avail;
  if(c->avail)
    c->avail->prev = k;
  c->avail = k;
  k->avail = 1;
}

static void avail_unlink(struct pool_class *c, struct chunk *k)
{
  if(k->prev)
    k->prev->next = k->next;
  else
    c->avail = k->next;
  if(k->next)
    k->next->prev = k->prev;
  k->next = k->prev = NULL;
  k->avail = 0;
}

/* Makes chunk k empty: every block past the bump pointer. */
static void chunk_reset(struct chunk *k)
{
  k->free = NULL;
  k->bump = (char *)k + HEAD;
  k->used = 0;
}

static struct chunk *chunk_new(struct pool *p)
{
  char *m = map_aligned();
  struct chunk *k;
  if(!m)
    return NULL;
  k = chunk_of(m);
  chunk_reset(k);
  k->avail = 0;
  k->next = k->prev = NULL;
  k->all_prev = NULL;
  k->all_next = p->all;
  if(p->all)
    p->all->all_prev = k;
  p->all = k;
  p->chunks++;
  return k;
}

static void chunk_drop(struct pool *p, struct chunk *k)
{
  if(k->all_prev)
    k->all_prev->all_next = k->all_next;
  else
    p->all = k->all_next;
  if(k->all_next)
    k->all_next->all_prev = k->all_prev;
  p->chunks--;
  munmap(chunk_base(k), POOL_CHUNK);
}

/* Gives class i a chunk with a block to give: its spare, an idle one or a
 * new one. NULL when no chunk can be mapped. */
static struct chunk *refill(struct pool *p, unsigned i)
{
  struct pool_class *c = &p->cls[i];
  struct chunk *k;

  if((k = c->spare)) {
    c->spare = NULL;
    p->empty--;
  }
  else if((k = p->idle)) {
    p->idle = k->next;
    p->nidle--;
    p->empty--;
  }
  else if(!(k = chunk_new(p)))
    return NULL;
  k->cls = i;
  k->size = c->size;
  k->cap = (unsigned)((chunk_base(k) + POOL_CHUNK - ((char *)k + HEAD)) /
                      c->size);
  avail_push(c, k);
  return k;
}

static void *take_slow(struct pool *p, unsigned i);

/* A block of class i, or NULL when no chunk can be mapped. The common
 * case, a chunk on the class's avail list with a block to spare, calls
 * nothing. */
static inline void *take(struct pool *p, unsigned i)
{
  struct chunk *k = p->cls[i].avail;
  void *b;

  if(!k || k->used + 1 == k->cap)
    return take_slow(p, i);
  if((b = k->free))
    memcpy(&k->free, b, sizeof(void *));
  else {
    b = k->bump;
    k->bump += k->size;
  }
  k->used++;
  return b;
}

/* take's rare cases: no chunk to take from, or the block that fills it. */
static NOINLINE void *take_slow(struct pool *p, unsigned i)
{
  struct pool_class *c = &p->cls[i];
  struct chunk *k = c->avail;
  void *b;

  if(!k && !(k = refill(p, i)))
    return NULL;
  if((b = k->free))
    memcpy(&k->free, b, sizeof(void *));
  else {
    b = k->bump;
    k->bump += k->size;
  }
  if(++k->used == k->cap)
    avail_unlink(c, k);
  return b;
}

/* Unmaps idle chunks while they outnumber the chunks in use. */
static void trim_idle(struct pool *p)
{
  while(p->idle && p->nidle > p->chunks - p->empty) {
    struct chunk *k = p->idle;
    p->idle = k->next;
    p->nidle--;
    p->empty--;
    chunk_drop(p, k);
  }
}

static void *give_slow(struct pool *p, struct chunk *k);

/* Gives block b back to its chunk; returns NULL, for pool_alloc to pass
 * on. The common case, a chunk that neither empties nor was full, calls
 * nothing. */
static inline void *give(struct pool *p, void *b)
{
  struct chunk *k = chunk_of(b);

  memcpy(b, &k->free, sizeof(void *));
  k->free = b;
  if(--k->used == 0 || !k->avail)
    return give_slow(p, k);
  return NULL;
}

/* give's rare cases: a full chunk has a block to give again; an empty
 * one becomes its class's spare, or idle when the class has one (see the
 * top). */
static NOINLINE void *give_slow(struct pool *p, struct chunk *k)
{
  struct pool_class *c = &p->cls[k->cls];

  if(k->used) {
    avail_push(c, k);
    return NULL;
  }
  if(k->avail)
    avail_unlink(c, k);
  chunk_reset(k);
  p->empty++;
  if(c->spare) {
    k->next = p->idle;
    p->idle = k;
    p->nidle++;
  }
  else
    c->spare = k;
  trim_idle(p);
  return NULL;
}

struct pool *pool_new(void)
{
  struct pool *p = calloc(1, sizeof(*p));
  unsigned i;
  if(!p)
    return NULL;
  for(i = 0; i < NCLASS; i++)
    p->cls[i].size = (i + 1) * STEP;
  return p;
}

void pool_free(struct pool *p)
{
  if(!p)
    return;
  while(p->all)
    chunk_drop(p, p->all);
  free(p);
}

/* pool_alloc's resizing of a block: kept in place within its class, or
 * moved to a block of the new size. */
static NOINLINE void *resize(struct pool *p, void *ptr, size_t osize,
                             size_t nsize)
{
  void *nb;

  if(osize > POOL_MAX && nsize > POOL_MAX)
    return realloc(ptr, nsize);
  if(osize <= POOL_MAX && nsize <= POOL_MAX &&
     class_of(osize) == class_of(nsize))
    return ptr;
  nb = nsize > POOL_MAX ? malloc(nsize) : take(p, class_of(nsize));
  if(!nb)
    return NULL;
  memcpy(nb, ptr, osize < nsize ? osize : nsize);
  if(osize > POOL_MAX)
    free(ptr);
  else
    give(p, ptr);
  return nb;
}

void *pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
  struct pool *p = ud;

  if(!ptr) {                         /* osize is a type tag, not a size */
    if(nsize - 1 < POOL_MAX)         /* 1 .. POOL_MAX */
      return take(p, class_of(nsize));
    return nsize ? malloc(nsize) : NULL;
  }
  if(nsize == 0) {
    if(osize <= POOL_MAX)
      return give(p, ptr);
    free(ptr);
    return NULL;
  }
  return resize(p, ptr, osize, nsize);
}

void pool_stats(const struct pool *p, struct pool_stats *st)
{
  const struct chunk *k;
  st->chunks = p->chunks;
  st->blocks = 0;
  for(k = p->all; k; k = k->all_next)
    st->blocks += k->used;
}
