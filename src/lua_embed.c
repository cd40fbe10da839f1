/*
 * lua_embed.c - the package searcher of the Lua modules compiled into
 * retryrun (see lua_embed.h). Uses Lua's C API and the table the build
 * generates; the files under <luadir> are never read, only named.
 */
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lua_embed.h"

/* A module's dump in four pieces for lua_load: the bytes up to the cut,
 * the chunk name's length as the dump writes it, the name, the rest. */
struct pieces {
  const char *p[4];
  size_t n[4];
  int i;
};

static const char *read_pieces(lua_State *L, void *ud, size_t *size)
{
  struct pieces *s = ud;
  (void)L;
  while(s->i < 4) {
    int i = s->i++;
    if(s->n[i]) {
      *size = s->n[i];
      return s->p[i];
    }
  }
  *size = 0;
  return NULL;
}

/* searcher(name) -> loader, filename: the compiled-in module `name`, as
 * the Lua file searcher returns it (the chunk, "<luadir>/retryrun/x.lua");
 * nothing when no module has that name. Upvalue 1: "<luadir>/retryrun/".
 * Raises when the bytecode does not load (a Lua library other than the
 * one retryrun was built with). */
static int lembed_search(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  const struct lembed_module *m = lembed_modules;
  const char *file, *chunk;
  unsigned char pre[10];
  size_t n;
  struct pieces s;

  while(m->name && strcmp(m->name, name))
    m++;
  if(!m->name)
    return 0;
  file = lua_pushfstring(L, "%s%s", lua_tostring(L, lua_upvalueindex(1)),
                         m->file);
  chunk = lua_pushfstring(L, "@%s", file);
  n = lembed_size_prefix(strlen(chunk), pre);
  s.p[0] = (const char *)m->code;
  s.n[0] = m->at;
  s.p[1] = (const char *)pre;
  s.n[1] = n;
  s.p[2] = chunk;
  s.n[2] = strlen(chunk);
  s.p[3] = (const char *)m->code + m->at;
  s.n[3] = m->size - m->at;
  s.i = 0;
  if(lua_load(L, read_pieces, &s, chunk, "b") != LUA_OK)
    return luaL_error(L, "error loading module '%s' compiled into "
                      "retryrun:\n\t%s", name, lua_tostring(L, -1));
  lua_pushvalue(L, 2);
  return 2;
}

void lembed_install(lua_State *L, const char *luadir)
{
  lua_Integer i;
  lua_getglobal(L, LUA_LOADLIBNAME);
  lua_getfield(L, -1, "searchers");
  for(i = luaL_len(L, -1); i >= 2; i--) {
    lua_geti(L, -1, i);
    lua_seti(L, -2, i + 1);
  }
  lua_pushfstring(L, "%s/retryrun/", luadir);
  lua_pushcclosure(L, lembed_search, 1);
  lua_seti(L, -2, 2);
  lua_pop(L, 2);
}
