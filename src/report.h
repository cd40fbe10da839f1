/*
 * report.h - the CI reports (--report junit|tap|json=FILE): one test case
 * per step (run.step), or per task when the run names no step, each with
 * its status (passed, flaky: passed after retries, failed: with its
 * error) and the attempt history of every call made in it.
 *
 * Pure C: records in (from the bindings, through struct runtime), text
 * out into a file. No Lua, no libcurl. Every string handed in is already
 * redacted; the records keep a copy with bytes that are not UTF-8 (or
 * are control characters other than tab and newline) written '?', so
 * each format holds only what its readers accept.
 */
#ifndef RETRYRUN_REPORT_H
#define RETRYRUN_REPORT_H

#include <stddef.h>

struct report;

/* A new, empty report; NULL when out of memory. started: Unix time. */
struct report *report_new(double started);
void report_free(struct report *r);

/* A step's name over STEP_NAME_MAX bytes is cut (on a character) to end
 * in "..."; a path that would grow over STEP_PATH_MAX starts again from
 * "... / ", so that deep steps with long names cost no more than short. */
#define STEP_NAME_MAX 256
#define STEP_PATH_MAX 1024

/* A step begins in task `task`, inside step `parent` (0: none); its name
 * is the parent's, " / ", then name (cut as above). Returns its id (1, 2, ...), or 0
 * when memory ran out (the step is then not reported). now: monotonic. */
unsigned report_step_begin(struct report *r, unsigned task, unsigned parent,
                           const char *name, double now);
/* The name of step id (its path, "outer / inner"), or NULL for none. */
const char *report_step_name(const struct report *r, unsigned id);
/* The step ends; err NULL when it returned, else its message and type
 * ("gave_up" or "error"). Returns its parent. */
unsigned report_step_end(struct report *r, unsigned id, const char *type,
                         const char *err, double now);

/* A task starts or ends (type and err as for steps). */
void report_task_begin(struct report *r, unsigned task, double now);
void report_task_end(struct report *r, unsigned task, const char *type,
                     const char *err, double now);
/* Task `task` failed with err (type as for steps) though it goes on and
 * may return (run.map's workers catch their items' errors): its case
 * fails with the first such error, unless it raises its own. */
void report_task_fail(struct report *r, unsigned task, const char *type,
                      const char *err);

/* One attempt of call `call`, made by `task` inside `step` (the first
 * attempt names the call's step): what (method and URL, or "function
 * at file:line"), the status (0: none) or failure class (NULL: none), the
 * outcome as a word ("503", "reset"), how long it took, the verdict
 * ("accept", "retry", "giveup"), the decision in words, the wait after
 * it and its cause ("backoff", "retry_after"; NULL when no wait). */
struct report_attempt_in {
  unsigned call, task, step;
  const char *method, *what, *cls, *word, *verdict, *decision, *wait_cause;
  int status, attempt;
  int hedge;                  /* a hedge: a copy of an attempt in flight */
  double duration, wait;
};
void report_attempt(struct report *r, const struct report_attempt_in *a);
/* Gives attempt `attempt` of call `call` (its last of that number) the
 * verdict and decision given: a call's error went to its wrapper. */
void report_attempt_relabel(struct report *r, unsigned call, int attempt,
                            const char *verdict, const char *decision);

/* Call `call` finished, with outcome "ok", "gave_up" (for reason: NULL
 * unless it gave up, inside a wrapper or not),
 * "unexpected" (its expect= raised on the response) or "to_wrapper" (its
 * error went to its policy(fn) wrapper: one of the wrapper's attempts),
 * under the policy named policy (NULL: it has no name). */
void report_call(struct report *r, unsigned call, const char *outcome,
                 const char *reason, double duration, const char *policy);

/* Writes the report in format "junit", "tap" or "json" to path ("-":
 * stdout). suite: the run's name (the script's). now: monotonic, for
 * steps and tasks that never ended. Returns 0, or -1 with the reason in
 * err. */
int report_write(struct report *r, const char *format, const char *path,
                 const char *suite, double now, char *err, size_t errlen);

/* 1 when spec reads FORMAT=FILE with a known format; else 0, with the
 * reason in err. */
int report_spec_ok(const char *spec, char *err, size_t errlen);

#endif
