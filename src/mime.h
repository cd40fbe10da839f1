/*
 * mime.h - a multipart/form-data body for libcurl, made anew for each
 * attempt from a list of parts, so that a retry or a redirect that keeps
 * the body sends all of it again (a file is read again from its start).
 *
 * Uses libcurl's mime API (through curlapi.h) and nothing else: no Lua, no
 * retry decisions. The parts' strings are the caller's; libcurl copies
 * what it keeps, so they need only last through mime_build.
 */
#ifndef RETRYRUN_MIME_H
#define RETRYRUN_MIME_H

#include <stddef.h>

#include "curlapi.h"

/* One part: a field (data) or a file (path, read by libcurl as it sends). */
struct mime_part {
  const char *name;          /* the form field's name */
  const char *data;          /* the contents, data_len bytes; or NULL */
  size_t data_len;
  const char *path;          /* a file to send instead of data, or NULL */
  const char *filename;      /* the filename to announce, or NULL: a
                                file's own name (no directory), none for
                                data */
  const char *type;          /* its Content-Type, or NULL: none for data,
                                libcurl's guess from a file's extension
                                (else application/octet-stream) */
};

/* Makes the body of n parts for the easy handle e. Returns it (the caller
 * frees it with curl_mime_free once the handle no longer uses it), or
 * NULL with why in err (errlen bytes): out of memory, or a file that
 * cannot be read, named with its part. */
/* Checks, before libcurl does and without blocking (a FIFO is not
 * opened for good), that path is a regular file retryrun can read: 0, or
 * -1 with why in err, naming the part. */
int mime_check_file(const char *name, const char *path, char *err,
                    size_t errlen);

curl_mime *mime_build(CURL *e, const struct mime_part *parts, size_t n,
                      char *err, size_t errlen);

#endif
