/*
 * mime.c - a multipart/form-data body for libcurl (see mime.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mime.h"

/* Checks before libcurl does, for words of retryrun's own: a path that is
 * not a readable regular file. 0, or -1 with why in err. */
static int check_file(const struct mime_part *p, char *err, size_t errlen)
{
  struct stat st;
  FILE *f;
  if(stat(p->path, &st)) {
    snprintf(err, errlen, "multipart part '%s': cannot read %s: %s",
             p->name, p->path, strerror(errno));
    return -1;
  }
  if(!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "multipart part '%s': %s is not a file",
             p->name, p->path);
    return -1;
  }
  f = fopen(p->path, "rb");
  if(!f) {
    snprintf(err, errlen, "multipart part '%s': cannot read %s: %s",
             p->name, p->path, strerror(errno));
    return -1;
  }
  fclose(f);
  return 0;
}

curl_mime *mime_build(CURL *e, const struct mime_part *parts, size_t n,
                      char *err, size_t errlen)
{
  curl_mime *mime = curl_mime_init(e);
  size_t i;
  if(!mime)
    goto nomem;
  for(i = 0; i < n; i++) {
    const struct mime_part *p = &parts[i];
    curl_mimepart *part;
    CURLcode rc;
    if(p->path && check_file(p, err, errlen))
      goto fail;
    part = curl_mime_addpart(mime);
    if(!part)
      goto nomem;
    rc = curl_mime_name(part, p->name);
    if(!rc)
      rc = p->path ? curl_mime_filedata(part, p->path) :
                     curl_mime_data(part, p->data ? p->data : "",
                                    p->data_len);
    /* after filedata, which announces the file's own name */
    if(!rc && p->filename)
      rc = curl_mime_filename(part, p->filename);
    if(!rc && p->type)
      rc = curl_mime_type(part, p->type);
    if(rc == CURLE_READ_ERROR) {
      snprintf(err, errlen, "multipart part '%s': cannot read %s", p->name,
               p->path ? p->path : "its data");
      goto fail;
    }
    if(rc)
      goto nomem;
  }
  return mime;
nomem:
  snprintf(err, errlen, "out of memory making a multipart body");
fail:
  curl_mime_free(mime);
  return NULL;
}
