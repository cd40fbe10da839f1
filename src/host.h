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

#include <stdint.h>
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

struct host_opts {
  const char *script;        /* path, "-" for stdin, or NULL with code */
  const char *code;          /* -e CODE */
  char **argv;               /* the script's arguments */
  int argc;
  char **all_argv;           /* the whole command line, for arg[-n] */
  int script_index;          /* index of the script in all_argv */
  long max_connections, max_host_connections;
  uint64_t seed;             /* the generator behind jitter (--seed) */
};

/* Runs a script to the end and returns the process exit code. */
int host_run(const struct host_opts *o);

int luaopen_retryrun_core(lua_State *L);
void lrun_register(lua_State *L);   /* spawn, sleep, now, limits, ... */

/* For the finished Task at idx: pushes its error and returns 1 if it
 * failed (marking the error as taken), else pushes its results table and
 * returns 0. */
int task_result(lua_State *L, int idx);

/* Registry key of the table of failed tasks whose error nobody took. */
#define FAILED_TASKS "retryrun.failed_tasks"

#endif
