/*
 * lua_embed.h - retryrun's Lua modules (the files of lua/retryrun/)
 * compiled into the binary as Lua bytecode, and the package searcher that
 * loads them, so that a run parses none of them. The bytecode is made at
 * build time by src/gen/lua_bytecode.c (the table lembed_modules, in a
 * generated file) and keeps its debug information; the searcher gives
 * each module the chunk name its file would have
 * ("@<luadir>/retryrun/http.lua"), so tracebacks, error positions and
 * luax_where's test of retryrun's frames read as if the file had been
 * loaded.
 */
#ifndef RETRYRUN_LUA_EMBED_H
#define RETRYRUN_LUA_EMBED_H

#include <stddef.h>

#include <lua.h>

/* One module: its dump with the main function's source string cut out at
 * `at` (the chunk name goes back there when it is loaded). */
struct lembed_module {
  const char *name;                   /* "retryrun.http" */
  const char *file;                   /* "http.lua", under <luadir>/retryrun/ */
  const unsigned char *code;
  size_t size, at;
};

/* A string's length as a dump writes it before the string (ldump.c's
 * dumpSize): len + 1 in 7-bit groups, most significant first, the last
 * marked by 0x80. Writes them into pre; returns how many. */
static inline size_t lembed_size_prefix(size_t len, unsigned char pre[10])
{
  unsigned char b[10];
  size_t x = len + 1, n = 0, i;
  do {
    b[n++] = x & 0x7f;
    x >>= 7;
  } while(x);
  b[0] |= 0x80;
  for(i = 0; i < n; i++)
    pre[i] = b[n - 1 - i];
  return n;
}

/* Every module, ended by one whose name is NULL. */
extern const struct lembed_module lembed_modules[];

/* Puts the searcher of lembed_modules second in package.searchers (after
 * package.preload, before the file searchers), their files being under
 * luadir/retryrun/. Leaves the stack as it found it. */
void lembed_install(lua_State *L, const char *luadir);

#endif
