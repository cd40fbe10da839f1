/*
 * report_format.c - the JUnit XML and TAP reports (see report.h), from
 * the test cases report.c makes.
 *
 * JUnit: <testsuites> holding one <testsuite> for the run, a <testcase>
 * per case; a failed case has a <failure message= type=>, a flaky one
 * passes and says so in its status attribute (status="flaky"; the others
 * "passed" or "failed") and in <system-out>, where every case lists its
 * calls' attempts. Its name and classname stay those of a passing run, so
 * a CI server's history of the case is not broken by a flaky run. The elements and attributes are those of the JUnit schema
 * that Jenkins and GitLab read (spec/support/junit.xsd).
 *
 * TAP version 13: "ok N - name", "ok N - name # flaky: K retries",
 * "not ok N - name", each followed by a YAML block with the error and
 * the calls. Strings in YAML are written as JSON strings, which YAML
 * reads as double-quoted scalars.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "report_internal.h"

/* Appends s with &, <, >, " and newlines escaped, for XML text and
 * attributes (s is clean: report.c made it). */
static void xml(struct dynbuf *b, const char *s, int attr)
{
  for(; *s; s++) {
    switch(*s) {
    case '&': dynbuf_printf(b, "&amp;"); break;
    case '<': dynbuf_printf(b, "&lt;"); break;
    case '>': dynbuf_printf(b, "&gt;"); break;
    case '"': dynbuf_printf(b, attr ? "&quot;" : "\""); break;
    case '\n': dynbuf_printf(b, attr ? "&#10;" : "\n"); break;
    case '\t': dynbuf_printf(b, attr ? "&#9;" : "\t"); break;
    default: dynbuf_add(b, s, 1); break;
    }
  }
}

/* A call in words: "GET http://h/items: ok after 2 attempts, 0.034 s". */
static void call_line(struct dynbuf *t, const struct rep_call *k)
{
  dynbuf_printf(t, "%s%s%s%s: ", k->what, k->policy ? " [policy " : "",
                k->policy ? k->policy : "", k->policy ? "]" : "");
  if(!k->done)
    dynbuf_printf(t, "unfinished after %zu attempt%s", k->n,
                  k->n == 1 ? "" : "s");
  else
    dynbuf_printf(t, "%s after %zu attempt%s%s%s, %.3f s",
                  k->ok ? "ok" : !strcmp(k->outcome, "unexpected") ?
                  "not as expected" : !strcmp(k->outcome, "to_wrapper") ?
                  "left to its wrapper" : "gave up", k->n,
                  k->n == 1 ? "" : "s", k->reason[0] ? ": " : "", k->reason,
                  k->duration);
}

/* An attempt in words: "attempt 1: 503, 12 ms, retry in 0.42 s: 503". */
static void attempt_line(struct dynbuf *t, const struct rep_attempt *a)
{
  dynbuf_printf(t, "attempt %d: %s, %d ms, %s", a->attempt, a->word,
                (int)(a->duration * 1000 + 0.5), a->decision);
}

/* The history of c as plain text, a line each, into t. */
static void history(struct dynbuf *t, const struct rep_case *c)
{
  const struct rep_call *k;
  size_t j;
  if(c->status == CASE_FLAKY)
    dynbuf_printf(t, "flaky: passed after %ld retr%s\n", c->retries,
                  c->retries == 1 ? "y" : "ies");
  for(k = c->first; k; k = k->next) {
    call_line(t, k);
    dynbuf_printf(t, " (call %u, task %u)\n", k->id, k->task);
    for(j = 0; j < k->n; j++) {
      dynbuf_printf(t, "  ");
      attempt_line(t, &k->att[j]);
      dynbuf_printf(t, "\n");
    }
  }
}

