/*
 * mime.c - a multipart/form-data body for libcurl (see mime.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mime.h"

int mime_check_file(const char *name, const char *path, char *err,
                    size_t errlen)
{
  struct stat st;
  /* without blocking: opening a FIFO for reading waits for a writer */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if(fd < 0 || fstat(fd, &st)) {
    snprintf(err, errlen, "multipart part '%s': cannot read %s: %s",
             name, path, strerror(errno));
    if(fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  if(!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "multipart part '%s': %s is not a file", name,
             path);
    return -1;
  }
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
    if(p->path && mime_check_file(p->name, p->path, err, errlen))
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
