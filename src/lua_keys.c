/*
 * lua_keys.c - what retryrun.http needs to send a request again safely:
 * core.idempotent (which methods the safety rule lets repeat, policy.c)
 * and core.uuid (the idempotency keys that make the others safe).
 */
#include <stdio.h>
#include <sys/random.h>

#include <lauxlib.h>

#include "lua_keys.h"
#include "policy.h"
#include "runtime.h"

/* core.uuid() -> a random UUIDv4, from the kernel's generator (never from
 * the seeded one: keys must differ between two runs with the same seed). */
static int lcore_uuid(lua_State *L)
{
  unsigned char r[16];
  char s[37];
  if(getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
    size_t i;
    for(i = 0; i < sizeof(r); i++)   /* never in practice */
      r[i] = (unsigned char)(policy_rng_u64(&runtime_of(L)->rng) >> 56);
  }
  r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
  r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
  snprintf(s, sizeof(s),
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
           r[10], r[11], r[12], r[13], r[14], r[15]);
  lua_pushstring(L, s);
  return 1;
}

/* core.idempotent(method) -> true when the safety rule lets the method be
 * repeated (policy.c says which). */
static int lcore_idempotent(lua_State *L)
{
  lua_pushboolean(L, policy_method_idempotent(luaL_checkstring(L, 1)));
  return 1;
}

void lkeys_register(lua_State *L)
{
  lua_pushcfunction(L, lcore_uuid);
  lua_setfield(L, -2, "uuid");
  lua_pushcfunction(L, lcore_idempotent);
  lua_setfield(L, -2, "idempotent");
}
