/*
 * test_pool.c - pool.c as Lua's allocator: the lua_Alloc contract, block
 * alignment, resizing within and across classes and to and from malloc,
 * chunks given back or kept for any class, and a long seeded run of random allocations checked
 * against a shadow copy of every block's bytes. Pure.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "pool.h"

/* Fills n bytes of b from seed; same_fill checks them. */
static void fill(unsigned char *b, size_t n, unsigned seed)
{
  size_t i;
  for(i = 0; i < n; i++)
    b[i] = (unsigned char)(seed * 31u + i * 7u + (i >> 8));
}

static int same_fill(const unsigned char *b, size_t n, unsigned seed)
{
  size_t i;
  for(i = 0; i < n; i++)
    if(b[i] != (unsigned char)(seed * 31u + i * 7u + (i >> 8)))
      return 0;
  return 1;
}

static int aligned(const void *b)
{
  return (uintptr_t)b % alignof(max_align_t) == 0;
}

static void contract(void)
{
  struct pool *p = pool_new();
  struct pool_stats st;
  void *a, *b;
  size_t n;
  int ok;

  CHECK(p, "pool_new");
  CHECK(pool_alloc(p, NULL, 0, 0) == NULL, "free(NULL) returns NULL");
  CHECK(pool_alloc(p, NULL, 8, 0) == NULL,
        "free(NULL) with a type tag as osize returns NULL");
  /* with ptr NULL, osize is a type tag: huge or small, never read */
  a = pool_alloc(p, NULL, (size_t)-1, 40);
  b = pool_alloc(p, NULL, 4, 40000);
  CHECK(a && b, "new blocks whatever osize says when ptr is NULL");
  pool_stats(p, &st);
  CHECK(st.blocks == 1 && st.chunks == 1,
        "one pooled block in one chunk, the large one from malloc "
        "(%zu blocks, %zu chunks)", st.blocks, st.chunks);
  CHECK(pool_alloc(p, a, 40, 0) == NULL && pool_alloc(p, b, 40000, 0) == NULL,
        "nsize 0 frees and returns NULL");
  pool_stats(p, &st);
  CHECK(st.blocks == 0, "no block left (%zu)", st.blocks);

  ok = 1;
  for(n = 1; n <= POOL_MAX + 64; n++) {
    a = pool_alloc(p, NULL, 0, n);
    ok = ok && a && aligned(a);
    if(a) {
      fill(a, n, (unsigned)n);
      ok = ok && same_fill(a, n, (unsigned)n);
      pool_alloc(p, a, n, 0);
    }
  }
  CHECK(ok, "every size from 1 to %d: aligned for max_align_t, writable",
        POOL_MAX + 64);

  a = pool_alloc(p, NULL, 0, 20);
  fill(a, 20, 1);
  b = pool_alloc(p, a, 20, 32);
  CHECK(b == a && same_fill(b, 20, 1), "growing within a class keeps the block");
  a = pool_alloc(p, b, 32, 17);
  CHECK(a == b && same_fill(a, 17, 1), "shrinking within a class keeps it");
  fill(a, 17, 2);
  b = pool_alloc(p, a, 17, 100);
  CHECK(b && b != a && same_fill(b, 17, 2) && aligned(b),
        "growing to another class moves the bytes");
  fill(b, 100, 3);
  a = pool_alloc(p, b, 100, 9);
  CHECK(a && same_fill(a, 9, 3), "shrinking to another class moves them");
  fill(a, 9, 4);
  b = pool_alloc(p, a, 9, POOL_MAX + 1);
  CHECK(b && same_fill(b, 9, 4) && aligned(b), "pool to malloc");
  fill(b, POOL_MAX + 1, 5);
  a = pool_alloc(p, b, POOL_MAX + 1, 5000);
  CHECK(a && same_fill(a, POOL_MAX + 1, 5), "malloc to malloc");
  fill(a, 5000, 6);
  b = pool_alloc(p, a, 5000, POOL_MAX);
  CHECK(b && same_fill(b, POOL_MAX, 6) && aligned(b), "malloc to pool");
  pool_alloc(p, b, POOL_MAX, 0);
  pool_stats(p, &st);
  CHECK(st.blocks == 0, "all freed (%zu blocks)", st.blocks);
  pool_free(p);
  pool_free(NULL);
}

/* Chunks come back: three chunks' worth of one class, freed, leave one
 * spare; blocks left unfreed are unmapped by pool_free. */
static void chunks(void)
{
  enum { N = 3 * (POOL_CHUNK / 64) };
  static void *b[N];
  struct pool *p = pool_new();
  struct pool_stats st;
  size_t i;
  int distinct = 1;

  for(i = 0; i < N; i++) {
    b[i] = pool_alloc(p, NULL, 0, 64);
    if(!b[i])
      break;
    memset(b[i], (int)(i & 0xff), 64);
  }
  CHECK(i == N, "%d blocks of 64 bytes", N);
  for(i = 0; i < N; i++)
    distinct = distinct && ((unsigned char *)b[i])[0] == (i & 0xff) &&
               ((unsigned char *)b[i])[63] == (i & 0xff);
  CHECK(distinct, "no two blocks overlap");
  pool_stats(p, &st);
  CHECK(st.chunks == 4 && st.blocks == N,
        "they take four chunks (%zu), the header taking room", st.chunks);
  for(i = 0; i < N; i++)
    pool_alloc(p, b[i], 64, 0);
  pool_stats(p, &st);
  CHECK(st.chunks == 1 && st.blocks == 0,
        "freed, one spare chunk stays (%zu)", st.chunks);
  for(i = 0; i < 10; i++)
    b[i] = pool_alloc(p, NULL, 0, 64);
  pool_stats(p, &st);
  CHECK(st.chunks == 1, "the spare serves again (%zu)", st.chunks);
  pool_free(p);            /* with 10 blocks still out: no leak, no crash */
}

