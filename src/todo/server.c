/* server: todo-server's HTTP side (see server.h): binds the listening
 * socket, starts libmicrohttpd on a pool of epoll threads (one a CPU) with
 * request.c's callbacks, and stops it. The other rooms of the HTTP side:
 * request.c takes a request from headers to reply and applies its faults,
 * routes.c and routes_diag.c answer the paths, reply.c builds answers,
 * delay.c runs the timer thread that sends --slow-rate replies.
 *
 * The store holds all shared state; the server holds none besides the
 * daemon and the queue of delayed responses. Never writes stdout. */
#include "server.h"
#include "server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#define SERVER_MAX_CONNECTIONS 4096
#define SERVER_MAX_THREADS     16
#define SERVER_IDLE_TIMEOUT_S  120
#define SERVER_BACKLOG         1024

/* Binds and listens on cfg's address; fills srv->url. */
static enum server_result server_listen(struct server *srv, int *fd_out,
                                        bool *ipv6, char *err, size_t errlen)
{
  const struct todo_config *cfg = srv->cfg;
  struct addrinfo hints = {
    .ai_family = AF_UNSPEC,
    .ai_socktype = SOCK_STREAM,
    .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
  };
  struct addrinfo *res = NULL, *ai;
  char port[8];
  int fd = -1;
  enum server_result result = SERVER_BIND;
  snprintf(port, sizeof(port), "%u", cfg->port);
  int gai = getaddrinfo(cfg->host, port, &hints, &res);
  if(gai) {
    snprintf(err, errlen, "cannot resolve %s: %s", cfg->host,
             gai_strerror(gai));
    goto out;
  }
  snprintf(err, errlen, "no address for %s", cfg->host);
  for(ai = res; ai; ai = ai->ai_next) {
    int one = 1;
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                ai->ai_protocol);
    if(fd < 0)
      continue;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if(!bind(fd, ai->ai_addr, ai->ai_addrlen) &&
       !listen(fd, SERVER_BACKLOG))
      break;
    snprintf(err, errlen, "cannot listen on %s:%s: %s", cfg->host, port,
             strerror(errno));
    close(fd);
    fd = -1;
  }
  if(fd < 0)
    goto out;

  struct sockaddr_storage ss;
  socklen_t sslen = sizeof(ss);
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if(getsockname(fd, (struct sockaddr *)&ss, &sslen) ||
     getnameinfo((struct sockaddr *)&ss, sslen, host, sizeof(host), serv,
                 sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV)) {
    snprintf(err, errlen, "cannot read the bound address: %s",
             strerror(errno));
    close(fd);
    fd = -1;
    goto out;
  }
  *ipv6 = ss.ss_family == AF_INET6;
  snprintf(srv->url, sizeof(srv->url), *ipv6 ? "http://[%s]:%s" :
           "http://%s:%s", host, serv);
  err[0] = '\0';
  result = SERVER_OK;
out:
  if(res)
    freeaddrinfo(res);
  *fd_out = fd;
  return result;
}

/* As many connections as the descriptor limit allows, raised if it can be,
 * and never more than SERVER_MAX_CONNECTIONS. */
static unsigned server_connection_limit(void)
{
  struct rlimit rl;
  if(getrlimit(RLIMIT_NOFILE, &rl))
    return 256;
  if(rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2 * SERVER_MAX_CONNECTIONS &&
     (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur)) {
    rlim_t want = 2 * SERVER_MAX_CONNECTIONS;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ?
                  want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if(rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > SERVER_MAX_CONNECTIONS + 64)
    return SERVER_MAX_CONNECTIONS;
  return rl.rlim_cur > 96 ? (unsigned)rl.rlim_cur - 64 : 32;
}

/* Threads for the pool: one a CPU, at least 2, at most
 * SERVER_MAX_THREADS. */
static unsigned server_threads(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if(n < 2)
    return 2;
  return n > SERVER_MAX_THREADS ? SERVER_MAX_THREADS : (unsigned)n;
}

enum server_result server_start(const struct todo_config *cfg,
                                struct server **out, char *err,
                                size_t errlen)
{
  enum server_result result = SERVER_NOMEM;
  int fd = -1;
  bool ipv6 = false, mu = false, cv = false;
  pthread_condattr_t attr;
  struct server *srv = calloc(1, sizeof(*srv));
  *out = NULL;
  snprintf(err, errlen, "out of memory");
  if(!srv)
    return SERVER_NOMEM;
  srv->cfg = cfg;

  uint64_t salt = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  int rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if(rfd >= 0) {
    uint64_t r;
    if(read(rfd, &r, sizeof(r)) == (ssize_t)sizeof(r))
      salt ^= r;
    close(rfd);
  }
  srv->store = store_new(cfg, salt);
  if(!srv->store)
    goto fail;
  if(pthread_mutex_init(&srv->delay_mu, NULL))
    goto fail;
  mu = true;
  if(pthread_condattr_init(&attr))
    goto fail;
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  cv = !pthread_cond_init(&srv->delay_cv, &attr);
  pthread_condattr_destroy(&attr);
  if(!cv)
    goto fail;
  if(pthread_create(&srv->timer, NULL, server_timer, srv)) {
    snprintf(err, errlen, "cannot start a thread");
    goto fail;
  }
  srv->timer_running = true;

  result = server_listen(srv, &fd, &ipv6, err, errlen);
  if(result)
    goto fail;

  unsigned flags = MHD_ALLOW_SUSPEND_RESUME |
                   (MHD_is_feature_supported(MHD_FEATURE_EPOLL) ?
                    MHD_USE_EPOLL_INTERNAL_THREAD :
                    MHD_USE_POLL_INTERNAL_THREAD);
  if(ipv6)
    flags |= MHD_USE_IPv6;
  if(cfg->log)
    flags |= MHD_USE_ERROR_LOG;
  srv->daemon = MHD_start_daemon(
    flags, 0, NULL, NULL, server_access, srv,
    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
    MHD_OPTION_THREAD_POOL_SIZE, server_threads(),
    MHD_OPTION_NOTIFY_COMPLETED, server_completed, srv,
    MHD_OPTION_NOTIFY_CONNECTION, server_connection, srv,
    MHD_OPTION_CONNECTION_LIMIT, server_connection_limit(),
    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVER_IDLE_TIMEOUT_S,
    MHD_OPTION_END);
  if(!srv->daemon) {
    result = SERVER_MHD;
    snprintf(err, errlen, "libmicrohttpd would not start on %s", srv->url);
    goto fail;
  }
  *out = srv;
  return SERVER_OK;

fail:
  if(fd >= 0)
    close(fd);
  if(cv) {
    server_stop_timer(srv);
    pthread_cond_destroy(&srv->delay_cv);
  }
  if(mu)
    pthread_mutex_destroy(&srv->delay_mu);
  store_free(srv->store);
  free(srv);
  return result;
}

const char *server_url(const struct server *srv)
{
  return srv->url;
}

void server_stop(struct server *srv)
{
  if(!srv)
    return;
  /* No connection may stay suspended into MHD_stop_daemon(): the timer
   * resumes them all, and after it no new delay is taken. */
  server_stop_timer(srv);
  MHD_stop_daemon(srv->daemon); /* joins every thread, closes the socket */
  pthread_cond_destroy(&srv->delay_cv);
  pthread_mutex_destroy(&srv->delay_mu);
  store_free(srv->store);
  free(srv);
}
