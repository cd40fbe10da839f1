/* server_internal: what the files of todo-server's HTTP side share, and
 * nothing else includes: the server and request structs, and the
 * functions one of them calls in another. server.c owns the server
 * (listening, the daemon, start and stop); request.c the libmicrohttpd
 * callbacks that take a request from its headers to its reply; routes.c
 * and routes_diag.c answer the paths; delay.c parks --slow-rate replies
 * and runs the timer thread. main.c sees only server.h. */
#ifndef TODO_SERVER_INTERNAL_H
#define TODO_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "buf.h"
#include "config.h"
#include "faults.h"
#include "reply.h"
#include "store.h"

struct request;

/* One running todo-server: server_start makes it, server_stop frees it. */
struct server {
  const struct todo_config *cfg;
  struct store *store;
  struct MHD_Daemon *daemon;
  /* Delayed (--slow-rate) responses, oldest first: every delay is the
   * same --slow-ms, so the head is always the first due. delay_mu guards
   * the queue and stopping. */
  pthread_mutex_t delay_mu;
  pthread_cond_t delay_cv;
  struct request *delay_head, *delay_tail;
  bool stopping;
  bool timer_running;
  pthread_t timer;
  char url[CONFIG_MAX_HOST + 32];
};

/* One HTTP request, from its headers to its completion callback. */
struct request {
  bool counted;          /* not /_stats or /_redirect: counted, and its
                            faults drawn */
  struct fault_draw draw;
  uint64_t outage_left;  /* ms of --outage left when the headers came */
  struct buf body;       /* body.err BUF_TOO_BIG: over --max-body */
  /* a delayed response: built, waiting in the queue, owned here */
  struct MHD_Response *pending;
  unsigned pending_status;
  struct MHD_Connection *conn;
  uint64_t due_ms;
  struct request *next_delayed;
};

/* The value of request header name, or NULL. Owned by libmicrohttpd, valid
 * while the request lasts. */
static inline const char *header(struct MHD_Connection *conn,
                                 const char *name)
{
  return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* routes.c: answers the API paths (/items, /items/<id>, /token) and hands
 * /_echo, /_gzip and /_headers to routes_diag.c; every other path is a 404. Called for a counted
 * request once its faults have not answered it; may apply missing-field,
 * lag-404 or lose-response, setting rp->fault. */
void route(struct server *srv, struct MHD_Connection *conn,
           struct request *req, struct reply *rp, const char *url,
           const char *method);

/* routes_diag.c: the paths for specs and operators. route_echo,
 * route_gzip and route_headers answer a counted request; route_redirect
 * and route_stats answer requests that are never counted nor faulted. */
void route_echo(struct MHD_Connection *conn, struct request *req,
                struct reply *rp, const char *method);
void route_gzip(struct MHD_Connection *conn, struct request *req,
                struct reply *rp, const char *method);
void route_headers(struct MHD_Connection *conn, struct reply *rp);
void route_redirect(struct MHD_Connection *conn, struct reply *rp);
void route_cookie(struct MHD_Connection *conn, struct reply *rp);
void route_stats(struct server *srv, struct reply *rp, const char *method);

/* delay.c: the queue of delayed responses and its timer thread. */
bool server_delay(struct server *srv, struct request *req,
                  struct MHD_Connection *conn);
void *server_timer(void *arg);
void server_stop_timer(struct server *srv);

/* request.c: the libmicrohttpd callbacks server_start installs; cls is
 * the server. */
enum MHD_Result server_access(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls);
void server_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe);
void server_connection(void *cls, struct MHD_Connection *conn,
                       void **socket_context,
                       enum MHD_ConnectionNotificationCode toe);

#endif
