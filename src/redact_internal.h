/*
 * redact_internal.h - what redact.c and redact_text.c share: reading a
 * URL's escapes, its user:password@ and its name=value pairs.
 */
#ifndef RETRYRUN_REDACT_INTERNAL_H
#define RETRYRUN_REDACT_INTERNAL_H

#include <stddef.h>

/* Separators of name=value pairs: in a query or form, and in a fragment,
 * where an OAuth callback may come as "#/cb?access_token=...". */
#define QUERY_SEPS "&;"
#define FRAGMENT_SEPS "&;?"

/* 1 when s[i..] (n bytes in all) is a %XX escape, its byte into *c. */
int redact_percent(const char *s, size_t i, size_t n, unsigned char *c);

/* 1 when s[i..] (n bytes in all) is a JSON "\u00XX" escape of an ASCII
 * byte (Go's encoder writes '&' as "\u0026"), its byte into *c. */
int redact_json_u(const char *s, size_t i, size_t n, unsigned char *c);

/* The '@' ending the user:password of a URL whose host starts at host,
 * or NULL: the last '@' before any '/', '?' or '#'. When lenient and there
 * is none, the last '@' before the path, so that the password of a
 * malformed URL ("http://u:p?w@h/") is collected too; the text pass is
 * strict, so that redacting twice changes nothing the second time. */
const char *redact_userinfo_end(const char *host, const char *end,
                                int lenient);

/* Called with each pair: its name, its '=' (NULL when it has none), its
 * end, and 1 when the name is secret. */
typedef void redact_pair_fn(void *ud, const char *name, const char *eq,
                            const char *end, int secret);

/* Walks the name=value pairs of p..end, split at any of seps (stopping
 * at '#' when stop_hash), calling fn with each. Returns where it
 * stopped. */
const char *redact_pairs(const char *p, const char *end, const char *seps,
                         int stop_hash, redact_pair_fn *fn, void *ud);

#endif
