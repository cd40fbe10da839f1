/*
 * host.c - the Lua state of retryrun (see host.h).
 *
 * Opens the standard libraries, points package.path at retryrun's Lua
 * modules (lua/ beside the build tree, else the installed directory),
 * preloads retryrun.core, puts retryrun.stdlib's functions in place of
 * the standard ones (coroutine.*, os.execute, io.close), loads the script
 * and runs it as the main task on the event loop, then turns how it ended
 * into an exit code and a message. When the main task fails the run ends:
 * its error is printed and the other tasks are cancelled. All of it but
 * making and closing the state runs inside one protected call (pmain, as
 * lua.c does), so an error in the loop, even out of memory while a task
 * ends, is reported and never panics. The only place that prints.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "host.h"
#include "outputs.h"
#include "loop.h"
#include "lua_call.h"
#include "lua_check.h"
#include "lua_embed.h"
#include "lua_giveup.h"
#include "lua_json.h"
#include "lua_keys.h"
#include "lua_plain.h"
#include "lua_policy.h"
#include "lua_rate.h"
#include "lua_redact.h"
#include "lua_response.h"
#include "lua_step.h"
#include "lua_stdlib.h"
#include "lua_task.h"
#include "luax.h"
#include "ratelimit.h"
#include "redact.h"
#include "report.h"
#include "runtime.h"
#include "state.h"
#include "summary.h"

static int luaopen_retryrun_core(lua_State *L)
{
  lua_newtable(L);
  ltask_register(L);
  lstdlib_register(L);
  lcheck_register(L);
  lredact_register(L);
  lpolicy_register(L);
  lkeys_register(L);
  lresp_register(L);
  lgiveup_register(L);
  lcall_register(L);
  lplain_register(L);
  lstep_register(L);
  lrate_register(L);
  ltrace_register(L);
  lwrap_register(L);
  ljson_register(L);
  lua_pushliteral(L, RETRYRUN_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}

/* What an error outside any protected call prints before the process
 * aborts (never reached: everything runs inside pmain). */
static int state_panic(lua_State *L)
{
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "retryrun: unprotected Lua error: %s\n",
          msg ? msg : "(not a string)");
  return 0;
}

/* Lua's warn(): silent until a script sends "@on", then each message on
 * stderr, "@off" silencing it again; a message may come in pieces. */
static void state_warn(void *ud, const char *msg, int tocont)
{
  static int on, midway;
  (void)ud;
  if(!midway && !tocont && msg[0] == '@') {
    if(!strcmp(msg, "@on"))
      on = 1;
    else if(!strcmp(msg, "@off"))
      on = 0;
    return;
  }
  if(on)
    fprintf(stderr, "%s%s%s", midway ? "" : "Lua warning: ", msg,
            tocont ? "" : "\n");
  midway = tocont;
}

/* The directory of Lua modules, found from the executable so a build tree
 * and any install prefix work as they are: lua/ beside build/, then
 * share/retryrun/lua beside bin/, then the directory compiled in. */
static void set_paths(lua_State *L)
{
  static const char *const beside[] = {"/../lua", "/../share/retryrun/lua"};
  char exe[PATH_MAX], dir[PATH_MAX + 64], found[PATH_MAX];
  const char *luadir = RETRYRUN_LUADIR;
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  char *slash;
  size_t i;

  if(n > 0) {
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if(slash)
      *slash = '\0';
    for(i = 0; slash && i < sizeof(beside) / sizeof(beside[0]); i++) {
      snprintf(dir, sizeof(dir), "%s%s/retryrun/http.lua", exe, beside[i]);
      if(access(dir, R_OK) == 0) {
        snprintf(dir, sizeof(dir), "%s%s", exe, beside[i]);
        if(realpath(dir, found)) {
          luadir = found;
          break;
        }
      }
    }
  }
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", luadir, luadir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  /* "@<luadir>/retryrun/": how the chunk names of our modules start */
  lua_pushfstring(L, "@%s/retryrun/", luadir);
  lua_setfield(L, LUA_REGISTRYINDEX, LUAX_OURS);
  /* the modules themselves come compiled in, under those chunk names */
  lembed_install(L, luadir);
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_retryrun_core);
  lua_setfield(L, -2, "retryrun.core");
  lua_pop(L, 2);
}

