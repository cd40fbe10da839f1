/* buf: capped growable buffers and JSON string escaping for todo-server.
 * Touches only its own memory; see buf.h for the sticky-error contract. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
  b->err = BUF_OK;
}

/* Makes room for n more bytes plus the terminating NUL. */
static enum buf_result buf_reserve(struct buf *b, size_t n)
{
  if(b->err)
    return b->err;
  if(n > b->max || b->len > b->max - n) {
    b->err = BUF_TOO_BIG;
    return b->err;
  }
  size_t need = b->len + n + 1;
  if(need <= b->cap)
    return BUF_OK;
  size_t cap = b->cap ? b->cap : 256;
  while(cap < need)
    cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
  char *p = realloc(b->data, cap);
  if(!p) {
    b->err = BUF_NOMEM;
    return b->err;
  }
  b->data = p;
  b->cap = cap;
  return BUF_OK;
}

enum buf_result buf_add(struct buf *b, const void *p, size_t n)
{
  if(buf_reserve(b, n))
    return b->err;
  if(n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return BUF_OK;
}

enum buf_result buf_adds(struct buf *b, const char *s)
{
  return buf_add(b, s, strlen(s));
}

enum buf_result buf_addu(struct buf *b, unsigned long long v)
{
  char tmp[32];
  int n = snprintf(tmp, sizeof(tmp), "%llu", v);
  return buf_add(b, tmp, (size_t)n);
}

enum buf_result buf_add_jstr(struct buf *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  if(buf_add(b, "\"", 1))
    return b->err;
  size_t run = 0; /* start of the bytes not yet copied */
  for(size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[7];
    size_t elen = 0;
    if(c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      elen = 2;
    }
    else if(c < 0x20) {
      esc[0] = '\\';
      elen = 2;
      switch(c) {
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      default:
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        elen = 6;
      }
    }
    if(elen) {
      buf_add(b, s + run, i - run);
      buf_add(b, esc, elen);
      run = i + 1;
    }
  }
  buf_add(b, s + run, n - run);
  return buf_add(b, "\"", 1);
}

char *buf_take(struct buf *b, size_t *len)
{
  if(!b->err && !b->data)
    buf_add(b, "", 0);
  if(b->err) {
    buf_free(b);
    return NULL;
  }
  char *p = b->data;
  if(len)
    *len = b->len;
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return p;
}

void buf_free(struct buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}
