/*
 * outputs.h - the files a run writes at its end besides its log: the
 * summary (--summary, --summary-json) and the reports (--report), and the
 * check, before the run, that they can be written. Each says on stderr
 * what it could not write and returns -1; 0 when all went well.
 */
#ifndef RETRYRUN_OUTPUTS_H
#define RETRYRUN_OUTPUTS_H

#include "report.h"
#include "summary.h"

/* Before the run: can each --report FORMAT=FILE (checked) and the
 * --summary-json file (or NULL) be made? "-" is stdout. */
int outputs_check(const char *const *report, int nreport,
                  const char *json_file);

/* The summary, on stderr as text when text is set, and into json_file
 * (or NULL) as JSON. */
int outputs_summary(const char *json_file, const struct summary *s,
                    int text);

/* Each report, named after the script (path, "-" for stdin, or NULL for
 * code given on the command line): what was done so far, however the run
 * ended; one that fails does not stop the others. */
int outputs_reports(const char *const *report, int nreport,
                    const char *script, struct report *r);

#endif