/* arg as lua.c makes it: the script at 0, its arguments at 1..n, the
 * interpreter and its options at negative indices. */
static void set_arg(lua_State *L, const struct host_opts *o)
{
  int i, base = o->script_index;
  lua_createtable(L, o->argc, base + 1);
  for(i = 0; o->all_argv[i]; i++) {
    lua_pushstring(L, o->all_argv[i]);
    lua_rawseti(L, -2, i - base);
  }
  lua_setglobal(L, "arg");
}

static int load_script(lua_State *L, const struct host_opts *o)
{
  if(o->code)
    return luaL_loadbuffer(L, o->code, strlen(o->code), "=(command line)");
  if(!strcmp(o->script, "-"))
    return luaL_loadfile(L, NULL);
  return luaL_loadfile(L, o->script);
}

/* The progress line: redrawn in place on stderr (a terminal), at most ten
 * times a second; on only when stdout is not that terminal, so that the
 * script's own output never lands in it. */
static double progress_drawn;

/* Takes the progress line away before anything else is printed. */
static void clear_progress(void)
{
  if(progress_drawn > 0) {
    fputs("\r\033[K", stderr);
    progress_drawn = 0;
  }
}

static void draw_progress(struct runtime *rt)
{
  double now = loop_now(), took = now - rt->started;
  char map[64] = "", polls[32] = "";
  if(now - progress_drawn < 0.1)
    return;
  progress_drawn = now;
  if(rt->map_total)
    snprintf(map, sizeof(map), "map %ld/%ld  ", rt->map_done, rt->map_total);
  if(rt->polls)
    snprintf(polls, sizeof(polls), "  polls %ld", rt->polls);
  fprintf(stderr, "\r\033[K[%6.1fs] %sin flight %zu  calls %ld  retries %ld"
          "%s  gave up %ld  %.0f calls/s", took, map,
          loop_transfers(rt->loop), rt->done_calls, rt->retries, polls,
          rt->giveups, took > 0 ? rt->done_calls / took : 0.0);
  fflush(stderr);
}

/* Pushes s with every URL in it redacted, and returns it. */
static const char *redacted(lua_State *L, const char *s)
{
  char *r = redact_text(s, strlen(s), NULL, NULL);
  if(!r)
    luaL_error(L, "not enough memory");
  lua_pushstring(L, r);
  free(r);
  return lua_tostring(L, -1);
}

/* report(err, prefix, traceback) -> exit code, run protected: prints an
 * error value as "retryrun: message" and a table error's traceback field,
 * else the traceback given. Give-up errors mean exit 3. */
static int lreport(lua_State *L)
{
  int code = luax_is_a(L, 1, LUAX_GIVEUP_MT) ? EXIT_GAVEUP : EXIT_ERROR;
  const char *prefix = lua_tostring(L, 2);
  const char *msg = luaL_tolstring(L, 1, NULL);
  const char *tb = NULL;
  int own = 0;                        /* the table error's own field */
  if(lua_istable(L, 1)) {
    lua_pushliteral(L, "traceback");
    own = lua_rawget(L, 1) != LUA_TNIL;
    if(lua_type(L, -1) == LUA_TSTRING)
      tb = lua_tostring(L, -1);
  }
  if(!own && lua_type(L, 3) == LUA_TSTRING)
    tb = lua_tostring(L, 3);          /* a failed task's */
  /* a script's own error may hold a URL with a password in it */
  msg = redacted(L, msg);
  if(tb)
    tb = redacted(L, tb);
  clear_progress();
  fprintf(stderr, "retryrun: %s%s%s%s\n", prefix, msg, tb ? "\n" : "",
          tb ? tb : "");
  fflush(stderr);
  lua_pushinteger(L, code);
  return 1;
}

/* Prints the error at idx (see lreport) with the traceback tb or NULL;
 * returns its exit code. An error whose __tostring raises gets a line. */
static int report_tb(lua_State *L, int idx, const char *tb,
                     const char *prefix)
{
  int code;
  idx = lua_absindex(L, idx);
  lua_pushcfunction(L, lreport);
  lua_pushvalue(L, idx);
  lua_pushstring(L, prefix);
  lua_pushstring(L, tb);               /* nil for NULL */
  if(lua_pcall(L, 3, 1, 0)) {
    fprintf(stderr, "retryrun: %s(an error whose message cannot be made: "
            "%s)\n", prefix, lua_type(L, -1) == LUA_TSTRING ?
            lua_tostring(L, -1) : "?");
    lua_pop(L, 1);
    return EXIT_ERROR;
  }
  code = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return code;
}

