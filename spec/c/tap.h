/*
 * tap.h - the smallest TAP producer, for the C unit tests in spec/c/.
 * CHECK(cond, name...) prints "ok N - name" or "not ok N - name"; tap_done()
 * prints the plan and returns the exit status. One translation unit only.
 */
#ifndef RETRYRUN_TAP_H
#define RETRYRUN_TAP_H
#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

static void tap_check(int ok, const char *file, int line, const char *fmt, ...)
{
  va_list ap;
  printf("%sok %d - ", ok ? "" : "not ", ++tap_n);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  if(!ok) {
    printf(" (%s:%d)", file, line);
    tap_failed++;
  }
  putchar('\n');
}

#define CHECK(cond, ...) tap_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static int tap_done(void)
{
  printf("1..%d\n", tap_n);
  return tap_failed ? 1 : 0;
}
#endif
