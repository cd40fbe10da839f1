/*
 * curlapi.c - opens libcurl at the first HTTP call (see curlapi.h).
 * Uses dlopen(); knows nothing of requests, tasks or Lua.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "curlapi.h"

struct curlapi curlapi;

static int loaded;

/* The library Debian's libcurl4-openssl-dev links against. */
#define CURLAPI_SONAME "libcurl.so.4"

int curlapi_loaded(void)
{
  return loaded;
}

int curlapi_load(char *err, size_t errlen)
{
  static const struct {
    const char *name;
    size_t offset;
  } syms[] = {
#define SYM(field, name) {name, offsetof(struct curlapi, field)}
    SYM(global_init, "curl_global_init"),
    SYM(global_cleanup, "curl_global_cleanup"),
    SYM(version, "curl_version"),
    SYM(easy_init, "curl_easy_init"),
    SYM(easy_cleanup, "curl_easy_cleanup"),
    SYM(easy_reset, "curl_easy_reset"),
    SYM(easy_setopt, "curl_easy_setopt"),
    SYM(easy_getinfo, "curl_easy_getinfo"),
    SYM(easy_strerror, "curl_easy_strerror"),
    SYM(slist_append, "curl_slist_append"),
    SYM(slist_free_all, "curl_slist_free_all"),
    SYM(multi_init, "curl_multi_init"),
    SYM(multi_cleanup, "curl_multi_cleanup"),
    SYM(multi_setopt, "curl_multi_setopt"),
    SYM(multi_add_handle, "curl_multi_add_handle"),
    SYM(multi_remove_handle, "curl_multi_remove_handle"),
    SYM(multi_poll, "curl_multi_poll"),
    SYM(multi_perform, "curl_multi_perform"),
    SYM(multi_info_read, "curl_multi_info_read"),
    SYM(mime_init, "curl_mime_init"),
    SYM(mime_free, "curl_mime_free"),
    SYM(mime_addpart, "curl_mime_addpart"),
    SYM(mime_name, "curl_mime_name"),
    SYM(mime_filename, "curl_mime_filename"),
    SYM(mime_type, "curl_mime_type"),
    SYM(mime_data, "curl_mime_data"),
    SYM(mime_filedata, "curl_mime_filedata"),
    SYM(share_init, "curl_share_init"),
    SYM(share_setopt, "curl_share_setopt"),
    SYM(share_cleanup, "curl_share_cleanup"),
    SYM(url, "curl_url"),
    SYM(url_cleanup, "curl_url_cleanup"),
    SYM(url_set, "curl_url_set"),
    SYM(url_get, "curl_url_get"),
    SYM(free, "curl_free"),
#undef SYM
  };
  struct curlapi api;
  void *lib;
  size_t i;

  if(loaded)
    return 0;
  lib = dlopen(CURLAPI_SONAME, RTLD_NOW | RTLD_LOCAL);
  if(!lib) {
    snprintf(err, errlen, "cannot load libcurl: %s", dlerror());
    return -1;
  }
  for(i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
    void *f = dlsym(lib, syms[i].name);
    if(!f) {
      snprintf(err, errlen, "libcurl has no %s: is it older than 7.66?",
               syms[i].name);
      dlclose(lib);
      return -1;
    }
    /* POSIX guarantees a function pointer survives this round trip */
    memcpy((char *)&api + syms[i].offset, &f, sizeof(f));
  }
  curlapi = api;
  loaded = 1;
  return 0;
}
