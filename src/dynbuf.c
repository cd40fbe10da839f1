/*
 * dynbuf.c - a growing byte buffer (see dynbuf.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"

/* Makes room for n more bytes and the NUL. */
static int room(struct dynbuf *b, size_t n)
{
  size_t cap;
  char *d;
  if(b->oom)
    return -1;
  if(b->len + n + 1 <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 1024;
  while(cap < b->len + n + 1)
    cap *= 2;
  d = realloc(b->data, cap);
  if(!d) {
    b->oom = 1;
    return -1;
  }
  b->data = d;
  b->cap = cap;
  return 0;
}

int dynbuf_add_grow(struct dynbuf *b, const void *p, size_t n)
{
  if(room(b, n))
    return -1;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int dynbuf_printf(struct dynbuf *b, const char *fmt, ...)
{
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if(n < 0) {
    b->oom = 1;
    return -1;
  }
  if(room(b, (size_t)n))
    return -1;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

void dynbuf_free(struct dynbuf *b)
{
  free(b->data);
  memset(b, 0, sizeof(*b));
}

void dynbuf_json_string(struct dynbuf *b, const char *s)
{
  dynbuf_add(b, "\"", 1);
  for(; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if(c == '"' || c == '\\')
      dynbuf_printf(b, "\\%c", c);
    else if(c < 0x20)
      dynbuf_printf(b, "\\u%04x", c);
    else
      dynbuf_add(b, s, 1);
  }
  dynbuf_add(b, "\"", 1);
}
