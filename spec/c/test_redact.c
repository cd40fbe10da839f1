/*
 * test_redact.c - redact.c: which names are secret, URLs and free text with
 * their secrets hidden, and the values collected from a request. Pure.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "redact.h"

struct row {
  const char *in, *want;
};

static void check_text(const char *in, const struct redact_values *v,
                       const char *want)
{
  size_t n;
  char *out = redact_text(in, strlen(in), v, &n);
  CHECK(out && !strcmp(out, want) && n == strlen(want), "'%s' -> '%s'%s%s",
        in, want, out ? " got " : "", out ? out : "(null)");
  free(out);
}

int main(void)
{
  static const char *const secret[] = {
    "password", "pwd", "pass", "jwt", "token", "access_token", "API-Key",
    "api_key", "Client_Secret", "code", "sig", "access%5Ftoken", NULL
  };
  static const char *const plain[] = {
    "author", "design", "passage", "keys", "tokens", "zipcode", "id",
    "signed", "", NULL
  };
  static const struct row urls[] = {
    {"http://h/x", "http://h/x"},
    {"http://u:pw@h:80/x?a=1", "http://REDACTED@h:80/x?a=1"},
    {"https://h/x?pwd=s1&author=me&pass=s2&jwt=s3",
     "https://h/x?pwd=REDACTED&author=me&pass=REDACTED&jwt=REDACTED"},
    {"http://h/?design=1&code=xyz#frag", "http://h/?design=1&code=REDACTED#frag"},
    {"http://h/cb#access_token=abc&state=1",
     "http://h/cb#access_token=REDACTED&state=1"},
    {"see http://h/?token=t1 and https://a:b@k/ too",
     "see http://h/?token=REDACTED and https://REDACTED@k/ too"},
    {"(GET http://h/?key=zz).", "(GET http://h/?key=REDACTED)."},
    {"http://h/(a)?key=zz)", "http://h/(a)?key=REDACTED"},
    {"no url: here", "no url: here"},
    {"://?token=1", "://?token=REDACTED"},
    {"http://h/?token", "http://h/?token"},
    {"http://h/?token=", "http://h/?token=REDACTED"},
    {"http:///u:pw@h/x", "http://REDACTED@h/x"},
    {"http://h/#/cb?access_token=F1&state=2",
     "http://h/#/cb?access_token=REDACTED&state=2"},
    {"http://h/?a=1;access_token=E3&b=2",
     "http://h/?a=1;access_token=REDACTED&b=2"},
    {"https://b.s3/k?X-Amz-Signature=s1&X-Amz-Security-Token=t1&X-Amz-Date=d",
     "https://b.s3/k?X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED"
     "&X-Amz-Date=d"},
  };
  size_t i;

  for(i = 0; secret[i]; i++)
    CHECK(redact_secret_param(secret[i], strlen(secret[i])),
          "'%s' is a secret parameter", secret[i]);
  for(i = 0; plain[i]; i++)
    CHECK(!redact_secret_param(plain[i], strlen(plain[i])),
          "'%s' is not", plain[i]);
  CHECK(redact_secret_header("X-Api-Key", 9), "X-Api-Key is a secret header");
  CHECK(redact_secret_header("Proxy-Authorization", 19),
        "Proxy-Authorization is a secret header");
  CHECK(redact_secret_header("cookie", 6), "cookie is a secret header");
  CHECK(!redact_secret_header("X-Request-Id", 12), "X-Request-Id is not");
  CHECK(!redact_secret_header("Content-Type", 12), "Content-Type is not");

  for(i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
    check_text(urls[i].in, NULL, urls[i].want);

  CHECK(!redact_secret_param("tenant", 6), "tenant is not, before it is added");
  CHECK(redact_add_name("Tenant-Key", 10) == 0, "a name can be added");
  CHECK(redact_secret_param("tenant_key", 10), "tenant_key is, after");
  CHECK(redact_secret_header("X-Tenant-Key", 12), "X-Tenant-Key is, after");
  CHECK(redact_add_name("", 0) == -1, "an empty name is refused");

  {
    struct redact_values v;
    static const char body[] =
      "{\"user\":\"al\",\"password\":\"hunter22\",\"n\":{\"pin\":1,"
      "\"otp\":123456}}";
    memset(&v, 0, sizeof(v));
    redact_collect_url(&v, "http://al:pw1234@h/?token=tok999&a=b", 36);
    redact_collect_header(&v, "Authorization", 13, "Bearer abcdef", 13);
    redact_collect_header(&v, "X-Request-Id", 12, "req-1234", 8);
    redact_collect_body(&v, body, sizeof(body) - 1);
    redact_collect_body(&v, "user=al&pass=formpw", 19);
    check_text("pw1234 tok999 abcdef req-1234 hunter22 123456 formpw al", &v,
               "REDACTED REDACTED REDACTED req-1234 REDACTED REDACTED "
               "REDACTED al");
    check_text("Bearer abcdef", &v, "REDACTED");
    /* decoded forms: percent-encoding and JSON escapes */
    {
      struct redact_values d;
      static const char j[] = "{\"password\": \"g\\\"pa\\\\ss\"}";
      memset(&d, 0, sizeof(d));
      redact_collect_url(&d, "http://h/?token=tok%20en%2F%2B", 30);
      redact_collect_url(&d, "http://u:E2SEC?RET@h/x", 22);
      redact_collect_body(&d, j, sizeof(j) - 1);
      check_text("saw tok en/+ and g\"pa\\ss in http://u:E2SEC?RET@h/x",
                 &d, "saw REDACTED and REDACTED in http://REDACTED@h/x");
    }
    /* what libcurl sends for http://al:pw1234@h: base64 of "al:pw1234" */
    check_text("Authorization: Basic YWw6cHcxMjM0", &v,
               "Authorization: Basic REDACTED");
  }
  redact_free_names();
  return tap_done();
}
