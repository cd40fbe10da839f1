/*
 * test_redact.c - redact.c: which names are secret, URLs and free text with
 * their secrets hidden, and the values collected from a request. Pure.
 */
#include <ctype.h>
#include <stdio.h>
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

/* A seeded generator of URLs nested in URLs, escaped or not, around a
 * password and a token: neither may survive, and redacting the result
 * again changes nothing. */
static unsigned long seed = 20261201;

static unsigned pick(unsigned n)
{
  seed = seed * 6364136223846793005UL + 1442695040888963407UL;
  return (unsigned)(seed >> 33) % n;
}

/* Appends s to b (cap bytes), every byte but [A-Za-z0-9-._~] escaped, and
 * ':' and '/' too unless keep (as some encoders leave them), in upper or
 * lower case hex. */
static void escaped(char *b, size_t cap, const char *s, int keep)
{
  static const char *const hex[] = {"0123456789ABCDEF", "0123456789abcdef"};
  const char *h = hex[pick(2)];
  size_t n = strlen(b);
  for(; *s && n + 4 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if(isalnum(c) || strchr("-._~", c) || (keep && (c == ':' || c == '/')))
      b[n++] = (char)c;
    else {
      b[n++] = '%';
      b[n++] = h[c >> 4];
      b[n++] = h[c & 15];
    }
  }
  b[n] = '\0';
}

