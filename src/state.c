/*
 * state.c - retryrun's Lua state made and closed (see state.h).
 *
 * The collector runs in generational mode, with a minor collection each
 * time the heap has grown by GC_MINOR_MUL % of what it held after the
 * last one. A call's garbage (its Response, the decoded JSON, the
 * attempt's tables) dies young, while the modules, the policies and the
 * tasks' threads live on: the incremental collector marks and sweeps the
 * whole heap once the heap doubles, a minor collection only the objects
 * made since the last one and the old ones written since. 40 rather than
 * Lua's 20 halves the minor collections for a few MB more at a peak
 * (scripts/bench/tasks.lua). Calls that outlive two minor collections
 * (many in flight, or slow) leave old garbage that only a major
 * collection frees: one runs when the heap has grown GC_MAJOR_MUL % past
 * what the last one left, 200 rather than 100 for a third fewer of them
 * (W6), the heap's peak the same where measured. Lua's full collections
 * (collectgarbage(), or out of memory) still reach every object.
 */
#include <lauxlib.h>

#include "pool.h"
#include "state.h"

#define GC_MINOR_MUL 40
#define GC_MAJOR_MUL 200

lua_State *state_new(lua_CFunction panic, lua_WarnFunction warn)
{
  lua_State *L;
#if POOL_ON
  struct pool *p = pool_new();
  L = p ? lua_newstate(pool_alloc, p) : NULL;
  if(!L) {
    pool_free(p);
    return NULL;
  }
  lua_atpanic(L, panic);
  lua_setwarnf(L, warn, NULL);
#else
  (void)panic;
  (void)warn;
  if(!(L = luaL_newstate()))
    return NULL;
#endif
  lua_gc(L, LUA_GCGEN, GC_MINOR_MUL, GC_MAJOR_MUL);
  return L;
}

void state_close(lua_State *L)
{
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  lua_close(L);
  if(f == pool_alloc)
    pool_free(ud);
}
