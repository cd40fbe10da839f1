/* server: todo-server's HTTP face. Binds the listening socket, runs
 * libmicrohttpd on a pool of epoll threads, routes each request, draws
 * and applies its faults and turns store results into JSON responses. The
 * shared state lives in the store; flags come from config. Never touches
 * signals, stdout or the process's exit status: main owns those. */
#ifndef TODO_SERVER_H
#define TODO_SERVER_H

#include <stddef.h>

#include "config.h"

enum server_result {
  SERVER_OK = 0,
  SERVER_BIND,  /* the address would not resolve, bind or listen */
  SERVER_NOMEM,
  SERVER_MHD    /* libmicrohttpd would not start */
};

struct server;

/* Binds cfg's address and starts serving. cfg must outlive the server. On
 * failure *out is NULL and err (errlen bytes) says why. */
enum server_result server_start(const struct todo_config *cfg,
                                struct server **out, char *err,
                                size_t errlen);

/* "http://HOST:PORT" with the port actually bound. Owned by the server. */
const char *server_url(const struct server *srv);

/* Wakes delayed (--slow-rate) responses, closes every connection, joins
 * every thread and frees the server. NULL is fine. */
void server_stop(struct server *srv);

#endif
