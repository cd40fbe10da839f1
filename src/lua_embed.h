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

/* Every module, ended by one whose name is NULL. */
extern const struct lembed_module lembed_modules[];

/* Puts the searcher of lembed_modules second in package.searchers (after
 * package.preload, before the file searchers), their files being under
 * luadir/retryrun/. Leaves the stack as it found it. */
void lembed_install(lua_State *L, const char *luadir);

#endif
