/*
 * curlapi.h - libcurl, loaded at the first HTTP call.
 *
 * libcurl and the thirty libraries it needs take longer to map and relocate
 * than all the rest of retryrun's start-up, so retryrun does not link it:
 * curlapi_load() opens it with dlopen() when a script first makes a call
 * (or --version asks), and the names of libcurl's functions below become
 * calls through a table of pointers. Include this instead of <curl/curl.h>.
 * Code that calls libcurl must have called curlapi_load() first; only
 * transfer.c and main.c do, and loop.c uses libcurl only after a transfer
 * has been made.
 */
#ifndef RETRYRUN_CURLAPI_H
#define RETRYRUN_CURLAPI_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

struct curlapi {
  CURLcode (*global_init)(long);
  void (*global_cleanup)(void);
  char *(*version)(void);
  CURL *(*easy_init)(void);
  void (*easy_cleanup)(CURL *);
  void (*easy_reset)(CURL *);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  const char *(*easy_strerror)(CURLcode);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_cleanup)(CURLM *);
  CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
  CURLMcode (*multi_add_handle)(CURLM *, CURL *);
  CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
  CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int,
                          int *);
  CURLMcode (*multi_perform)(CURLM *, int *);
  CURLMsg *(*multi_info_read)(CURLM *, int *);
  curl_mime *(*mime_init)(CURL *);
  void (*mime_free)(curl_mime *);
  curl_mimepart *(*mime_addpart)(curl_mime *);
  CURLcode (*mime_name)(curl_mimepart *, const char *);
  CURLcode (*mime_filename)(curl_mimepart *, const char *);
  CURLcode (*mime_type)(curl_mimepart *, const char *);
  CURLcode (*mime_data)(curl_mimepart *, const char *, size_t);
  CURLcode (*mime_filedata)(curl_mimepart *, const char *);
  CURLSH *(*share_init)(void);
  CURLSHcode (*share_setopt)(CURLSH *, CURLSHoption, ...);
  CURLSHcode (*share_cleanup)(CURLSH *);
  CURLU *(*url)(void);
  void (*url_cleanup)(CURLU *);
  CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
  CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
  void (*free)(void *);
};

extern struct curlapi curlapi;

/* Opens libcurl and finds its functions, once. Returns 0, or -1 with a
 * line saying why in err. */
int curlapi_load(char *err, size_t errlen);
/* 1 once curlapi_load() succeeded. */
int curlapi_loaded(void);

/* curl.h wraps these three in macros of its own */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#undef curl_share_setopt

#define curl_global_init curlapi.global_init
#define curl_global_cleanup curlapi.global_cleanup
#define curl_version curlapi.version
#define curl_easy_init curlapi.easy_init
#define curl_easy_cleanup curlapi.easy_cleanup
#define curl_easy_reset curlapi.easy_reset
#define curl_easy_setopt curlapi.easy_setopt
#define curl_easy_getinfo curlapi.easy_getinfo
#define curl_easy_strerror curlapi.easy_strerror
#define curl_slist_append curlapi.slist_append
#define curl_slist_free_all curlapi.slist_free_all
#define curl_multi_init curlapi.multi_init
#define curl_multi_cleanup curlapi.multi_cleanup
#define curl_multi_setopt curlapi.multi_setopt
#define curl_multi_add_handle curlapi.multi_add_handle
#define curl_multi_remove_handle curlapi.multi_remove_handle
#define curl_multi_poll curlapi.multi_poll
#define curl_multi_perform curlapi.multi_perform
#define curl_multi_info_read curlapi.multi_info_read
#define curl_mime_init curlapi.mime_init
#define curl_mime_free curlapi.mime_free
#define curl_mime_addpart curlapi.mime_addpart
#define curl_mime_name curlapi.mime_name
#define curl_mime_filename curlapi.mime_filename
#define curl_mime_type curlapi.mime_type
#define curl_mime_data curlapi.mime_data
#define curl_url curlapi.url
#define curl_url_cleanup curlapi.url_cleanup
#define curl_url_set curlapi.url_set
#define curl_url_get curlapi.url_get
#define curl_free curlapi.free
#define curl_mime_filedata curlapi.mime_filedata
#define curl_share_init curlapi.share_init
#define curl_share_setopt curlapi.share_setopt
#define curl_share_cleanup curlapi.share_cleanup

#endif
