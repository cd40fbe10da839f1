/*
 * report.c - the records of the CI reports, the test cases made from
 * them, and the JSON report (see report.h; JUnit and TAP are
 * report_format.c's).
 *
 * Calls are found by id through an index, steps and tasks by id
 * directly: ids are handed out in order from 1. A memory failure loses a
 * record (and the report says so), never the run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

/* A copy of s with what no report format may hold written '?': bytes
 * that are not UTF-8 (overlong forms, surrogates and U+FFFE/U+FFFF
 * included) and control characters other than tab and newline. */
static char *clean_copy(const char *s)
{
  size_t i = 0, n = strlen(s);
  unsigned char *o = malloc(n + 1);
  if(!o)
    return NULL;
  memcpy(o, s, n + 1);
  while(i < n) {
    unsigned char c = o[i];
    size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 :
                 c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    size_t k;
    unsigned cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    if(len == 1) {
      if((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
        o[i] = '?';
      i++;
      continue;
    }
    for(k = 1; len && k < len; k++) {
      if(i + k >= n || (o[i + k] & 0xc0) != 0x80)
        len = 0;
      else
        cp = cp << 6 | (o[i + k] & 0x3f);
    }
    if(len && ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff) ||
                            cp == 0xfffe || cp == 0xffff)) ||
               (len == 4 && (cp < 0x10000 || cp > 0x10ffff))))
      len = 0;
    if(!len) {
      o[i++] = '?';
      continue;
    }
    i += len;
  }
  return (char *)o;
}

/* Copies s into the n bytes of dst, cleaned as clean_copy does. */
static void clean_into(char *dst, size_t n, const char *s)
{
  char *c = clean_copy(s ? s : "");
  snprintf(dst, n, "%s", c ? c : "?");
  free(c);
}

/* Grows *p (of *cap elements of size sz) to hold one more than n: first
 * to `first` elements, then twice as many each time. */
static int grow(void **p, size_t *cap, size_t n, size_t sz, size_t first)
{
  size_t c;
  void *np;
  if(n < *cap)
    return 0;
  c = *cap ? *cap * 2 : first;
  np = realloc(*p, c * sz);
  if(!np)
    return -1;
  *p = np;
  *cap = c;
  return 0;
}

struct report *report_new(double started)
{
  struct report *r = calloc(1, sizeof(*r));
  if(r)
    r->started = started;
  return r;
}

void report_free(struct report *r)
{
  size_t i;
  if(!r)
    return;
  for(i = 0; i < r->nsteps; i++) {
    free(r->steps[i].name);
    free(r->steps[i].err);
  }
  for(i = 0; i < r->ntasks; i++)
    free(r->tasks[i].err);
  for(i = 0; i < r->ncalls; i++) {
    free(r->calls[i].what);
    free(r->calls[i].policy);
    free(r->calls[i].att);
  }
  free(r->steps);
  free(r->tasks);
  free(r->calls);
  free(r->index);
  free(r);
}

unsigned report_step_begin(struct report *r, unsigned task, unsigned parent,
                           const char *name, double now)
{
  struct rep_unit *u;
  const char *pname = parent && parent <= r->nsteps ?
                      r->steps[parent - 1].name : NULL;
  size_t nlen = strlen(name), len;
  int cut = nlen > STEP_NAME_MAX;
  char *full;
  if(cut) {
    /* on a character's first byte, room left for "..." */
    nlen = STEP_NAME_MAX - 3;
    while(nlen && ((unsigned char)name[nlen] & 0xc0) == 0x80)
      nlen--;
  }
  if(pname && strlen(pname) + 3 + nlen + 3 * cut > STEP_PATH_MAX)
    pname = "...";
  len = nlen + 3 * cut + (pname ? strlen(pname) + 3 : 0) + 1;
  full = malloc(len);
  if(!full || grow((void **)&r->steps, &r->capsteps, r->nsteps,
                   sizeof(*r->steps), 16)) {
    free(full);
    r->oom = 1;
    return 0;
  }
  snprintf(full, len, "%s%s%.*s%s", pname ? pname : "", pname ? " / " : "",
           (int)nlen, name, cut ? "..." : "");
  u = &r->steps[r->nsteps++];
  memset(u, 0, sizeof(*u));
  u->parent = parent;
  u->task = task;
  u->name = clean_copy(full);
  free(full);
  if(!u->name) {
    r->nsteps--;
    r->oom = 1;
    return 0;
  }
  u->start = now;
  u->begun = 1;
  return (unsigned)r->nsteps;
}

