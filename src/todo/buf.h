/* buf: growable byte buffers with a hard cap, for todo-server's response
 * bodies and request bodies, and JSON string escaping into them.
 * Uses only the C library; knows nothing of HTTP, JSON parsing, threads or
 * the store. A buffer owns its bytes until buf_take() hands them over.
 *
 * Errors are sticky: after the first failed append every later append is a
 * no-op and buf.err keeps the first error, so a writer can append a whole
 * document and check once at the end. */
#ifndef TODO_BUF_H
#define TODO_BUF_H

#include <stddef.h>

enum buf_result {
  BUF_OK = 0,
  BUF_NOMEM,   /* malloc or realloc failed */
  BUF_TOO_BIG  /* the append would pass buf.max */
};

struct buf {
  char *data;          /* NUL-terminated when not NULL */
  size_t len;
  size_t cap;
  size_t max;          /* most bytes the buffer may ever hold */
  enum buf_result err; /* first error, sticky */
};

/* An empty buffer that will refuse to grow past max bytes. */
void buf_init(struct buf *b, size_t max);

enum buf_result buf_add(struct buf *b, const void *p, size_t n);
enum buf_result buf_adds(struct buf *b, const char *s);
/* Appends a decimal unsigned number. */
enum buf_result buf_addu(struct buf *b, unsigned long long v);
/* Appends s[0..n) as a quoted JSON string, escaping quotes, backslashes and
 * control characters; other bytes (valid UTF-8 expected) pass unchanged. */
enum buf_result buf_add_jstr(struct buf *b, const char *s, size_t n);

/* Hands the bytes to the caller (free() them; never NULL on success: an
 * empty buffer yields an empty malloc'd string) and leaves b empty.
 * Returns NULL when b holds an error or memory ran out. */
char *buf_take(struct buf *b, size_t *len);

/* Frees the bytes; b may be reused after buf_init(). Safe to call twice. */
void buf_free(struct buf *b);

#endif
