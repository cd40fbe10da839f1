/* config: flag parsing for todo-server (see config.h). Every number is
 * checked whole (no trailing junk), finite and inside its range. Touches
 * no global state and never exits. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void config_usage(FILE *out)
{
  fputs(
    "usage: todo-server [flags]\n"
    "The todo-list API with fault injection, for retryrun's specs, demos and\n"
    "benchmarks. Every response body is JSON.\n"
    "\n"
    "  --listen HOST:PORT        address to serve (default 127.0.0.1:8080;\n"
    "                            port 0 picks a free one). The first line of\n"
    "                            output is 'listening on http://HOST:PORT'.\n"
    "  --user NAME:SECRET        a user and its API key; repeatable (default\n"
    "                            alice:alice-secret and bob:bob-secret)\n"
    "  --token-ttl S             lifetime of POST /token tokens (default 3600)\n"
    "  --max-body BYTES          largest request body (default 65536)\n"
    "  --log                     one line a request on stderr\n"
    "  --seed N                  seed of the fault generator (default 1)\n"
    "\n"
    "Faults, each off by default; R is a probability in [0, 1]:\n"
    "  --fail-rate R             answer --fail-status (default 500)\n"
    "  --fail-status N           status of --fail-rate faults (400-599)\n"
    "  --missing-field-rate R    a 200 missing a field (summary, access_token)\n"
    "  --spurious-401-rate R     401 despite valid credentials\n"
    "  --lag MS                  a new item is 404 from GET /items/<id> for MS\n"
    "  --reset-rate R            close the connection without a response\n"
    "  --slow-rate R             delay the response by --slow-ms\n"
    "  --slow-ms MS              (default 1000)\n"
    "  --throttle-rate R         429 with Retry-After: --retry-after\n"
    "  --retry-after S           (default 1)\n"
    "  --retry-after-date        send Retry-After (429 and 503) as an HTTP\n"
    "                            date instead of seconds\n"
    "  --lose-response-rate R    POST /items commits, then the connection drops\n"
    "  --outage START:SECONDS    503 with Retry-After from START seconds after\n"
    "                            start-up, for SECONDS\n"
    "\n"
    "GET /items?page=N&per_page=M answers one page (per_page 1-1000, 20\n"
    "by default) with a Link header: first, prev, next and last.\n"
    "PUT /items/ID replaces an item's summary and description.\n"
    "GET /_stats shows the counts; DELETE /_stats zeroes them.\n"
    "/_echo answers any method with the method, headers, query and body it\n"
    "got; /_gzip?pad=N the same gzip-encoded, N bytes of padding added;\n"
    "/_headers?NAME=VALUE&... with those response headers, in order, a\n"
    "repeated name once a value; /_cookie?set=NAME=VALUE sets a cookie\n"
    "and shows the Cookie header it got (these four counted and faulted\n"
    "like /items); /_redirect?to=URL&status=303 redirects (neither counted nor\n"
    "faulted).\n"
    "SIGTERM or SIGINT stops the server (exit 0); bad flags exit 2.\n",
    out);
}

static enum config_result bad(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return CONFIG_BAD;
}

/* A finite decimal number filling all of s, within [lo, hi]. */
static bool parse_double(const char *s, double lo, double hi, double *out)
{
  char *end;
  if(!*s || strchr(" \t\n\r\f\v", *s))
    return false;
  errno = 0;
  double v = strtod(s, &end);
  if(errno || *end || !isfinite(v) || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

/* A non-negative decimal integer filling all of s, at most hi. */
static bool parse_uint(const char *s, uint64_t hi, uint64_t *out)
{
  uint64_t v = 0;
  if(!*s)
    return false;
  for(; *s; s++) {
    if(*s < '0' || *s > '9')
      return false;
    unsigned d = (unsigned)(*s - '0');
    if(v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  if(v > hi)
    return false;
  *out = v;
  return true;
}

/* Seconds (decimals allowed) within [lo, hi], as milliseconds. */
static bool parse_seconds_ms(const char *s, double lo, double hi,
                             uint64_t *out)
{
  double v;
  if(!parse_double(s, lo, hi, &v))
    return false;
  *out = (uint64_t)llround(v * 1000.0);
  return true;
}

static bool name_ok(const char *s, size_t n)
{
  if(n == 0 || n > CONFIG_MAX_NAME)
    return false;
  for(size_t i = 0; i < n; i++) {
    char c = s[i];
    if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return false;
  }
  return true;
}

static bool secret_ok(const char *s, size_t n)
{
  if(n == 0 || n > CONFIG_MAX_SECRET)
    return false;
  for(size_t i = 0; i < n; i++)
    if((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
      return false;
  return true;
}

static enum config_result parse_listen(struct todo_config *cfg, const char *v,
                                       char *err, size_t errlen)
{
  const char *colon = strrchr(v, ':');
  if(!colon)
    return bad(err, errlen, "--listen wants HOST:PORT, got '%s'", v);
  size_t hlen = (size_t)(colon - v);
  const char *host = v;
  if(hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
    host++;
    hlen -= 2;
  }
  uint64_t port;
  if(hlen == 0 || hlen > CONFIG_MAX_HOST)
    return bad(err, errlen, "--listen: bad host in '%s'", v);
  if(!parse_uint(colon + 1, 65535, &port))
    return bad(err, errlen, "--listen: bad port in '%s' (0-65535)", v);
  memcpy(cfg->host, host, hlen);
  cfg->host[hlen] = '\0';
  cfg->port = (unsigned)port;
  return CONFIG_OK;
}

static enum config_result parse_user(struct todo_config *cfg, bool *own_users,
                                     const char *v, char *err, size_t errlen)
{
  const char *colon = strchr(v, ':');
  if(!colon)
    return bad(err, errlen, "--user wants NAME:SECRET");
  size_t nlen = (size_t)(colon - v);
  size_t slen = strlen(colon + 1);
  if(!name_ok(v, nlen))
    return bad(err, errlen, "--user: a name is 1-%d of A-Z a-z 0-9 _ - .",
               CONFIG_MAX_NAME);
  if(!secret_ok(colon + 1, slen))
    return bad(err, errlen,
               "--user: a secret is 1-%d printable characters, no spaces",
               CONFIG_MAX_SECRET);
  if(!*own_users) {
    cfg->nusers = 0; /* the first --user replaces the defaults */
    *own_users = true;
  }
  for(size_t i = 0; i < cfg->nusers; i++) {
    if(strlen(cfg->users[i].name) == nlen &&
       !memcmp(cfg->users[i].name, v, nlen))
      return bad(err, errlen, "--user: '%.*s' given twice", (int)nlen, v);
    if(!strcmp(cfg->users[i].secret, colon + 1))
      return bad(err, errlen, "--user: two users share a secret");
  }
  if(cfg->nusers == CONFIG_MAX_USERS)
    return bad(err, errlen, "--user: at most %d users", CONFIG_MAX_USERS);
  struct todo_user *u = &cfg->users[cfg->nusers++];
  memcpy(u->name, v, nlen);
  u->name[nlen] = '\0';
  memcpy(u->secret, colon + 1, slen + 1);
  return CONFIG_OK;
}

static void config_defaults(struct todo_config *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  strcpy(cfg->host, "127.0.0.1");
  cfg->port = 8080;
  cfg->seed = 1;
  strcpy(cfg->users[0].name, "alice");
  strcpy(cfg->users[0].secret, "alice-secret");
  strcpy(cfg->users[1].name, "bob");
  strcpy(cfg->users[1].secret, "bob-secret");
  cfg->nusers = 2;
  cfg->token_ttl_ms = 3600 * 1000;
  cfg->fail_status = 500;
  cfg->slow_ms = 1000;
  cfg->retry_after_s = 1;
  cfg->max_body = 65536;
}

/* The flags that take a probability, and where each goes. */
static double *rate_flag(struct todo_config *cfg, const char *name)
{
  static const struct {
    const char *name;
    size_t offset;
  } rates[] = {
    {"--fail-rate", offsetof(struct fault_rates, fail)},
    {"--missing-field-rate", offsetof(struct fault_rates, missing_field)},
    {"--spurious-401-rate", offsetof(struct fault_rates, spurious_401)},
    {"--reset-rate", offsetof(struct fault_rates, reset)},
    {"--slow-rate", offsetof(struct fault_rates, slow)},
    {"--throttle-rate", offsetof(struct fault_rates, throttle)},
    {"--lose-response-rate", offsetof(struct fault_rates, lose_response)},
  };
  for(size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
    if(!strcmp(name, rates[i].name))
      return (double *)((char *)&cfg->rates + rates[i].offset);
  return NULL;
}

enum config_result config_parse(struct todo_config *cfg, int argc,
                                char **argv, char *err, size_t errlen)
{
  bool own_users = false;
  config_defaults(cfg);
  for(int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    char name[64];
    const char *value = NULL;
    const char *eq = strchr(arg, '=');
    size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
    if(strncmp(arg, "--", 2) || nlen >= sizeof(name))
      return bad(err, errlen, "unknown argument '%.64s'", arg);
    memcpy(name, arg, nlen);
    name[nlen] = '\0';
    if(!strcmp(name, "--help") || !strcmp(name, "--log") ||
       !strcmp(name, "--retry-after-date")) {
      if(eq)
        return bad(err, errlen, "%s takes no value", name);
      if(!strcmp(name, "--help"))
        return CONFIG_HELP;
      if(!strcmp(name, "--log"))
        cfg->log = true;
      else
        cfg->retry_after_date = true;
      continue;
    }
    static const char *const valued[] = {
      "--listen", "--user", "--seed", "--token-ttl", "--fail-status", "--lag",
      "--slow-ms", "--retry-after", "--max-body", "--outage",
    };
    bool known = rate_flag(cfg, name) != NULL;
    for(size_t k = 0; !known && k < sizeof(valued) / sizeof(valued[0]); k++)
      known = !strcmp(name, valued[k]);
    if(!known)
      return bad(err, errlen, "unknown flag '%s'", name);
    if(eq)
      value = eq + 1;
    else if(i + 1 < argc)
      value = argv[++i];
    else
      return bad(err, errlen, "%s needs a value", name);

    double *rate = rate_flag(cfg, name);
    uint64_t u;
    if(rate) {
      if(!parse_double(value, 0.0, 1.0, rate))
        return bad(err, errlen, "%s wants a rate in [0, 1], got '%.64s'",
                   name, value);
    }
    else if(!strcmp(name, "--listen")) {
      if(parse_listen(cfg, value, err, errlen))
        return CONFIG_BAD;
    }
    else if(!strcmp(name, "--user")) {
      if(parse_user(cfg, &own_users, value, err, errlen))
        return CONFIG_BAD;
    }
    else if(!strcmp(name, "--seed")) {
      if(!parse_uint(value, UINT64_MAX, &cfg->seed))
        return bad(err, errlen, "--seed wants a non-negative integer");
    }
    else if(!strcmp(name, "--token-ttl")) {
      if(!parse_seconds_ms(value, 0.001, 366.0 * 86400, &cfg->token_ttl_ms) ||
         cfg->token_ttl_ms == 0)
        return bad(err, errlen, "--token-ttl wants seconds, more than 0");
    }
    else if(!strcmp(name, "--fail-status")) {
      if(!parse_uint(value, 599, &u) || u < 400)
        return bad(err, errlen, "--fail-status wants a status in 400-599");
      cfg->fail_status = (unsigned)u;
    }
    else if(!strcmp(name, "--lag")) {
      if(!parse_uint(value, 3600000, &cfg->lag_ms))
        return bad(err, errlen, "--lag wants milliseconds (0-3600000)");
    }
    else if(!strcmp(name, "--slow-ms")) {
      if(!parse_uint(value, 600000, &cfg->slow_ms))
        return bad(err, errlen, "--slow-ms wants milliseconds (0-600000)");
    }
    else if(!strcmp(name, "--retry-after")) {
      if(!parse_uint(value, 86400, &cfg->retry_after_s))
        return bad(err, errlen, "--retry-after wants seconds (0-86400)");
    }
    else if(!strcmp(name, "--max-body")) {
      if(!parse_uint(value, CONFIG_MAX_BODY, &u) || u == 0)
        return bad(err, errlen, "--max-body wants bytes (1-%u)",
                   CONFIG_MAX_BODY);
      cfg->max_body = (size_t)u;
    }
    else if(!strcmp(name, "--outage")) {
      char tmp[64];
      const char *colon = strchr(value, ':');
      size_t slen = colon ? (size_t)(colon - value) : 0;
      if(!colon || slen >= sizeof(tmp))
        return bad(err, errlen, "--outage wants START:SECONDS");
      memcpy(tmp, value, slen);
      tmp[slen] = '\0';
      if(!parse_seconds_ms(tmp, 0.0, 366.0 * 86400, &cfg->outage_start_ms) ||
         !parse_seconds_ms(colon + 1, 0.0, 366.0 * 86400, &cfg->outage_len_ms))
        return bad(err, errlen,
                   "--outage wants START:SECONDS, both non-negative seconds");
      cfg->outage = cfg->outage_len_ms > 0;
    }
  }
  return CONFIG_OK;
}
