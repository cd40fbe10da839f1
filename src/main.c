/*
 * main.c - retryrun's command line: options, signals, exit codes.
 *
 *   retryrun [options] SCRIPT.lua [ARGS...]
 *   retryrun [options] -e CODE [ARGS...]
 *   retryrun [options] - [ARGS...]          (script from stdin)
 *   retryrun [options] VERB URL [FLAGS...]  (one call, no script)
 *
 * Options stop at the script: what follows it belongs to the script. The
 * work is host.c's; this file only reads the command line and sets up the
 * process (libcurl, signals, the seed).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "curlapi.h"

#include "host.h"
#include "loop.h"
#include "lua_check.h"
#include "report.h"

/* SIGINT and SIGTERM: the first cancels every task, a second stops the
 * process at once (loop_signal). */
static void on_signal(int sig)
{
  loop_signal(sig);
}

static void usage(FILE *f)
{
  fputs(
    "usage: retryrun [options] SCRIPT.lua [ARGS...]\n"
    "       retryrun [options] -e CODE [ARGS...]\n"
    "       retryrun [options] - [ARGS...]      (script from stdin)\n"
    "       retryrun [options] VERB URL [FLAGS...]\n"
    "\n"
    "Runs a Lua workflow whose HTTP calls are retried under a policy.\n"
    "\n"
    "subcommands (one call without a script; 'retryrun get --help' lists\n"
    "their flags):\n"
    "  get, head, delete, post, put, patch, options\n"
    "\n"
    "options:\n"
    "  -e CODE                    run CODE instead of a script file\n"
    "  --seed N                   fix the jitter (also RETRYRUN_SEED)\n"
    "  --fake-clock               waits (backoff, Retry-After, run.sleep)\n"
    "                             end at once in virtual time, for testing\n"
    "                             scripts; transfers still take real time\n"
    "                             (also RETRYRUN_FAKE_CLOCK=1)\n"
    "  --max-connections N        cap on connections open at once (256)\n"
    "  --max-host-connections N   cap on connections to one host\n"
    "  --chaos SPEC               inject faults on this side of each attempt,\n"
    "                             never sent: 'fail=0.01,status=503,\n"
    "                             latency=0.05:200ms,reset=0.01,seed=7' (also\n"
    "                             RETRYRUN_CHAOS; off unless asked)\n"
    "  -v, --verbose              a line on stderr for every attempt: when,\n"
    "                             which task, the request, what came back,\n"
    "                             how long it took, and what was decided\n"
    "  -vv, -v -v                 and after each line the request and\n"
    "                             response headers, redacted\n"
    "  --color=WHEN               colour those lines: auto (on a terminal,\n"
    "                             unless NO_COLOR is set), always or never\n"
    "  --log FILE                 a JSON object a line for every attempt and\n"
    "                             every finished call (- for stdout)\n"
    "  --summary                  the end-of-run summary on stderr (the\n"
    "                             default on a terminal)\n"
    "  --summary-json FILE        the summary as JSON into FILE (- for\n"
    "                             stdout)\n"
    "  -q, --quiet                no summary unless --summary asks\n"
    "  --fail-if EXPR             exit 4 when the summary breaks EXPR, as\n"
    "                             'giveups > 0', 'retry_rate > 5%', 'p99 >\n"
    "                             800ms' or 'GET /items/{id}: p95 > 200ms'\n"
    "                             (repeatable)\n"
    "  --report FORMAT=FILE       a CI report when the run ends, however it\n"
    "                             ends: FORMAT junit, tap or json; a test\n"
    "                             case per run.step (or per task), passed,\n"
    "                             flaky (passed after retries) or failed,\n"
    "                             with every attempt of its calls; FILE -\n"
    "                             for stdout (repeatable)\n"
    "  --version                  print the version and exit\n"
    "  -h, --help                 print this and exit\n"
    "\n"
    "exit codes: 0 success, 1 the script raised an error, 2 usage,\n"
    "            3 a call gave up and nothing caught it,\n"
    "            4 a --fail-if threshold was broken,\n"
    "            130 interrupted (SIGINT), 143 terminated (SIGTERM)\n"
    "\n"
    "The first SIGINT or SIGTERM cancels every task, running Lua code\n"
    "included, and runs their on_giveup hooks; a second one stops at once.\n",
    f);
}

static int usage_error(const char *fmt, const char *what)
{
  fputs("retryrun: ", stderr);
  fprintf(stderr, fmt, what);
  fputs("\nTry 'retryrun --help' for more information.\n", stderr);
  return EXIT_USAGE;
}