#define report(L, idx, prefix) report_tb(L, idx, NULL, prefix)

/* report_tb of the failed task at idx, its error and its traceback. */
static int report_task(lua_State *L, int idx, const char *prefix)
{
  int code;
  idx = lua_absindex(L, idx);
  task_result(L, idx);
  task_push_traceback(L, idx);
  code = report_tb(L, -2, lua_tostring(L, -1), prefix);
  lua_pop(L, 2);
  return code;
}

/* Tasks that failed while nothing waited on them; lua_task.c keeps the
 * table and removes a task from it when its error is taken. Tasks that
 * loop_stop() cancelled are left out: their end is the run's, whose cause
 * is reported already. */
static int report_orphans(lua_State *L, int main_idx)
{
  int code = EXIT_OK;
  lua_getfield(L, LUA_REGISTRYINDEX, FAILED_TASKS);
  if(!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return EXIT_OK;
  }
  lua_pushnil(L);
  while(lua_next(L, -2)) {
    lua_pop(L, 1);
    if(!lua_rawequal(L, -1, main_idx) &&
       !loop_task_stopped(&task_check(L, -1)->lt)) {
      int c = report_task(L, -1, "a task failed and nothing waited on it: ");
      if(code == EXIT_OK)
        code = c;
    }
  }
  lua_pop(L, 1);
  return code;
}

/* Sets retryrun.stdlib's replacements into the library tables they name
 * ("file": the methods of open files). 0, or 1 with the error reported. */
static int install_stdlib(lua_State *L)
{
  lua_getglobal(L, "require");
  lua_pushliteral(L, "retryrun.stdlib");
  if(luax_pcall(L, 1, 1)) {
    report(L, -1, "");
    lua_pop(L, 1);
    return 1;
  }
  luaL_checktype(L, -1, LUA_TTABLE);
  lua_pushnil(L);
  while(lua_next(L, -2)) {             /* stdlib, name, functions */
    const char *lib = lua_tostring(L, -2);
    if(lib && !strcmp(lib, "file")) {
      luaL_getmetatable(L, LUA_FILEHANDLE);
      lua_getfield(L, -1, "__index");
      lua_remove(L, -2);
    }
    else
      lua_getglobal(L, lib ? lib : "?");
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_pushnil(L);
    while(lua_next(L, -3)) {           /* ..., functions, lib, k, v */
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, -4);
    }
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  return 0;
}

/* Says why the loop cancelled every task, if it did. */
static void report_loop(enum loop_result r)
{
  if(r == LOOP_DEADLOCK)
    fprintf(stderr, "retryrun: every task waits on another task: "
            "cancelling them all\n");
}

/* What a run leaves when it ends, however it ends: host_run's, and
 * os.exit's. */
struct ending {
  const struct host_opts *o;
  struct runtime *rt;
  struct summary *sum;
  const struct summary_threshold *fail_if;
  int summary_text_on;
};

/* Writes the reports and the summary and checks the thresholds; returns
 * the exit code, code or what they made of it. */
static int finish_outputs(const struct ending *e, int code)
{
  const struct host_opts *o = e->o;
  struct runtime *rt = e->rt;
  struct summary *sum = e->sum;
  int i;
  if(rt->report) {
    int c = outputs_reports(o->report, o->nreport, o->script,
                            rt->report) ? EXIT_ERROR : 0;
    if(c && code == EXIT_OK)
      code = c;
  }
  if(rt->summary) {
    int c;
    sum->fake_clock = loop_clock_is_fake();
    sum->skipped = loop_clock_skipped();
    if(o->chaos) {
      chaos_describe(o->chaos, sum->chaos, sizeof(sum->chaos));
      sum->chaos_fail = o->chaos->injected[CHAOS_FAIL];
      sum->chaos_reset = o->chaos->injected[CHAOS_RESET];
      sum->chaos_latency = o->chaos->injected[CHAOS_LATENCY];
    }
    sum->rate_waited = rt->rate_waited;
    sum->rate_waits = rt->rate_waits;
    sum->rate_cuts = rt->rate_cuts;
    c = outputs_summary(o->summary_json, sum, e->summary_text_on) ?
        EXIT_ERROR : 0;
    if(c && code == EXIT_OK)
      code = c;
    for(i = 0; i < o->nfail_if; i++) {
      char msg[512];
      if(summary_threshold_broken(sum, &e->fail_if[i], msg, sizeof(msg))) {
        fprintf(stderr, "retryrun: --fail-if %s: %s\n", o->fail_if[i], msg);
        if(code == EXIT_OK)
          code = EXIT_THRESHOLD;
      }
    }
  }
  return code;
}

