/*
 * report_internal.h - the records of report.c, and the test cases made
 * from them, for the two files that write reports: report.c (the records,
 * the cases, JSON) and report_format.c (JUnit XML and TAP).
 */
#ifndef RETRYRUN_REPORT_INTERNAL_H
#define RETRYRUN_REPORT_INTERNAL_H

#include "dynbuf.h"
#include "report.h"

struct rep_attempt {
  int attempt, status;
  int hedge;                 /* a copy sent while another was in flight */
  double duration, wait;
  char cls[24], word[48], verdict[12], decision[160], wait_cause[12];
};

struct rep_call {
  unsigned id, task, step;
  char method[16];
  char *what;                /* owned */
  char *policy;              /* its policy's name, owned; NULL: none */
  struct rep_attempt *att;   /* owned, n of them */
  size_t n, cap;
  int done, ok;
  char outcome[12];          /* "ok", "gave_up", "unexpected", "to_wrapper" */
  char reason[24];
  double duration;
  struct rep_call *next;     /* the next call of the same case, while
                                a report is written */
};

/* A step, or a task's own part (its calls outside any step). */
struct rep_unit {
  unsigned parent, task;     /* parent: a step id, 0 for none */
  char *name;                /* owned; NULL for a task */
  double start, end;
  int begun, ended;
  char *err;                 /* owned; NULL when it returned */
  char type[12];
};

struct report {
  double started;            /* Unix time */
  struct rep_unit *steps;    /* step id i is steps[i - 1] */
  size_t nsteps, capsteps;
  struct rep_unit *tasks;    /* task id i is tasks[i - 1] */
  size_t ntasks;
  struct rep_call *calls;    /* in the order of their first attempts */
  size_t ncalls, capcalls;
  size_t *index;             /* call id i is calls[index[i - 1] - 1] */
  size_t nindex;
  int oom;                   /* a record was lost to memory */
};

enum { CASE_PASSED, CASE_FLAKY, CASE_FAILED };

struct rep_case {
  const struct rep_unit *u;
  unsigned id;               /* the step's or task's id */
  int is_task;
  int status;
  const char *err, *type;    /* when it failed: why (else NULL) */
  long retries;              /* in its calls and its steps' calls */
  double duration;
  struct rep_call *first;    /* its calls, through next */
};

/* The name of a case: the step's path, or "task N" into buf. */
const char *rep_case_name(const struct rep_case *c, char *buf, size_t n);

/* JUnit XML and TAP, into b. */
void rep_junit(struct dynbuf *b, const struct report *r,
               const struct rep_case *cases, size_t n, const char *suite,
               double duration);
void rep_tap(struct dynbuf *b, const struct rep_case *cases, size_t n);

#endif