/* Parses a whole non-negative decimal number; -1 if it is not one. */
static long long parse_count(const char *s, long long max)
{
  char *end;
  long long v;
  if(!s || !*s || *s == '-' || *s == '+')
    return -1;
  errno = 0;
  v = strtoll(s, &end, 10);
  if(errno || *end || v > max)
    return -1;
  return v;
}

/* The one-liners' verbs: retryrun.cli makes the call. */
static const char *const verbs[] = {
  "get", "head", "delete", "post", "put", "patch", "options", NULL
};

static int in_list(const char *const *list, const char *s)
{
  int i;
  for(i = 0; list[i]; i++)
    if(!strcmp(list[i], s))
      return 1;
  return 0;
}

/* "GET", "Post": a verb spelt with capitals, as HTTP writes methods. */
static int is_verb_in_capitals(const char *s)
{
  char low[8];
  size_t i, n = strlen(s);
  if(n >= sizeof(low))
    return 0;
  for(i = 0; i <= n; i++)
    low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
  return strcmp(low, s) && in_list(verbs, low);
}

/* The one-liners' flags that take a value (retryrun.cli's list), so that
 * a -v given as a value is not read as the trace flag. */
static const char *const cli_value_flags[] = {
  "-H", "--header", "-d", "--data", "--json", "-o", "--output",
  "--retry-on", "--attempts", "--deadline", "--timeout", "--expect",
  "--valid", NULL
};

/* How much trace a -v, --verbose or -vv adds (0 for any other word). */
static int verbosity(const char *a)
{
  return !strcmp(a, "-vv") ? 2 :
         !strcmp(a, "-v") || !strcmp(a, "--verbose");
}

/* The trace level the one-liner's flags from argv[from] on ask for, on
 * top of level (at most 2). */
static int cli_trace_level(int level, int from, int argc, char **argv)
{
  int i;
  for(i = from; i < argc; i++) {
    if(!strcmp(argv[i], "--"))
      break;
    level += verbosity(argv[i]);
    if(in_list(cli_value_flags, argv[i]))
      i++;
  }
  return level > 2 ? 2 : level;
}

/* Where a one-liner's flags from argv[from] write its body: the last
 * -o FILE, --output FILE or --output=FILE, or "-" (stdout). */
static const char *cli_body_path(int from, int argc, char **argv)
{
  const char *path = "-";
  int i;
  for(i = from; i < argc; i++) {
    if(!strcmp(argv[i], "--"))
      break;
    if(!strncmp(argv[i], "--output=", 9))
      path = argv[i] + 9;
    else if((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) &&
            i + 1 < argc)
      path = argv[i + 1];
    if(in_list(cli_value_flags, argv[i]))
      i++;
  }
  return path;
}

static const char *const long_opts[] = {
  "--seed", "--max-connections", "--max-host-connections", "--version",
  "--help", "--verbose", "--color", "--log", "--summary", "--summary-json",
  "--quiet", "--fail-if", "--fake-clock", "--report", "--chaos", NULL
};

/* A known option that differs from s by one edit, for "did you mean". */
static const char *near_option(const char *s)
{
  int i;
  for(i = 0; long_opts[i]; i++) {
    const char *o = long_opts[i];
    size_t ls = strlen(s), lo = strlen(o), a = 0;
    if((ls > lo ? ls - lo : lo - ls) > 1)
      continue;
    while(a < ls && a < lo && s[a] == o[a])
      a++;
    /* one substitution, insertion or deletion after the common prefix */
    if(!strcmp(s + a + (ls >= lo), o + a + (lo >= ls)))
      return o;
    if(a + 1 < ls && a + 1 < lo && s[a] == o[a + 1] && s[a + 1] == o[a] &&
       !strcmp(s + a + 2, o + a + 2))
      return o;
  }
  return NULL;
}

/* Names of stdout, and whether path is the regular file stdout already
 * writes to (retryrun ... >out --log out). */
static const char *const stdout_names[] = {
  "-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", NULL
};

static int is_stdout(const char *path)
{
  struct stat out, st;
  return in_list(stdout_names, path) ||
         (!fstat(1, &out) && S_ISREG(out.st_mode) && !stat(path, &st) &&
          st.st_dev == out.st_dev && st.st_ino == out.st_ino);
}

/* path with its directory resolved (realpath), so that "x" and "./x"
 * compare equal; "-" for stdout by any of its names; as given when the
 * directory is not there (opening it fails later). */