/* Chunks emptied while others are in use stay, and serve another class:
 * four chunks of 64-byte blocks, the first two freed, leave four mapped
 * (a spare and an idle one); 128-byte blocks then take the idle one. All
 * freed, one spare a class stays. */
static void idle_chunks(void)
{
  enum { N = 3 * (POOL_CHUNK / 64), HALF = N * 2 / 3, M = 200 };
  static void *b[N], *c[M];
  struct pool *p = pool_new();
  struct pool_stats st;
  size_t i;
  int intact = 1;

  for(i = 0; i < N; i++)
    b[i] = pool_alloc(p, NULL, 0, 64);
  for(i = HALF; i < N; i++)
    memset(b[i], (int)(i & 0xff), 64);
  for(i = 0; i < HALF; i++)
    pool_alloc(p, b[i], 64, 0);
  pool_stats(p, &st);
  CHECK(st.chunks == 4, "two chunks emptied stay mapped (%zu)", st.chunks);
  for(i = 0; i < M; i++) {
    c[i] = pool_alloc(p, NULL, 0, 128);
    if(c[i])
      memset(c[i], 0xee, 128);
  }
  pool_stats(p, &st);
  CHECK(st.chunks == 4 && st.blocks == N - HALF + M,
        "another class takes the idle chunk (%zu)", st.chunks);
  for(i = HALF; i < N; i++)
    intact = intact && ((unsigned char *)b[i])[0] == (i & 0xff) &&
             ((unsigned char *)b[i])[63] == (i & 0xff);
  CHECK(intact, "the blocks in use are untouched");
  for(i = HALF; i < N; i++)
    pool_alloc(p, b[i], 64, 0);
  for(i = 0; i < M; i++)
    pool_alloc(p, c[i], 128, 0);
  pool_stats(p, &st);
  CHECK(st.chunks == 2 && st.blocks == 0,
        "all freed, one spare a class stays (%zu)", st.chunks);
  pool_free(p);
}

/* splitmix64, seeded: the run is the same every time. */
static uint64_t rng_state = 20261201;
static uint64_t rnd(void)
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* Sizes as Lua makes them: mostly small, some just past POOL_MAX, a few
 * large. */
static size_t random_size(void)
{
  uint64_t r = rnd() % 100;
  if(r < 80)
    return 1 + rnd() % 128;
  if(r < 95)
    return 1 + rnd() % (POOL_MAX + 64);
  return 1 + rnd() % 20000;
}

static void randomized(void)
{
  enum { SLOTS = 4096, OPS = 400000 };
  static struct { unsigned char *b; size_t n; unsigned seed; } s[SLOTS];
  struct pool *p = pool_new();
  struct pool_stats st;
  size_t i, live_small = 0, bad = 0, misaligned = 0, fails = 0;
  unsigned seed = 1;
  long op;

  for(op = 0; op < OPS; op++) {
    size_t k = rnd() % SLOTS, n;
    if(s[k].b && !same_fill(s[k].b, s[k].n, s[k].seed))
      bad++;
    if(!s[k].b) {                              /* new */
      n = random_size();
      s[k].b = pool_alloc(p, NULL, rnd() % 9, n);
      if(!s[k].b) {
        fails++;
        continue;
      }
      s[k].n = n;
      live_small += n <= POOL_MAX;
    }
    else if(rnd() % 3 == 0) {                  /* free */
      live_small -= s[k].n <= POOL_MAX;
      pool_alloc(p, s[k].b, s[k].n, 0);
      s[k].b = NULL;
      continue;
    }
    else {                                     /* resize */
      unsigned char *nb;
      n = random_size();
      nb = pool_alloc(p, s[k].b, s[k].n, n);
      if(!nb) {
        fails++;
        continue;
      }
      if(!same_fill(nb, n < s[k].n ? n : s[k].n, s[k].seed))
        bad++;
      live_small += (n <= POOL_MAX) - (s[k].n <= POOL_MAX);
      s[k].b = nb;
      s[k].n = n;
    }
    misaligned += !aligned(s[k].b);
    s[k].seed = ++seed;
    fill(s[k].b, s[k].n, s[k].seed);
  }
  for(i = 0; i < SLOTS; i++)
    if(s[i].b && !same_fill(s[i].b, s[i].n, s[i].seed))
      bad++;
  pool_stats(p, &st);
  CHECK(fails == 0, "%d seeded operations, none failed (%zu)", OPS, fails);
  CHECK(bad == 0, "every block kept its bytes through them (%zu lost)", bad);
  CHECK(misaligned == 0, "every block aligned (%zu not)", misaligned);
  CHECK(st.blocks == live_small, "the pool counts the blocks out (%zu, "
        "shadow %zu)", st.blocks, live_small);
  for(i = 0; i < SLOTS; i++)
    if(s[i].b)
      pool_alloc(p, s[i].b, s[i].n, 0);
  pool_stats(p, &st);
  CHECK(st.blocks == 0 && st.chunks <= POOL_MAX / 16,
        "all freed: at most one spare chunk a class (%zu)", st.chunks);
  pool_free(p);
}

int main(void)
{
  contract();
  chunks();
  idle_chunks();
  randomized();
  return tap_done();
}
