/*
 * host.h - the Lua state of retryrun: package paths, the retryrun.core
 * module, the protected-call helper, and running a script as the main task.
 *
 * main.c parses the command line and calls host_run(); the bindings
 * (lua_http.c, lua_run.c) register themselves into retryrun.core through
 * the luaopen_* functions declared here.
 */
#ifndef RETRYRUN_HOST_H
#define RETRYRUN_HOST_H

#include <lua.h>

#include "policy.h"

/* Exit codes, as DESIGN.md lists them. */
enum {
  EXIT_OK = 0,
  EXIT_ERROR = 1,
  EXIT_USAGE = 2,
  EXIT_GAVEUP = 3,
  EXIT_INTERRUPTED = 130,    /* SIGINT: 128 + 2 */
  EXIT_TERMINATED = 143      /* SIGTERM: 128 + 15 */
};

/* The generator behind jitter: seeded by --seed or RETRYRUN_SEED. */
extern struct policy_rng host_rng;

struct host_opts {
  const char *script;        /* path, "-" for stdin, or NULL with code */
  const char *code;          /* -e CODE */
  char **argv;               /* the script's arguments */
  int argc;
  char **all_argv;           /* the whole command line, for arg[-n] */
  int script_index;          /* index of the script in all_argv */
  long max_connections, max_host_connections;
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

int luaopen_retryrun_core(lua_State *L);
void lrun_register(lua_State *L);   /* spawn, sleep, now, limits, ... */
void lhttp_register(lua_State *L);  /* request, policy compilation, ... */
void ljson_register(lua_State *L);  /* json_decode (lua_json.c) */

/* For the finished Task at idx: pushes its error and returns 1 if it
 * failed (marking the error as taken), else pushes its results table and
 * returns 0. */
int task_result(lua_State *L, int idx);

/* Registry key of the table of failed tasks whose error nobody took. */
#define FAILED_TASKS "retryrun.failed_tasks"

#endif