static void nested(void)
{
  static const char *const inner[] = {
    "http://v:SECRETPW@h2/y?token=SECRETTOK&a=1",
    "https://SECRETPW@h2/?a=1&api_key=SECRETTOK#frag",
    "http://h2/cb#access_token=SECRETTOK&state=1&code=SECRETPW%3D",
    "http://u:SECRETPW@h2:8080/?pwd=SECRETTOK",
  };
  int i, failed = 0, twice_failed = 0;
  for(i = 0; i < 2000; i++) {
    static char url[32768], next[32768];
    static const char *const before[] = {
      "https://o/r?x=1&to=", "https://o/r?to=", "https://o/web/",
      "http://o/#next=", "redirect_uri="
    };
    int depth = 1 + (int)pick(4), d;
    size_t n;
    char *out, *again;
    snprintf(url, sizeof(url), "%s", inner[pick(4)]);
    for(d = 0; d < depth; d++) {
      unsigned how = pick(5);
      snprintf(next, sizeof(next), "%s", before[how]);
      if(how == 1 || how == 4)
        escaped(next, sizeof(next), url, how == 1 && pick(3) == 0);
      else
        strncat(next, url, sizeof(next) - strlen(next) - 1);
      if(how == 1)
        strncat(next, "&b=2", sizeof(next) - strlen(next) - 1);
      memcpy(url, next, sizeof(url));
    }
    snprintf(next, sizeof(next), "GET ");
    strncat(next, url, sizeof(next) - strlen(next) - 1);
    strncat(next, " gave up (see ", sizeof(next) - strlen(next) - 1);
    strncat(next, url, sizeof(next) - strlen(next) - 1);
    strncat(next, ").", sizeof(next) - strlen(next) - 1);
    out = redact_text(next, strlen(next), NULL, &n);
    if(!out || strstr(out, "SECRET")) {
      if(!failed++)
        CHECK(0, "'%s' -> '%s'", next, out ? out : "(null)");
      free(out);
      continue;
    }
    again = redact_text(out, n, NULL, NULL);
    if(!again || strcmp(again, out)) {
      if(!twice_failed++)
        CHECK(0, "'%s' -> '%s' -> '%s'", next, out, again ? again : "");
    }
    free(again);
    free(out);
  }
  CHECK(!failed, "no secret left in %d of 2000 nested URLs", failed);
  CHECK(!twice_failed, "redacting again changes nothing (%d)", twice_failed);
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
    /* URLs in URLs: a redirect target, a callback, an archived page */
    {"GET http://h/redir?to=http://v:SECRETPW@h2/y&status=302",
     "GET http://h/redir?to=http://REDACTED@h2/y&status=302"},
    {"http://h/?next=http://v:pw@h2/?token=T1&a=1",
     "http://h/?next=http://REDACTED@h2/?token=REDACTED&a=1"},
    {"http://h/?token=http://v:pw@h2/x&a=1", "http://h/?token=REDACTED&a=1"},
    {"https://arch/web/2020/http://u:pw@h/p?a=1",
     "https://arch/web/2020/http://REDACTED@h/p?a=1"},
    {"http://h/#cb=https://u:pw@h2/", "http://h/#cb=https://REDACTED@h2/"},
    /* and escaped, once or more, whole or in part */
    {"http://h/?to=http%3A%2F%2Fv%3APW%40h2%2Fy%3Ftoken%3DTK%26a%3D1",
     "http://h/?to=http%3A%2F%2FREDACTED%40h2%2Fy%3Ftoken%3DREDACTED"
     "%26a%3D1"},
    {"to=https%3a%2f%2fv%3apw%40h2", "to=https%3a%2f%2fREDACTED%40h2"},
    {"http://h/?to=http%253A%252F%252Fv%253APW%2540h2",
     "http://h/?to=http%253A%252F%252FREDACTED%2540h2"},
    {"http://h/?r=http://v%3APW%40h2/?api_key%3DK9",
     "http://h/?r=http://REDACTED%40h2/?api_key%3DREDACTED"},
    {"{\"next\":\"http:\\/\\/u:pw@h2\\/?sig=S\"}",
     "{\"next\":\"http:\\/\\/REDACTED@h2\\/?sig=REDACTED\"}"},
    {"http://h/a%20b?token=x%2Fy z", "http://h/a%20b?token=REDACTED z"},
    {"100% sure: http://h/%zz?%", "100% sure: http://h/%zz?%"},
    /* references with no scheme, as a Location may hold */
    {"Location: /status?s=404&token=RELTOK7",
     "Location: /status?s=404&token=REDACTED"},
    {"Location: //u:LOCPW6@h:1/?token=LOCTOK6",
     "Location: //REDACTED@h:1/?token=REDACTED"},
    {"see /cb#id_token=abc&state=1.", "see /cb#id_token=REDACTED&state=1."},
    {"?access_token=abc&a=1", "?access_token=REDACTED&a=1"},
    {"http://h/?next=%2Fcb%3Ftoken%3Dabc",
     "http://h/?next=%2Fcb%3Ftoken%3DREDACTED"},
    {"a/b?c 1/2 // x", "a/b?c 1/2 // x"},
    /* JSON's \u escapes, as Go's encoder writes '&' */
    {"{\"r\":\"https://a/cb?state=x\\u0026access_token=SEK\"}",
     "{\"r\":\"https://a/cb?state=x\\u0026access_token=REDACTED\"}"},
    {"{\"r\":\"https:\\u002f\\u002fu:SEKPW@a\\u002fx\"}",
     "{\"r\":\"https:\\u002f\\u002fREDACTED@a\\u002fx\"}"},
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
    redact_values_init(&v);
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
      redact_values_init(&d);
      redact_collect_url(&d, "http://h/?token=tok%20en%2F%2B", 30);
      redact_collect_url(&d, "http://u:E2SEC?RET@h/x", 22);
      redact_collect_body(&d, j, sizeof(j) - 1);
      check_text("saw tok en/+ and g\"pa\\ss in http://u:E2SEC?RET@h/x",
                 &d, "saw REDACTED and REDACTED in http://REDACTED@h/x");
      /* a header's value as a URL or JSON spells it */
      redact_collect_header(&d, "Authorization", 13, "Bearer ab+c/d=", 14);
      check_text("GET http://h/x?t=ab%2Bc%2fd%3D&u=1 {\"t\":\"ab+c\\/d=\"}",
                 &d, "GET http://h/x?t=REDACTED&u=1 {\"t\":\"REDACTED\"}");
      redact_values_free(&d);
    }
    /* what libcurl sends for http://al:pw1234@h: base64 of "al:pw1234" */
    check_text("Authorization: Basic YWw6cHcxMjM0", &v,
               "Authorization: Basic REDACTED");
    redact_values_free(&v);
  }
  {
    /* no value is crowded out: 300 secret body fields, then a header */
    struct redact_values v;
    char body[300 * 40 + 8], url[4200];
    size_t n = 0, i;
    redact_values_init(&v);
    n += (size_t)sprintf(body + n, "[");
    for(i = 0; i < 300; i++)
      n += (size_t)sprintf(body + n, "%s{\"password\":\"pw%05zuxyz\"}",
                           i ? "," : "", i);
    n += (size_t)sprintf(body + n, "]");
    redact_collect_body(&v, body, n);
    redact_collect_header(&v, "Authorization", 13, "Bearer tokABCDEF123",
                          19);
    /* and a password whose Basic form is past the inline room */
    memcpy(url, "http://u:", 9);
    memset(url + 9, 'p', 3000);
    memcpy(url + 3009, "@h/", 4);
    redact_collect_url(&v, url, 3012);
    CHECK(!v.oom && v.count > 300, "%zu values kept", v.count);
    check_text("tokABCDEF123 pw00000xyz pw00299xyz", &v,
               "REDACTED REDACTED REDACTED");
    {
      /* the base64 of "u:ppp...", past the inline room */
      const struct redact_value *b64 = &v.v[v.count - 1];
      char *text = malloc(b64->n + 7), *out;
      memcpy(text, "Basic ", 6);
      memcpy(text + 6, b64->p, b64->n);
      text[b64->n + 6] = '\0';
      out = redact_text(text, b64->n + 6, &v, NULL);
      CHECK(b64->n == 4004 && out && !strcmp(out, "Basic REDACTED"),
            "a long Basic credential is hidden");
      free(out);
      free(text);
    }
    /* a value escaped once, twice, or as JSON's \u */
    redact_collect_header(&v, "X-Api-Key", 9, "ab/cd+ef=gh", 11);
    check_text("t=ab%252Fcd%252Bef%253Dgh u=ab%25252Fcd+ef=gh "
               "\"ab\\u002fcd+ef\\u003dgh\"", &v,
               "t=REDACTED u=REDACTED \"REDACTED\"");
    {
      char cookie[] = "JARCOOKIE9";
      redact_collect_copy(&v, cookie, 10);
      memset(cookie, 'x', 10);
      check_text("sid=JARCOOKIE9", &v, "sid=REDACTED");
    }
    redact_values_free(&v);
    CHECK(v.count == 0 && v.v == v.inl, "freed values are empty again");
  }
  nested();
  redact_free_names();
  return tap_done();
}
