/* json: just enough JSON for todo-server's request bodies. It checks that a
 * whole document is valid JSON (RFC 8259, UTF-8, nesting capped) and hands
 * back the top-level object's members whose names the caller asks for,
 * decoding string values. It never builds a tree, never allocates for
 * members nobody asked for, and knows nothing of HTTP or the store. */
#ifndef TODO_JSON_H
#define TODO_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 64

enum json_result {
  JSON_OK = 0,
  JSON_SYNTAX,     /* not valid JSON; the error buffer says where */
  JSON_NOT_OBJECT, /* valid JSON, but the top level is not an object */
  JSON_TOO_DEEP,   /* nested deeper than JSON_MAX_DEPTH */
  JSON_NOMEM
};

enum json_kind {
  JSON_ABSENT = 0, /* the member was not in the object */
  JSON_STRING,     /* value/len hold the decoded string */
  JSON_OTHER       /* present, but not a string */
};

/* One member the caller wants. Fill in name; json_object_fields() sets the
 * rest. value is malloc'd, NUL-terminated (it may also contain NULs: len
 * counts them) and owned by the caller: json_fields_free() releases it.
 * When a name repeats in the object, the last one wins. */
struct json_field {
  const char *name;
  enum json_kind kind;
  char *value;
  size_t len;
};

/* Parses text[0..len). On anything but JSON_OK no field holds memory and
 * err (errlen bytes, may be 0) says what was wrong. */
enum json_result json_object_fields(const char *text, size_t len,
                                    struct json_field *fields, size_t nfields,
                                    char *err, size_t errlen);

void json_fields_free(struct json_field *fields, size_t nfields);

#endif
