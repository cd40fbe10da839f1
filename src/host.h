/*
 * host.h - the Lua state of retryrun: package paths, the retryrun.core
 * module, the standard functions it replaces, and running a script as
 * the main task.
 *
 * main.c parses the command line and calls host_run(). host.c owns the
 * process state (struct runtime, runtime.h) and the loop; it uses the
 * bindings (their registrars, lua_task.h) and is used by none of them.
 */
#ifndef RETRYRUN_HOST_H
#define RETRYRUN_HOST_H

#include <stdint.h>
#include "chaos.h"
#include <lua.h>

/* Exit codes, as README.md and retryrun --help list them. */
enum {
  EXIT_OK = 0,
  EXIT_ERROR = 1,
  EXIT_USAGE = 2,
  EXIT_GAVEUP = 3,
  EXIT_THRESHOLD = 4,        /* a --fail-if threshold was broken */
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
  int verbose;               /* -v: a line on stderr per attempt (1); -vv:
                                and the headers sent and received (2) */
  int oneliner;              /* retryrun VERB URL: no summary unless
                                --summary asks */
  const char *log;           /* --log FILE ("-": stdout), or NULL */
  int summary;               /* --summary: the summary on stderr, even when
                                it is not a terminal */
  int quiet;                 /* --quiet: no summary unless asked */
  const char *summary_json;  /* --summary-json FILE, or NULL */
  const char *fail_if[16];   /* --fail-if EXPR, each */
  int nfail_if;
  const char *report[8];     /* --report FORMAT=FILE, each (checked) */
  int nreport;
  int color;                 /* colour those lines */
  int fake_clock;            /* --fake-clock: waits take virtual time */
  struct chaos *chaos;       /* --chaos, parsed; NULL when off */
};

/* Runs a script to the end and returns the process exit code. */
int host_run(const struct host_opts *o);

#endif