const char *report_step_name(const struct report *r, unsigned id)
{
  return r && id && id <= r->nsteps ? r->steps[id - 1].name : NULL;
}

/* Ends u with err (NULL: returned) of type. */
static void end_unit(struct report *r, struct rep_unit *u, const char *type,
                     const char *err, double now)
{
  u->end = now;
  u->ended = 1;
  if(err) {
    free(u->err);                   /* report_task_fail's, if any */
    u->err = clean_copy(err);
    r->oom |= !u->err;
    snprintf(u->type, sizeof(u->type), "%s", type ? type : "error");
  }
}

unsigned report_step_end(struct report *r, unsigned id, const char *type,
                         const char *err, double now)
{
  if(!id || id > r->nsteps || r->steps[id - 1].ended)
    return 0;
  end_unit(r, &r->steps[id - 1], type, err, now);
  return r->steps[id - 1].parent;
}

/* The record of task id, made when first named; NULL when out of
 * memory. */
static struct rep_unit *task_unit(struct report *r, unsigned id)
{
  if(!id)
    return NULL;
  if(id > r->ntasks) {
    size_t n = id > 2 * r->ntasks ? id + 63 : 2 * r->ntasks;
    struct rep_unit *t = realloc(r->tasks, n * sizeof(*t));
    if(!t) {
      r->oom = 1;
      return NULL;
    }
    memset(t + r->ntasks, 0, (n - r->ntasks) * sizeof(*t));
    r->tasks = t;
    r->ntasks = n;
  }
  r->tasks[id - 1].task = id;
  return &r->tasks[id - 1];
}

void report_task_begin(struct report *r, unsigned task, double now)
{
  struct rep_unit *t = task_unit(r, task);
  if(t) {
    t->start = now;
    t->begun = 1;
  }
}

void report_task_end(struct report *r, unsigned task, const char *type,
                     const char *err, double now)
{
  struct rep_unit *t = task_unit(r, task);
  if(t && !t->ended)
    end_unit(r, t, type, err, now);
}

void report_task_fail(struct report *r, unsigned task, const char *type,
                      const char *err)
{
  struct rep_unit *t = task_unit(r, task);
  if(t && !t->ended && !t->err) {
    t->err = clean_copy(err);
    r->oom |= !t->err;
    snprintf(t->type, sizeof(t->type), "%s", type);
  }
}

/* The record of call id, made at its first attempt from a; NULL when out
 * of memory. */
static struct rep_call *call_of(struct report *r,
                                const struct report_attempt_in *a)
{
  struct rep_call *c;
  unsigned id = a->call;
  if(!id)
    return NULL;
  if(id <= r->nindex && r->index[id - 1])
    return &r->calls[r->index[id - 1] - 1];
  if(id > r->nindex) {
    size_t n = id > 2 * r->nindex ? id + 1023 : 2 * r->nindex;
    size_t *ix = realloc(r->index, n * sizeof(*ix));
    if(!ix)
      return NULL;
    memset(ix + r->nindex, 0, (n - r->nindex) * sizeof(*ix));
    r->index = ix;
    r->nindex = n;
  }
  if(grow((void **)&r->calls, &r->capcalls, r->ncalls, sizeof(*r->calls),
          16))
    return NULL;
  c = &r->calls[r->ncalls];
  memset(c, 0, sizeof(*c));
  if(!(c->what = clean_copy(a->what)))
    return NULL;
  c->id = id;
  c->task = a->task;
  c->step = a->step;
  snprintf(c->method, sizeof(c->method), "%s", a->method ? a->method : "");
  r->index[id - 1] = ++r->ncalls;
  return c;
}