void rep_junit(struct dynbuf *b, const struct report *r,
               const struct rep_case *cs, size_t n, const char *suite,
               double duration)
{
  size_t i, failures = 0, flaky = 0, len = strlen(suite);
  char stamp[32], buf[32], classname[256];
  time_t t = (time_t)r->started;
  struct tm tm;
  /* CI servers read a classname's last dot as package.class: "flow", not
   * "flow.lua" */
  if(len > 4 && !strcmp(suite + len - 4, ".lua"))
    len -= 4;
  snprintf(classname, sizeof(classname), "%.*s", (int)len, suite);
  gmtime_r(&t, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  for(i = 0; i < n; i++) {
    failures += cs[i].status == CASE_FAILED;
    flaky += cs[i].status == CASE_FLAKY;
  }
  dynbuf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<testsuites name=\"");
  xml(b, suite, 1);
  dynbuf_printf(b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                "time=\"%.3f\">\n  <testsuite name=\"", n, failures,
                duration);
  xml(b, suite, 1);
  dynbuf_printf(b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                "skipped=\"0\" time=\"%.3f\" timestamp=\"%s\">\n"
                "    <properties>\n"
                "      <property name=\"flaky\" value=\"%zu\"/>\n"
                "      <property name=\"records_lost\" value=\"%s\"/>\n"
                "    </properties>\n", n, failures, duration, stamp, flaky,
                r->oom ? "true" : "false");
  for(i = 0; i < n; i++) {
    const struct rep_case *c = &cs[i];
    struct dynbuf h = {NULL, 0, 0, 0};
    dynbuf_printf(b, "    <testcase name=\"");
    xml(b, rep_case_name(c, buf, sizeof(buf)), 1);
    dynbuf_printf(b, "\" classname=\"");
    xml(b, classname, 1);
    dynbuf_printf(b, "\" time=\"%.3f\" status=\"%s\">\n", c->duration,
                  c->status == CASE_FLAKY ? "flaky" : c->status == CASE_FAILED ?
                  "failed" : "passed");
    history(&h, c);
    b->oom |= h.oom;
    if(c->status == CASE_FAILED) {
      dynbuf_printf(b, "      <failure message=\"");
      xml(b, c->err, 1);
      dynbuf_printf(b, "\" type=\"%s\">", c->type);
      xml(b, c->err, 0);
      dynbuf_printf(b, "</failure>\n");
    }
    if(h.data) {
      dynbuf_printf(b, "      <system-out>");
      xml(b, h.data, 0);
      dynbuf_printf(b, "</system-out>\n");
    }
    dynbuf_free(&h);
    dynbuf_printf(b, "    </testcase>\n");
  }
  dynbuf_printf(b, "  </testsuite>\n</testsuites>\n");
}

/* Appends name for a TAP test line: '#' escaped, as TAP 13 asks, so that
 * it starts no directive; a newline read as a space. */
static void tap_name(struct dynbuf *b, const char *s)
{
  for(; *s; s++) {
    if(*s == '#' || *s == '\\')
      dynbuf_printf(b, "\\%c", *s);
    else
      dynbuf_add(b, *s == '\n' || *s == '\t' ? " " : s, 1);
  }
}

void rep_tap(struct dynbuf *b, const struct rep_case *cs, size_t n)
{
  size_t i, j;
  char buf[32];
  static const char *const status[] = {"passed", "flaky", "failed"};
  dynbuf_printf(b, "TAP version 13\n1..%zu\n", n);
  for(i = 0; i < n; i++) {
    const struct rep_case *c = &cs[i];
    const struct rep_call *k;
    dynbuf_printf(b, "%s %zu - ", c->status == CASE_FAILED ? "not ok" : "ok",
                  i + 1);
    tap_name(b, rep_case_name(c, buf, sizeof(buf)));
    if(c->status == CASE_FLAKY)
      dynbuf_printf(b, " # flaky: %ld retr%s", c->retries,
                    c->retries == 1 ? "y" : "ies");
    dynbuf_printf(b, "\n  ---\n  status: %s\n  duration_ms: %.1f\n",
                  status[c->status], c->duration * 1000);
    if(c->err) {
      dynbuf_printf(b, "  type: %s\n  message: ", c->type);
      dynbuf_json_string(b, c->err);
      dynbuf_printf(b, "\n");
    }
    if(c->first)
      dynbuf_printf(b, "  calls:\n");
    for(k = c->first; k; k = k->next) {
      struct dynbuf t = {NULL, 0, 0, 0};
      call_line(&t, k);
      dynbuf_printf(b, "    - call: ");
      dynbuf_json_string(b, t.data ? t.data : "");
      dynbuf_printf(b, "\n      attempts:\n");
      for(j = 0; j < k->n; j++) {
        dynbuf_free(&t);
        attempt_line(&t, &k->att[j]);
        dynbuf_printf(b, "        - ");
        dynbuf_json_string(b, t.data ? t.data : "");
        dynbuf_printf(b, "\n");
      }
      b->oom |= t.oom;
      dynbuf_free(&t);
    }
    dynbuf_printf(b, "  ...\n");
  }
}
