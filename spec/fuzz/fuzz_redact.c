/*
 * fuzz_redact.c - libFuzzer target for redact.c: any bytes as a message,
 * a URL, a header and a body. Checks that redacting never fails on its own
 * input, that its output has the length it reports, and that redacting
 * the URLs of a text twice changes nothing the second time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data;
  struct redact_values v;
  size_t n1, n2, half = size / 2;
  char *once, *twice;

  redact_values_init(&v);
  redact_collect_url(&v, s, size);
  redact_collect_header(&v, "Authorization", 13, s, half);
  redact_collect_header(&v, s, half, s + half, size - half);
  redact_collect_body(&v, s, size);
  once = redact_text(s, size, &v, &n1);
  if(!once || strlen(once) > n1)
    abort();
  free(once);
  redact_values_free(&v);

  once = redact_text(s, size, NULL, &n1);
  if(!once)
    abort();
  twice = redact_text(once, n1, NULL, &n2);
  if(!twice || n1 != n2 || memcmp(once, twice, n1))
    abort();
  free(once);
  free(twice);
  return 0;
}