static void output_key(const char *path, char *key, size_t n)
{
  const char *slash = strrchr(path, '/');
  char dir[PATH_MAX], *real;
  if(is_stdout(path)) {
    snprintf(key, n, "-");
    return;
  }
  if(slash && slash - path >= PATH_MAX) {
    snprintf(key, n, "%s", path);
    return;
  }
  snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
           slash ? (slash == path ? "/" : path) : ".");
  real = realpath(dir, NULL);
  snprintf(key, n, "%s/%s", real ? real : dir, slash ? slash + 1 : path);
  free(real);
}

/* Usage error when two of --log, --summary-json, --report and a
 * one-liner's body (body: where it goes, "-" for stdout; NULL for a
 * script) write to the same file, or to stdout: one would overwrite or
 * garble the other. */
static int outputs_apart(const struct host_opts *o, const char *body)
{
  const char *flag[11], *path[11], *shown[11];
  char key[11][PATH_MAX + 8];
  int n = 0, i, j, body_out = body && is_stdout(body);
  if(body) {
    flag[n] = body_out ? "the one-liner's" : "-o";
    shown[n] = body_out ? "body" : body;
    path[n++] = body;
  }
  if(o->log) {
    flag[n] = "--log";
    shown[n] = o->log;
    path[n++] = o->log;
  }
  if(o->summary_json) {
    flag[n] = "--summary-json";
    shown[n] = o->summary_json;
    path[n++] = o->summary_json;
  }
  for(i = 0; i < o->nreport; i++) {
    flag[n] = "--report";
    shown[n] = o->report[i];
    path[n++] = strchr(o->report[i], '=') + 1;
  }
  for(i = 0; i < n; i++) {
    output_key(path[i], key[i], sizeof(key[i]));
    for(j = 0; j < i; j++) {
      if(strcmp(key[i], key[j]))
        continue;
      fprintf(stderr, "retryrun: %s %s and %s %s both write to %s%s\n"
              "Try 'retryrun --help' for more information.\n", flag[j],
              shown[j], flag[i], shown[i],
              strcmp(key[i], "-") ? "the same file" : "stdout",
              body_out && !j ? " (write the body to a file with -o FILE, "
              "or the other to a file)" : "");
      return EXIT_USAGE;
    }
  }
  return 0;
}