/* os.exit([code [, close]]): as the base library's, the run's reports,
 * summary and thresholds done first, as when the script returns. */
static int los_exit(lua_State *L)
{
  const struct ending *e = lua_touserdata(L, lua_upvalueindex(1));
  int code = lua_isboolean(L, 1) ?
             (lua_toboolean(L, 1) ? EXIT_SUCCESS : EXIT_FAILURE) :
             (int)luaL_optinteger(L, 1, EXIT_SUCCESS);
  int close = lua_toboolean(L, 2);
  clear_progress();
  fflush(stdout);                      /* what the script printed first */
  if(e->rt->log_ud)
    fflush(e->rt->log_ud);
  code = finish_outputs(e, code);
  if(close)
    lua_close(L);
  exit(code);
}

/* pmain(ending) -> exit code: everything between making the state and
 * closing it, run protected by host_run. */
static int pmain(lua_State *L)
{
  const struct ending *e = lua_touserdata(L, 1);
  const struct host_opts *o = e->o;
  struct loop *lp = runtime_of(L)->loop;
  struct task *main_task;
  int code = EXIT_OK, main_idx, i;

  luaL_openlibs(L);
  set_paths(L);
  set_arg(L, o);
  /* the host, not a module, shapes the environment: coroutines tell the
   * loop's waits from their own before any script runs */
  if(install_stdlib(L)) {
    lua_pushinteger(L, EXIT_ERROR);
    return 1;
  }
  lua_getglobal(L, "os");
  lua_pushlightuserdata(L, (void *)e);
  lua_pushcclosure(L, los_exit, 1);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);
  /* every policy has the verbs retryrun.http gives it, whatever the
   * script requires */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "retryrun.http");
  if(luax_pcall(L, 1, 0)) {
    report(L, -1, "");
    lua_pushinteger(L, EXIT_ERROR);
    return 1;
  }
  if(load_script(L, o)) {
    report(L, -1, "");
    lua_pushinteger(L, EXIT_ERROR);
    return 1;
  }
  /* spawn(chunk, args...) as the main task; retryrun.core is loaded */
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "retryrun.core");
  lua_getfield(L, -1, "spawn");
  lua_rotate(L, -4, 1);                /* spawn, chunk, loaded, core */
  lua_pop(L, 2);
  luaL_checkstack(L, o->argc, "too many arguments");
  for(i = 0; i < o->argc; i++)
    lua_pushstring(L, o->argv[i]);
  if(luax_pcall(L, 1 + o->argc, 1)) {
    report(L, -1, "");
    lua_pushinteger(L, EXIT_ERROR);
    return 1;
  }
  main_idx = lua_gettop(L);
  main_task = task_check(L, main_idx);
  report_loop(loop_run(lp, &main_task->lt));
  /* the main chunk's error ends the run: said at once, then the other
   * tasks are cancelled and their on_giveup hooks run */
  if(main_task->failed) {
    code = report_task(L, main_idx, "");
    loop_stop(lp);
  }
  report_loop(loop_run(lp, NULL));
  {
    int c = report_orphans(L, main_idx);
    if(code == EXIT_OK)
      code = c;
  }
  lua_pushinteger(L, code);
  return 1;
}

/* --log: a record the bindings made, a line of the log file. */
static void write_log(void *ud, const char *line)
{
  fputs(line, ud);
  fputc('\n', ud);
  fflush(ud);
}

/* -v: a line the bindings made, on stderr. */
static void print_trace(const char *line)
{
  fputs(line, stderr);
  fputc('\n', stderr);
}

