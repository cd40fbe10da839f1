/*
 * url.h - what retryrun needs to know of a URL without parsing it whole:
 * its origin. Pure C: no Lua, no libcurl.
 */
#ifndef RETRYRUN_URL_H
#define RETRYRUN_URL_H

#include <stddef.h>

/* Writes the origin of url (scheme, host and port, lower case, the port
 * made explicit: "http|example.com|80") into o (n bytes); returns 0, or -1
 * when url has no "scheme://" or o is too small. */
int url_origin(const char *url, char *o, size_t n);

#endif