int main(int argc, char **argv)
{
  struct host_opts o;
  const char *seed = getenv("RETRYRUN_SEED");
  const char *fake_clock = getenv("RETRYRUN_FAKE_CLOCK");
  const char *chaos = getenv("RETRYRUN_CHAOS");
  struct chaos chaos_spec;
  uint64_t seed_value;
  int i, code, color = -1;          /* -1: auto */

  memset(&o, 0, sizeof(o));
  o.all_argv = argv;
  for(i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    if(!strcmp(a, "--")) {
      i++;
      break;
    }
    if(a[0] != '-' || !strcmp(a, "-"))
      break;
    if(!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return EXIT_OK;
    }
    if(verbosity(a)) {
      o.verbose += verbosity(a);
      if(o.verbose > 2)
        o.verbose = 2;
      continue;
    }
    if(!strncmp(a, "--color=", 8) || !strcmp(a, "--color")) {
      const char *when = a[7] == '=' ? a + 8 : i + 1 < argc ? argv[++i] : "";
      if(!strcmp(when, "always"))
        color = 1;
      else if(!strcmp(when, "never"))
        color = 0;
      else if(!strcmp(when, "auto"))
        color = -1;
      else
        return usage_error("--color takes always, never or auto (got "
                           "'%s')", when);
      continue;
    }
    if(!strcmp(a, "--version")) {
      char err[256];
      printf("retryrun %s (%s, %s)\n", RETRYRUN_VERSION, LUA_RELEASE,
             curlapi_load(err, sizeof(err)) ? err : curl_version());
      return EXIT_OK;
    }
    if(!strcmp(a, "--log") || !strcmp(a, "--summary-json")) {
      if(i + 1 >= argc)
        return usage_error("option '%s' needs a value", a);
      *(!strcmp(a, "--log") ? &o.log : &o.summary_json) = argv[++i];
      continue;
    }
    if(!strcmp(a, "--report")) {
      char err[160];
      if(i + 1 >= argc)
        return usage_error("option '%s' needs a value", a);
      if(o.nreport == (int)(sizeof(o.report) / sizeof(o.report[0])))
        return usage_error("at most 8 %s files", a);
      if(!report_spec_ok(argv[i + 1], err, sizeof(err)))
        return usage_error("%s", err);
      o.report[o.nreport++] = argv[++i];
      continue;
    }
    if(!strcmp(a, "--fail-if")) {
      if(i + 1 >= argc)
        return usage_error("option '%s' needs a value", a);
      if(o.nfail_if == (int)(sizeof(o.fail_if) / sizeof(o.fail_if[0])))
        return usage_error("at most 16 %s thresholds", a);
      o.fail_if[o.nfail_if++] = argv[++i];
      continue;
    }
    if(!strcmp(a, "--chaos")) {
      if(i + 1 >= argc)
        return usage_error("option '%s' needs a value", a);
      chaos = argv[++i];
      continue;
    }
    if(!strcmp(a, "--summary")) {
      o.summary = 1;
      continue;
    }
    if(!strcmp(a, "--fake-clock")) {
      fake_clock = "1";
      continue;
    }
    if(!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      o.quiet = 1;
      continue;
    }
    if(!strcmp(a, "-e") || !strcmp(a, "--seed") ||
       !strcmp(a, "--max-connections") ||
       !strcmp(a, "--max-host-connections")) {
      if(i + 1 >= argc)
        return usage_error("option '%s' needs a value", a);
      val = argv[++i];
    }
    else if(!strncmp(a, "--", 2) && strchr(a, '=')) {
      return usage_error("unknown option '%s' (write the value after a "
                         "space)", a);
    }
    else {
      const char *near = near_option(a);
      if(near) {
        fprintf(stderr, "retryrun: unknown option '%s' (did you mean '%s'?)"
                "\nTry 'retryrun --help' for more information.\n", a, near);
        return EXIT_USAGE;
      }
      return usage_error("unknown option '%s'", a);
    }
    if(!strcmp(a, "-e")) {
      o.code = val;
      i++;
      break;
    }
    if(!strcmp(a, "--seed"))
      seed = val;
    else {
      long long v = parse_count(val, 100000);
      if(v < 1)
        return usage_error("'%s' needs a whole number from 1 to 100000",
                           a);
      if(!strcmp(a, "--max-connections"))
        o.max_connections = (long)v;
      else
        o.max_host_connections = (long)v;
    }
  }
  if(!o.code && i < argc && in_list(verbs, argv[i])) {
    /* a one-liner: retryrun.cli reads the verb and its flags */
    o.code = "return require('retryrun.cli').main(...)";
    o.script_index = i - 1;
    o.verbose = cli_trace_level(o.verbose, i + 1, argc, argv);
    o.oneliner = 1;
  }
  else if(!o.code) {
    if(i >= argc) {
      usage(stderr);
      return EXIT_USAGE;
    }
    o.script = argv[i++];
    o.script_index = i - 1;
    if(access(o.script, F_OK) && is_verb_in_capitals(o.script))
      return usage_error("no script '%s': a one-liner's verb is written "
                         "in lower case (retryrun get URL)", o.script);
  }
  else
    o.script_index = i - 1;   /* arg[0] is the code's -e */
  o.argv = argv + i;
  o.argc = argc - i;

  if(seed && *seed) {
    long long v = parse_count(seed, (long long)(~0ULL >> 1));
    if(v < 0)
      return usage_error("the seed '%s' is not a whole number", seed);
    seed_value = (uint64_t)v;
  }
  else if(getrandom(&seed_value, sizeof(seed_value), 0) !=
          (ssize_t)sizeof(seed_value))
    seed_value = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  o.seed = seed_value;
  if(fake_clock && *fake_clock && strcmp(fake_clock, "0")) {
    if(strcmp(fake_clock, "1"))
      return usage_error("RETRYRUN_FAKE_CLOCK is 1 (on) or 0 (off), not "
                         "'%s'", fake_clock);
    o.fake_clock = 1;
  }
  if(outputs_apart(&o, o.oneliner ? cli_body_path(o.script_index + 2, argc,
                                                   argv) : NULL))
    return EXIT_USAGE;
  if(chaos && *chaos) {
    char err[256];
    if(chaos_parse(chaos, &chaos_spec, check_suggest, err, sizeof(err)))
      return usage_error("%s", err);
    if(!chaos_spec.seeded)
      chaos_spec.seed = seed_value;    /* --seed, or the run's own */
    o.chaos = &chaos_spec;
  }
  /* auto: on a terminal, unless NO_COLOR is set (no-color.org) */
  if(color < 0) {
    const char *no = getenv("NO_COLOR");
    color = isatty(STDERR_FILENO) && !(no && *no);
  }
  o.color = color;

  signal(SIGPIPE, SIG_IGN);
  {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
  }
  code = host_run(&o);
  if(curlapi_loaded())
    curl_global_cleanup();
  return code;
}
