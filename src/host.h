/*
 * host.h - the Lua state of retryrun: package paths, the retryrun.core
 * module, the standard functions it replaces, the protected-call helper,
 * and running a script as the main task.
 *
 * main.c parses the command line and calls host_run(). host.c owns the
 * process state (struct runtime, runtime.h) and the loop; it uses the
 * bindings (lua_task.h, lua_json.h, lhttp_register) and is used by none of
 * them but for the helpers below.
 */
#ifndef RETRYRUN_HOST_H
#define RETRYRUN_HOST_H

#include <stdint.h>
#include <lua.h>

/* Exit codes, as DESIGN.md lists them. */
enum {
  EXIT_OK = 0,
  EXIT_ERROR = 1,
  EXIT_USAGE = 2,
  EXIT_GAVEUP = 3,
  EXIT_INTERRUPTED = 130,    /* SIGINT: 128 + 2 */
  EXIT_TERMINATED = 143      /* SIGTERM: 128 + 15 */
};

struct host_opts {
  const char *script;        /* path, "-" for stdin, or NULL with code */
  const char *code;          /* -e CODE */
  char **argv;               /* the script's arguments */
  int argc;
  char **all_argv;           /* the whole command line, for arg[-n] */
  int script_index;          /* index of the script in all_argv */
  long max_connections, max_host_connections;
  uint64_t seed;             /* the generator behind jitter */
};

/* Runs a script to the end and returns the process exit code. */
int host_run(const struct host_opts *o);

/* Calls the function below nargs arguments under a traceback handler;
 * like lua_pcall, leaves nres results or one error value (a string with a
 * traceback, or the error object unchanged when it is not a string). */
int host_pcall(lua_State *L, int nargs, int nres);

/* Message handler for lua_pcall(k): appends a traceback to string errors. */
int host_traceback(lua_State *L);

/* 1 when the value at idx is a table whose metatable is the registry's
 * `mt` (a retryrun.Response, a retryrun.GiveUp...). Runs no metamethod. */
int host_is_a(lua_State *L, int idx, const char *mt);

/* Pushes "file:line: " of the innermost Lua function running that is not
 * one of retryrun's own modules (the script's line), or "" when a C
 * function comes first, as luaL_where does for a level. */
void host_where(lua_State *L);
#define HOST_OURS "retryrun.ours"

/* 1 when the value at idx is a give-up error (retryrun.GiveUp). */
int host_is_giveup(lua_State *L, int idx);

/* request, policy compilation, ... (lua_http.c, which has no header of
 * its own yet). */
void lhttp_register(lua_State *L);

#endif
