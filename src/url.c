/*
 * url.c - the origin of a URL (see url.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "url.h"

int url_origin(const char *url, char *o, size_t n)
{
  const char *sep = strstr(url, "://"), *host, *end, *at, *port;
  int https;
  size_t hlen, i;
  if(!sep)
    return -1;
  https = (size_t)(sep - url) == 5 && !strncasecmp(url, "https", 5);
  host = sep + 3;
  end = host + strcspn(host, "/?#");
  for(at = end; at > host && at[-1] != '@'; at--)
    ;
  if(at > host)
    host = at;
  port = end;
  for(i = (size_t)(end - host); i > 0; i--) {
    if(host[i - 1] == ']')
      break;
    if(host[i - 1] == ':') {
      port = host + i - 1;
      break;
    }
  }
  hlen = (size_t)(port - host);
  if(hlen + 32 > n)
    return -1;
  if(port < end)
    snprintf(o, n, "%.*s|%.*s|%.*s", (int)(sep - url), url, (int)hlen, host,
             (int)(end - port - 1), port + 1);
  else
    snprintf(o, n, "%.*s|%.*s|%s", (int)(sep - url), url, (int)hlen, host,
             https ? "443" : "80");
  for(i = 0; o[i]; i++)
    o[i] = (char)tolower((unsigned char)o[i]);
  return 0;
}