int host_run(const struct host_opts *o)
{
  struct runtime rt;
  struct summary sum;
  struct summary_threshold fail_if[16];
  struct ending e;
  int i, summary_text_on = o->summary || (isatty(STDERR_FILENO) &&
                                          !o->quiet && !o->oneliner);
  lua_State *L = state_new(state_panic, state_warn);
  int code;

  if(!L) {
    fprintf(stderr, "retryrun: cannot start: out of memory\n");
    return EXIT_ERROR;
  }
  for(i = 0; i < o->nfail_if; i++) {
    char err[512];
    if(summary_threshold_parse(o->fail_if[i], &fail_if[i], err,
                               sizeof(err))) {
      fprintf(stderr, "retryrun: --fail-if %s\nTry 'retryrun --help' for "
              "more information.\n", err);
      state_close(L);
      return EXIT_USAGE;
    }
  }
  if(outputs_check(o->report, o->nreport, o->summary_json)) {
    lua_close(L);
    return EXIT_USAGE;
  }
  memset(&rt, 0, sizeof(rt));
  policy_rng_seed(&rt.rng, o->seed);
  if(o->fake_clock) {
    loop_clock_fake();
    if(o->verbose)
      fputs("retryrun: fake clock: waits take no real time; the times "
            "below count them\n", stderr);
  }
  rt.started = loop_now();
  rt.trace = o->verbose ? print_trace : NULL;
  rt.wire = o->verbose >= 2;
  if(o->log) {
    rt.log_ud = strcmp(o->log, "-") ? fopen(o->log, "w") : stdout;
    if(!rt.log_ud) {
      fprintf(stderr, "retryrun: cannot write the log '%s': %s\n", o->log,
              strerror(errno));
      state_close(L);
      return EXIT_USAGE;
    }
    rt.log = write_log;
  }
  rt.color = o->color;
  rt.chaos = o->chaos;
  if(o->chaos && !o->quiet) {
    char d[160];
    chaos_describe(o->chaos, d, sizeof(d));
    fprintf(stderr, "retryrun: CHAOS on: %s (faults made on this side, "
            "never sent)\n", d);
  }
  if(!o->verbose && !o->quiet && isatty(STDERR_FILENO) &&
     !isatty(STDOUT_FILENO))
    rt.progress = draw_progress;
  if((o->nreport && !(rt.report = report_new(loop_wall()))) ||
     (o->verbose && !o->nreport && !o->oneliner &&
      !(rt.steps = report_new(0)))) {
    fprintf(stderr, "retryrun: cannot start: out of memory\n");
    state_close(L);
    return EXIT_ERROR;
  }
  memset(&sum, 0, sizeof(sum));
  sum.guard = &rt.guard;
  if(summary_text_on || o->summary_json || o->nfail_if)
    rt.summary = &sum;
  runtime_set(L, &rt);
  rt.loop = loop_new(task_finished, L);
  if(!rt.loop) {
    fprintf(stderr, "retryrun: cannot start: out of memory\n");
    report_free(rt.report);
    report_free(rt.steps);
    state_close(L);
    return EXIT_ERROR;
  }
  if(o->max_connections || o->max_host_connections)
    loop_limits(rt.loop, o->max_connections, o->max_host_connections);
  e.o = o;
  e.rt = &rt;
  e.sum = &sum;
  e.fail_if = fail_if;
  e.summary_text_on = summary_text_on;
  lua_pushcfunction(L, pmain);
  lua_pushlightuserdata(L, &e);
  if(lua_pcall(L, 1, 1, 0) == LUA_OK)
    code = (int)lua_tointeger(L, -1);
  else
    code = report(L, -1, "");
  lua_pop(L, 1);
  if(loop_interrupted())
    code = loop_interrupted() == SIGTERM ? EXIT_TERMINATED :
           EXIT_INTERRUPTED;
  clear_progress();                    /* the line goes when the run ends */
  state_close(L);
  redact_free_names();
  ratelimit_free(rt.rate);
  loop_free(rt.loop);
  if(rt.log_ud && rt.log_ud != stdout)
    fclose(rt.log_ud);
  code = finish_outputs(&e, code);
  report_free(rt.report);
  report_free(rt.steps);
  if(rt.summary)
    summary_free(&sum);
  guard_free(&rt.guard);
  return code;
}
