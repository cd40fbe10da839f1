/*
 * fuzz_json_decode.c - libFuzzer target for json_decode (src/lua_json.c):
 * any bytes either decode to one value, leaving the Lua stack one higher,
 * or fail with a message that says where ("... at byte N"), leaving the
 * stack as it was; and a lazy view of them (json_decode_lazy, whose
 * validator is json_scan.c's) succeeds or fails alike, with the same
 * message. Sanitizers catch the rest: reads past the input, stack
 * slots used without room, undefined arithmetic on numbers.
 *
 * One lua_State for the whole run; every call is protected, and a Lua
 * error (only out of memory may raise) ends the run as a failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_json.h"

struct input {
  const char *s;
  size_t len;
};

/* Decodes the input (a light userdata) and checks the contract, twice:
 * null read as absent, and read as the value at index 1 (the input's own
 * light userdata, so the two ways differ in what they push). */
static int decode_checked(lua_State *L)
{
  const struct input *in = lua_touserdata(L, 1);
  char err[128];
  int top = lua_gettop(L), null_idx;

  char lazy_err[128];
  int text, rc;

  lua_pushlstring(L, in->s, in->len);
  text = ++top;
  for(null_idx = 0; null_idx <= 1; null_idx++) {
    memset(err, 'x', sizeof(err));
    rc = json_decode(L, in->s, in->len, null_idx, err, sizeof(err));
    if(rc == 0) {
      if(lua_gettop(L) != top + 1)
        luaL_error(L, "decoded, but the stack moved by %d",
                   lua_gettop(L) - top);
      lua_settop(L, top);
    }
    else {
      if(lua_gettop(L) != top)
        luaL_error(L, "failed, but the stack moved by %d",
                   lua_gettop(L) - top);
      if(!memchr(err, '\0', sizeof(err)) || !strstr(err, " at byte "))
        luaL_error(L, "failed without saying where: %.60s", err);
    }
    if(json_decode_lazy(L, text, null_idx, 0, lazy_err, sizeof(lazy_err))
       != rc)
      luaL_error(L, "the lazy view %s where the decoder %s",
                 rc ? "succeeded" : "failed", rc ? "failed" : "succeeded");
    if(rc == 0) {
      json_touch(L, -1);
      lua_settop(L, top);
    }
    else if(strcmp(err, lazy_err))
      luaL_error(L, "the lazy view says '%s' where the decoder says '%s'",
                 lazy_err, err);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static lua_State *L;
  struct input in = {(const char *)data, size};

  if(!L && !(L = luaL_newstate()))
    abort();
  lua_settop(L, 0);
  lua_pushcfunction(L, decode_checked);
  lua_pushlightuserdata(L, &in);
  if(lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_json_decode: %s\n", lua_tostring(L, -1));
    abort();
  }
  /* the garbage freed now, not in a later input: libFuzzer runs a leak
   * check after every input that mallocs more than it frees */
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
