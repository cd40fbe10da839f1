/*
 * redact.h - what retryrun never prints: passwords in URLs, the values of
 * secret query parameters and headers, and any of those values wherever
 * they turn up in a message.
 *
 * A name is secret when, lower-cased with '-' read as '_' (and a leading
 * "x_" dropped), it is one of a fixed list (password,
 * token, api_key, authorization, cookie, ...: see redact.c) or one a script
 * added with redact_add_name(). Whole names only: "author" and "design" are
 * not secrets, "pwd" and "jwt" are.
 *
 * Every message, error, tostring() and log line that may hold a URL or a
 * request's data goes through redact_text() (redact_text.c). Pure C: no
 * Lua, no libcurl; the only state is the list of names scripts added.
 */
#ifndef RETRYRUN_REDACT_H
#define RETRYRUN_REDACT_H

#include <stddef.h>

#define REDACTED "REDACTED"

/* This many secret values, and bytes of values made here, fit in a
 * struct redact_values itself; a request with more grows it on the heap,
 * so no value is ever dropped. */
#define REDACT_INLINE_VALUES 32
#define REDACT_INLINE_OWNED 1024
/* Values shorter than this are not searched for in free text ("1" would
 * hide every digit); they are still hidden by name. */
#define REDACT_MIN_VALUE 3

/* 1 when a query parameter (or form or JSON field) of this name carries a
 * secret. */
int redact_secret_param(const char *name, size_t len);
/* 1 when a header of this name carries a secret. */
int redact_secret_header(const char *name, size_t len);

/* Adds a name to the secret list for the rest of the run. Returns 0, or -1
 * when the name is empty, longer than 64 bytes, or memory ran out. */
int redact_add_name(const char *name, size_t len);

/* The secret values of one request, for finding them in free text. The
 * pointers borrow the caller's strings, which must outlive the struct.
 * Made with redact_values_init(), undone with
 * redact_values_free(); while it holds no more than the inline room, it
 * allocates nothing. */
struct redact_value {
  const char *p;
  size_t n;
};
struct redact_values {
  struct redact_value *v;       /* inl, or on the heap once it is full */
  size_t count, cap;
  char *owned;                  /* where values made here go: the Basic
                                   credentials libcurl sends for a URL's
                                   user:password@, and values as they
                                   read decoded */
  size_t nowned, capowned;
  void *blocks;                 /* heap blocks of owned values, a list */
  int oom;                      /* a value could not be kept: redact_text
                                   shows nothing rather than less */
  struct redact_value inl[REDACT_INLINE_VALUES];
  char inl_owned[REDACT_INLINE_OWNED];
};

void redact_values_init(struct redact_values *vals);
void redact_values_free(struct redact_values *vals);

/* Each adds to vals what it finds: a URL's user:password@, its password,
 * the base64 form libcurl sends as Basic credentials, and its secret query
 * and fragment parameters; a secret header's value
 * (and the credential after "Bearer " or "Basic "); the secret fields of a
 * form or JSON body ("password=..." or "password": "..."). */
void redact_collect_url(struct redact_values *vals, const char *url,
                        size_t len);
void redact_collect_header(struct redact_values *vals, const char *name,
                           size_t nlen, const char *value, size_t vlen);
void redact_collect_body(struct redact_values *vals, const char *body,
                         size_t len);
/* Adds a copy of a value that is secret whatever its name (a cookie
 * libcurl sends from a jar); vals keeps the copy. */
void redact_collect_copy(struct redact_values *vals, const char *value,
                         size_t len);
/* Adds a form field's value (a multipart part's data) when its name is
 * secret. */
void redact_collect_field(struct redact_values *vals, const char *name,
                          size_t nlen, const char *value, size_t vlen);

/* Returns a malloc'd, NUL-terminated copy of text with every value of
 * vals (which may be NULL), as written or %XX-escaped, replaced by
 * REDACTED, and every URL in it redacted (user:password@ and secret
 * parameters' values become REDACTED): URLs in prose, in other URLs'
 * paths and parameters, and escaped ones ("http%3A%2F%2Fu%3Apw%40h").
 * Redacting the result again changes nothing. Its length goes in *outlen
 * if not NULL. NULL when memory ran out, now or while vals was made. */
char *redact_text(const char *text, size_t len,
                  const struct redact_values *vals, size_t *outlen);

/* Frees the names scripts added (at exit). */
void redact_free_names(void);

#endif
