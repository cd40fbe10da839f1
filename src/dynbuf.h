/*
 * dynbuf.h - a growing byte buffer, kept NUL-terminated: a response body
 * (transfer.c), a redacted message (redact.c), the summary (summary.c).
 * Pure C; a memory failure is sticky (oom), so a writer may append a whole
 * text and check once.
 */
#ifndef RETRYRUN_DYNBUF_H
#define RETRYRUN_DYNBUF_H

#include <stddef.h>
#include <string.h>

struct dynbuf {
  char *data;                /* NULL until the first append */
  size_t len, cap;
  int oom;                   /* an append failed: later ones do nothing */
};

/* dynbuf_add when the bytes do not fit, or an append failed (dynbuf.c). */
int dynbuf_add_grow(struct dynbuf *b, const void *p, size_t n);

/* Appends n bytes of p. Returns 0, or -1 when memory ran out (now or
 * before). Inline, for the writers that append per callback (a body,
 * header lines): an append that fits is a copy. */
static inline int dynbuf_add(struct dynbuf *b, const void *p, size_t n)
{
  if(b->oom || b->len + n + 1 > b->cap)
    return dynbuf_add_grow(b, p, n);
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

/* Appends as printf would. Returns 0, or -1 as dynbuf_add. */
int dynbuf_printf(struct dynbuf *b, const char *fmt, ...);

/* Frees the bytes; b is empty after, and may be appended to again. */
void dynbuf_free(struct dynbuf *b);

/* Appends s as a JSON string: quoted, '"' and '\\' escaped, control
 * characters as \u00XX; other bytes as they are. */
void dynbuf_json_string(struct dynbuf *b, const char *s);

#endif
