/*
 * transfer_wire.c - the header lines of an attempt as they went over the
 * wire, for -vv (transfer.h): the request line and headers libcurl sent,
 * each line "> ...", and the status lines and headers that came back,
 * interim and redirect responses included, each "< ...". Kept in the
 * transfer's wire buffer as they are: the bindings redact them before
 * anyone sees them.
 *
 * libcurl hands these only to a debug callback, and only while
 * CURLOPT_VERBOSE is on; with the callback set, it prints nothing itself.
 * Set for the attempts of a -vv run alone, so other runs pay nothing.
 *
 * Also the values of a cookie jar's cookies, which libcurl sends in a
 * Cookie header no script wrote: redaction hides them as a Cookie
 * header's.
 */
#include <string.h>

#include "transfer.h"

/* Adds the lines of data (n bytes, "\r\n" or "\n" ended) to the wire
 * buffer, each after mark; empty lines (a header block's end) dropped. */
static void add_lines(struct dynbuf *b, const char *mark, const char *data,
                      size_t n)
{
  const char *end = data + n;
  while(data < end) {
    const char *eol = memchr(data, '\n', (size_t)(end - data));
    size_t len = (size_t)((eol ? eol : end) - data);
    if(len && data[len - 1] == '\r')
      len--;
    if(len && b->len + len < TRANSFER_MAX_HEADERS_BYTES) {
      dynbuf_add(b, mark, 2);
      dynbuf_add(b, data, len);
      dynbuf_add(b, "\n", 1);
    }
    data = eol ? eol + 1 : end;
  }
}

static int on_debug(CURL *e, curl_infotype type, char *data, size_t n,
                    void *ud)
{
  struct transfer *t = ud;
  (void)e;
  if(type == CURLINFO_HEADER_OUT)
    add_lines(&t->wire, "> ", data, n);
  else if(type == CURLINFO_HEADER_IN)
    add_lines(&t->wire, "< ", data, n);
  return 0;
}

CURLcode transfer_wire_on(struct transfer *t)
{
  CURLcode rc = curl_easy_setopt(t->easy, CURLOPT_DEBUGFUNCTION, on_debug);
  if(!rc)
    rc = curl_easy_setopt(t->easy, CURLOPT_DEBUGDATA, t);
  if(!rc)
    rc = curl_easy_setopt(t->easy, CURLOPT_VERBOSE, 1L);
  t->dirty = 1;                 /* curl_easy_reset turns it off again */
  return rc;
}

int transfer_jar_values(const struct transfer_jar *jar,
                        void (*fn)(void *ud, const char *v, size_t n),
                        void *ud)
{
  CURL *e = curl_easy_init();
  struct curl_slist *list = NULL, *l;
  int rc = -1;
  if(e && !curl_easy_setopt(e, CURLOPT_SHARE, transfer_jar_share(jar)) &&
     !curl_easy_getinfo(e, CURLINFO_COOKIELIST, &list)) {
    /* each "domain\tflag\tpath\tsecure\texpiry\tname\tvalue" */
    for(l = list; l; l = l->next) {
      const char *v = l->data;
      int tabs;
      for(tabs = 0; tabs < 6 && (v = strchr(v, '\t')) != NULL; tabs++)
        v++;
      if(v)
        fn(ud, v, strlen(v));
    }
    rc = 0;
  }
  curl_slist_free_all(list);
  if(e)
    curl_easy_cleanup(e);
  return rc;
}
