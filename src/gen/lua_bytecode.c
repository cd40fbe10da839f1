/*
 * lua_bytecode.c - a build tool: compiles retryrun's Lua modules to Lua
 * bytecode and writes them as a C file that src/lua_embed.c links into
 * retryrun, so that starting a run parses no Lua of its own.
 *
 *   lua_bytecode OUT.c lua/retryrun/http.lua ...
 *
 * Built with, and so dumping for, the same Lua library as retryrun. The
 * debug information is kept (line numbers, local and upvalue names): a
 * traceback through a compiled-in module reads as through its file. The
 * chunk name is not kept: it depends on where the modules are installed,
 * known only when retryrun runs. Each module is written as its dump with
 * the main function's source string cut out, and the offset of the cut
 * (struct lembed_module in lua_embed.h); lua_embed.c puts the chunk name
 * back there. A file that does not compile fails the build with Lua's
 * message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../lua_embed.h"

/* The dump as lua_dump writes it, in one growing block. */
struct dump {
  unsigned char *p;
  size_t n, cap;
};

static int dump_write(lua_State *L, const void *b, size_t n, void *ud)
{
  struct dump *d = ud;
  (void)L;
  if(d->n + n > d->cap) {
    size_t cap = d->cap ? d->cap : 4096;
    unsigned char *p;
    while(cap < d->n + n)
      cap *= 2;
    p = realloc(d->p, cap);
    if(!p)
      return 1;
    d->p = p;
    d->cap = cap;
  }
  memcpy(d->p + d->n, b, n);
  d->n += n;
  return 0;
}

/* Writes one module's entry data; 0, or 1 with a message on stderr. */
static int emit(lua_State *L, FILE *out, const char *path, int i,
                const char **file)
{
  struct dump d = {NULL, 0, 0};
  unsigned char pre[10];
  const char *base = strrchr(path, '/'), *dot;
  const char *source;
  size_t plen, slen, at, k;
  int rc = 1;

  base = base ? base + 1 : path;
  dot = strrchr(base, '.');
  if(!dot || strcmp(dot, ".lua")) {
    fprintf(stderr, "lua_bytecode: %s: not a .lua file\n", path);
    return 1;
  }
  *file = base;
  if(luaL_loadfilex(L, path, "t") != LUA_OK) {
    fprintf(stderr, "lua_bytecode: %s\n", lua_tostring(L, -1));
    return 1;
  }
  if(lua_dump(L, dump_write, &d, 0) || !d.p) {
    fprintf(stderr, "lua_bytecode: %s: out of memory\n", path);
    goto out;
  }
  /* the main function's source, "@PATH", follows the header */
  source = lua_pushfstring(L, "@%s", path);
  slen = strlen(source);
  plen = lembed_size_prefix(slen, pre);
  for(at = 0; at + plen + slen <= d.n && at < 64; at++)
    if(!memcmp(d.p + at, pre, plen) &&
       !memcmp(d.p + at + plen, source, slen))
      break;
  if(at + plen + slen > d.n || at >= 64) {
    fprintf(stderr, "lua_bytecode: %s: no chunk name in the dump\n", path);
    goto out;
  }
  fprintf(out, "/* %s */\nstatic const unsigned char m%d[] = {", path, i);
  for(k = 0; k < d.n; k++) {
    if(k >= at && k < at + plen + slen)
      continue;
    fprintf(out, "%s%u,", k % 24 ? "" : "\n", d.p[k]);
  }
  fprintf(out, "\n};\nenum { m%d_at = %zu };\n\n", i, at);
  rc = 0;
out:
  free(d.p);
  lua_settop(L, 0);
  return rc;
}

int main(int argc, char **argv)
{
  lua_State *L;
  FILE *out;
  const char **files;
  int i, rc = 0;

  if(argc < 3) {
    fprintf(stderr, "usage: lua_bytecode OUT.c MODULE.lua...\n");
    return 2;
  }
  L = luaL_newstate();
  files = calloc(argc, sizeof(*files));
  out = fopen(argv[1], "w");
  if(!L || !files || !out) {
    fprintf(stderr, "lua_bytecode: cannot write %s\n", argv[1]);
    return 1;
  }
  fprintf(out, "/* Made by src/gen/lua_bytecode.c from lua/retryrun/; "
               "not to be edited. */\n#include \"lua_embed.h\"\n\n");
  for(i = 2; i < argc && !rc; i++)
    rc = emit(L, out, argv[i], i - 2, &files[i - 2]);
  if(!rc) {
    fprintf(out, "const struct lembed_module lembed_modules[] = {\n");
    for(i = 2; i < argc; i++) {
      const char *f = files[i - 2];
      fprintf(out, "  {\"retryrun.%.*s\", \"%s\", m%d, sizeof(m%d), m%d_at},\n",
              (int)(strlen(f) - 4), f, f, i - 2, i - 2, i - 2);
    }
    fprintf(out, "  {0, 0, 0, 0, 0}\n};\n");
  }
  if(fclose(out) && !rc) {
    fprintf(stderr, "lua_bytecode: cannot write %s\n", argv[1]);
    rc = 1;
  }
  lua_close(L);
  free(files);
  return rc;
}
