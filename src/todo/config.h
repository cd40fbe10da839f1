/* config: todo-server's command line. Parses and checks every flag into a
 * struct todo_config, with caps on every value, and prints the usage text.
 * Never opens sockets, starts threads or exits: main decides what a bad
 * flag costs. */
#ifndef TODO_CONFIG_H
#define TODO_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>

#include "faults.h"

#define CONFIG_MAX_USERS   64
#define CONFIG_MAX_NAME    64   /* bytes in a user name */
#define CONFIG_MAX_SECRET  128  /* bytes in a user's secret */
#define CONFIG_MAX_HOST    255
#define CONFIG_MAX_BODY    (16u * 1024 * 1024)

struct todo_user {
  char name[CONFIG_MAX_NAME + 1];
  char secret[CONFIG_MAX_SECRET + 1];
};

struct todo_config {
  char host[CONFIG_MAX_HOST + 1];
  unsigned port;
  uint64_t seed;
  struct todo_user users[CONFIG_MAX_USERS];
  size_t nusers;
  uint64_t token_ttl_ms;
  bool log;
  struct fault_rates rates;
  unsigned fail_status;
  uint64_t lag_ms;
  uint64_t slow_ms;
  uint64_t retry_after_s;
  bool retry_after_date;    /* send Retry-After as an HTTP date */
  bool outage;
  uint64_t outage_start_ms;
  uint64_t outage_len_ms;
  size_t max_body;
};

enum config_result {
  CONFIG_OK = 0,
  CONFIG_HELP, /* --help was asked for */
  CONFIG_BAD   /* err says which flag and why */
};

/* Fills cfg from argv[1..argc). On CONFIG_BAD, err (errlen bytes) holds one
 * line naming the flag. cfg holds no pointers into argv. */
enum config_result config_parse(struct todo_config *cfg, int argc,
                                char **argv, char *err, size_t errlen);

void config_usage(FILE *out);

#endif
