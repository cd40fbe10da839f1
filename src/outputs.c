/*
 * outputs.c - the files a run writes at its end besides its log: the
 * summary (--summary, --summary-json) and the reports (--report), and the
 * check, before the run, that they can be written (see outputs.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outputs.h"
#include "loop.h"
#include "report.h"
#include "summary.h"

/* The summary, on stderr as text and into json_file as JSON, as
 * asked. Returns 0, or -1 when the JSON could not be written. */
int outputs_summary(const char *json_file, const struct summary *s,
                    int text)
{
  char *out;
  int code = 0;
  if(text && s->n && (out = summary_text(s)) != NULL) {
    fputs(out, stderr);
    free(out);
  }
  if(json_file) {
    int std = !strcmp(json_file, "-");       /* - is stdout */
    FILE *f = std ? stdout : fopen(json_file, "w");
    out = summary_json(s);
    if(!f || !out || fputs(out, f) == EOF || fputc('\n', f) == EOF) {
      fprintf(stderr, "retryrun: cannot write the summary '%s': %s\n",
              json_file, out ? strerror(errno) : "out of memory");
      code = -1;
    }
    if(std && fflush(f) && !code) {
      fprintf(stderr, "retryrun: cannot write the summary '-': %s\n",
              strerror(errno));
      code = -1;
    }
    else if(f && !std && fclose(f) && !code) {
      fprintf(stderr, "retryrun: cannot write the summary '%s': %s\n",
              json_file, strerror(errno));
      code = -1;
    }
    free(out);
  }
  return code;
}

/* Writes each --report; what was done so far, however the run ended.
 * Returns 0, or -1 when one could not be written (the others
 * still are). */
int outputs_reports(const char *const *report, int nreport,
                    const char *script, struct report *r)
{
  const char *name = !script ? "command line" :
                     strcmp(script, "-") ? script : "stdin";
  const char *slash = strrchr(name, '/');
  int i, code = 0;
  for(i = 0; i < nreport; i++) {
    char format[8], err[256];
    const char *eq = strchr(report[i], '=');
    snprintf(format, sizeof(format), "%.*s", (int)(eq - report[i]),
             report[i]);
    if(report_write(r, format, eq + 1, slash ? slash + 1 : name, loop_now(),
                    err, sizeof(err))) {
      fprintf(stderr, "retryrun: cannot write the %s report '%s': %s\n",
              format, eq + 1, err);
      code = -1;
    }
  }
  return code;
}

/* 0 when file ("-" is stdout) can be written, or made in its directory,
 * else -1 with errno set: checked before the run, so that a report or
 * summary that could never be written does not wait for the end of a
 * long run. */
static int can_write(const char *file)
{
  char dir[4096];
  const char *slash = strrchr(file, '/');
  if(!strcmp(file, "-"))
    return 0;
  if(!access(file, F_OK))
    return access(file, W_OK);     /* there: written over in place */
  if(!slash)
    return access(".", W_OK | X_OK);
  if((size_t)(slash - file) >= sizeof(dir))
    return 0;                      /* let the write at the end say why */
  snprintf(dir, sizeof(dir), "%.*s", slash == file ? 1 : (int)(slash - file),
           file);
  return access(dir, W_OK | X_OK);
}

/* -1, said on stderr, when a --report or --summary-json file
 * cannot be made; else 0. */
int outputs_check(const char *const *report, int nreport,
                  const char *json_file)
{
  int i;
  for(i = 0; i < nreport; i++) {
    const char *eq = strchr(report[i], '=');
    if(can_write(eq + 1)) {
      fprintf(stderr, "retryrun: cannot write the %.*s report '%s': %s\n",
              (int)(eq - report[i]), report[i], eq + 1,
              strerror(errno));
      return -1;
    }
  }
  if(json_file && can_write(json_file)) {
    fprintf(stderr, "retryrun: cannot write the summary '%s': %s\n",
            json_file, strerror(errno));
    return -1;
  }
  return 0;
}