void report_attempt(struct report *r, const struct report_attempt_in *a)
{
  struct rep_call *c = call_of(r, a);
  struct rep_attempt *t;
  if(!c || grow((void **)&c->att, &c->cap, c->n, sizeof(*c->att), 1)) {
    r->oom = 1;
    return;
  }
  t = &c->att[c->n++];
  memset(t, 0, sizeof(*t));
  t->attempt = a->attempt;
  t->hedge = a->hedge;
  t->status = a->status;
  t->duration = a->duration;
  t->wait = a->wait;
  clean_into(t->cls, sizeof(t->cls), a->cls);
  clean_into(t->word, sizeof(t->word), a->word);
  clean_into(t->verdict, sizeof(t->verdict), a->verdict);
  clean_into(t->decision, sizeof(t->decision), a->decision);
  clean_into(t->wait_cause, sizeof(t->wait_cause), a->wait_cause);
}

void report_attempt_relabel(struct report *r, unsigned call, int attempt,
                            const char *verdict, const char *decision)
{
  struct rep_call *c;
  size_t i;
  if(!call || call > r->nindex || !r->index[call - 1])
    return;
  c = &r->calls[r->index[call - 1] - 1];
  for(i = c->n; i-- > 0; )
    if(c->att[i].attempt == attempt) {
      clean_into(c->att[i].verdict, sizeof(c->att[i].verdict), verdict);
      clean_into(c->att[i].decision, sizeof(c->att[i].decision), decision);
      return;
    }
}

void report_call(struct report *r, unsigned call, const char *outcome,
                 const char *reason, double duration, const char *policy)
{
  struct rep_call *c;
  if(!call || call > r->nindex || !r->index[call - 1])
    return;                         /* it made no attempt */
  c = &r->calls[r->index[call - 1] - 1];
  c->done = 1;
  c->ok = !strcmp(outcome, "ok");
  clean_into(c->outcome, sizeof(c->outcome), outcome);
  c->duration = duration;
  clean_into(c->reason, sizeof(c->reason), reason ? reason : "");
  if(policy && !c->policy)
    r->oom |= !(c->policy = clean_copy(policy));
}

const char *rep_case_name(const struct rep_case *c, char *buf, size_t n)
{
  if(!c->is_task)
    return c->u->name;
  snprintf(buf, n, "task %u", c->id);
  return buf;
}

static int by_start(const void *a, const void *b)
{
  const struct rep_case *x = a, *y = b;
  if(x->u->start != y->u->start)
    return x->u->start < y->u->start ? -1 : 1;
  if(x->is_task != y->is_task)
    return x->is_task ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* The test cases of r, in the order they began, into a malloc'd array
 * (*n of them); NULL when out of memory. With steps: one per step, and
 * one per task whose calls were made outside any step, or whose error
 * no step of it reported; without: one per task that made a call or
 * failed. Their calls are linked through next. */
static struct rep_case *make_cases(struct report *r, size_t *n, double now)
{
  size_t i, k = 0, *of_step, *of_task;
  int *step_failed;
  struct rep_case *cs = calloc(r->nsteps + r->ntasks + 1, sizeof(*cs));
  of_step = calloc(r->nsteps + 1, sizeof(*of_step));
  of_task = calloc(r->ntasks + 1, sizeof(*of_task));
  step_failed = calloc(r->ntasks + 1, sizeof(*step_failed));
  if(!cs || !of_step || !of_task || !step_failed) {
    free(cs);
    cs = NULL;
    goto out;
  }
  for(i = 0; i < r->nsteps; i++) {
    struct rep_unit *u = &r->steps[i];
    if(!u->ended)
      end_unit(r, u, "error", "did not finish", now);
    if(u->err && u->task && u->task <= r->ntasks)
      step_failed[u->task - 1] = 1;
    cs[k].u = u;
    cs[k].id = (unsigned)i + 1;
    of_step[i] = ++k;
  }
  for(i = 0; i < r->ncalls; i++) {
    struct rep_call *c = &r->calls[i];
    if(r->nsteps && c->step)
      continue;
    if(c->task && c->task <= r->ntasks)
      of_task[c->task - 1] = 1;        /* a case to make */
  }
  for(i = 0; i < r->ntasks; i++) {
    struct rep_unit *t = &r->tasks[i];
    if(!t->begun)
      continue;
    if(!t->ended)
      end_unit(r, t, "error", "did not finish", now);
    if(!of_task[i] && !(t->err && !step_failed[i]))
      continue;
    cs[k].u = t;
    cs[k].id = (unsigned)i + 1;
    cs[k].is_task = 1;
    of_task[i] = ++k;
  }
  /* calls in reverse, so that each list is in order */
  for(i = r->ncalls; i-- > 0;) {
    struct rep_call *c = &r->calls[i];
    size_t at = r->nsteps && c->step ? of_step[c->step - 1] :
                c->task && c->task <= r->ntasks ? of_task[c->task - 1] : 0;
    unsigned s;
    long retries = (long)c->n - 1;
    size_t j;
    if(!at)
      continue;
    c->next = cs[at - 1].first;
    cs[at - 1].first = c;
    for(j = 0; j < c->n; j++)
      retries -= c->att[j].hedge;     /* a copy in flight is no retry */
    if(retries <= 0)
      continue;
    cs[at - 1].retries += retries;
    for(s = cs[at - 1].is_task ? 0 : c->step; s; s = r->steps[s - 1].parent)
      if(s != c->step)
        cs[of_step[s - 1] - 1].retries += retries;
  }
  for(i = 0; i < k; i++) {
    /* a task's error that one of its steps reported is that step's */
    if(cs[i].u->err && !(cs[i].is_task && step_failed[cs[i].id - 1])) {
      cs[i].err = cs[i].u->err;
      cs[i].type = cs[i].u->type;
    }
    cs[i].status = cs[i].err ? CASE_FAILED : cs[i].retries ? CASE_FLAKY :
                   CASE_PASSED;
    cs[i].duration = cs[i].u->end - cs[i].u->start;
  }
  qsort(cs, k, sizeof(*cs), by_start);
  *n = k;
out:
  free(of_step);
  free(of_task);
  free(step_failed);
  return cs;
}

static const char *const status_names[] = {"passed", "flaky", "failed"};

static void json_report(struct dynbuf *b, const struct report *r,
                        const struct rep_case *cs, size_t n,
                        const char *suite, double duration)
{
  size_t i, j, counts[3] = {0, 0, 0};
  char buf[32];
  for(i = 0; i < n; i++)
    counts[cs[i].status]++;
  dynbuf_printf(b, "{\"v\":1,\"name\":");
  dynbuf_json_string(b, suite);
  dynbuf_printf(b, ",\"started\":%.6f,\"duration\":%.6f,\"tests\":%zu,"
                "\"passed\":%zu,\"flaky\":%zu,\"failed\":%zu,\"cases\":[",
                r->started, duration, n, counts[0], counts[1], counts[2]);
  for(i = 0; i < n; i++) {
    const struct rep_case *c = &cs[i];
    const struct rep_call *k;
    dynbuf_printf(b, "%s{\"name\":", i ? "," : "");
    dynbuf_json_string(b, rep_case_name(c, buf, sizeof(buf)));
    if(c->is_task)
      dynbuf_printf(b, ",\"kind\":\"task\",\"task\":%u", c->id);
    else {
      dynbuf_printf(b, ",\"kind\":\"step\",\"step\":%u,\"task\":%u", c->id,
                    c->u->task);
      if(c->u->parent)
        dynbuf_printf(b, ",\"parent\":%u", c->u->parent);
    }
    dynbuf_printf(b, ",\"status\":\"%s\",\"retries\":%ld,\"duration\":%.6f",
                  status_names[c->status], c->retries, c->duration);
    if(c->err) {
      dynbuf_printf(b, ",\"error\":{\"type\":\"%s\",\"message\":",
                    c->type);
      dynbuf_json_string(b, c->err);
      dynbuf_printf(b, "}");
    }
    dynbuf_printf(b, ",\"calls\":[");
    for(k = c->first; k; k = k->next) {
      dynbuf_printf(b, "{\"call\":%u,\"task\":%u,", k->id, k->task);
      if(k->method[0]) {
        dynbuf_printf(b, "\"method\":");
        dynbuf_json_string(b, k->method);
        dynbuf_printf(b, ",");
      }
      dynbuf_printf(b, "\"request\":");
      dynbuf_json_string(b, k->what);
      if(k->policy) {
        dynbuf_printf(b, ",\"policy\":");
        dynbuf_json_string(b, k->policy);
      }
      dynbuf_printf(b, ",\"outcome\":\"%s\"", !k->done ? "unfinished" :
                    k->outcome);
      if(k->done && k->reason[0])
        dynbuf_printf(b, ",\"reason\":\"%s\"", k->reason);
      dynbuf_printf(b, ",\"attempts\":%zu,\"duration\":%.6f,\"history\":[",
                    k->n, k->duration);
      for(j = 0; j < k->n; j++) {
        const struct rep_attempt *a = &k->att[j];
        dynbuf_printf(b, "%s{\"attempt\":%d", j ? "," : "", a->attempt);
        if(a->hedge)
          dynbuf_printf(b, ",\"hedge\":true");
        if(a->cls[0])
          dynbuf_printf(b, ",\"error\":\"%s\"", a->cls);
        else if(a->status)
          dynbuf_printf(b, ",\"status\":%d", a->status);
        dynbuf_printf(b, ",\"duration\":%.6f,\"decision\":\"%s\"",
                      a->duration, a->verdict);
        if(a->wait_cause[0])
          dynbuf_printf(b, ",\"wait\":%.6f,\"wait_cause\":\"%s\"", a->wait,
                        a->wait_cause);
        dynbuf_printf(b, ",\"detail\":");
        dynbuf_json_string(b, a->decision);
        dynbuf_printf(b, "}");
      }
      dynbuf_printf(b, "]}%s", k->next ? "," : "");
    }
    dynbuf_printf(b, "]}");
  }
  dynbuf_printf(b, "],\"records_lost\":%s}\n", r->oom ? "true" : "false");
}

int report_spec_ok(const char *spec, char *err, size_t errlen)
{
  const char *eq = strchr(spec, '=');
  size_t n = eq ? (size_t)(eq - spec) : 0;
  if(!eq || !eq[1]) {
    snprintf(err, errlen, "--report takes FORMAT=FILE (junit=, tap= or "
             "json=), not '%s'", spec);
    return 0;
  }
  if((n == 5 && !strncmp(spec, "junit", 5)) ||
     (n == 3 && !strncmp(spec, "tap", 3)) ||
     (n == 4 && !strncmp(spec, "json", 4)))
    return 1;
  snprintf(err, errlen, "--report: unknown format '%.*s' (known: junit, "
           "tap, json)", (int)n, spec);
  return 0;
}

int report_write(struct report *r, const char *format, const char *path,
                 const char *suite, double now, char *err, size_t errlen)
{
  struct dynbuf b = {NULL, 0, 0, 0};
  size_t n = 0;
  struct rep_case *cs = make_cases(r, &n, now);
  double duration = 0;
  FILE *f;
  int ok;
  size_t i;
  for(i = 0; i < r->ntasks; i++)
    if(r->tasks[i].begun && r->tasks[i].end - r->tasks[i].start > duration)
      duration = r->tasks[i].end - r->tasks[i].start;
  if(cs && !strcmp(format, "junit"))
    rep_junit(&b, r, cs, n, suite, duration);
  else if(cs && !strcmp(format, "tap"))
    rep_tap(&b, cs, n);
  else if(cs)
    json_report(&b, r, cs, n, suite, duration);
  free(cs);
  if(!cs || b.oom || !b.data) {
    dynbuf_free(&b);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  f = strcmp(path, "-") ? fopen(path, "w") : stdout;
  ok = f && fwrite(b.data, 1, b.len, f) == b.len;
  if(f && f != stdout)
    ok = !fclose(f) && ok;
  else if(f)
    ok = !fflush(f) && ok;
  if(!ok)
    snprintf(err, errlen, "%s", strerror(errno ? errno : EIO));
  dynbuf_free(&b);
  return ok ? 0 : -1;
}
