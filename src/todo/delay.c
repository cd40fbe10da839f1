/* delay: the queue of --slow-rate responses and the timer thread that
 * sends them. A delayed reply's connection is suspended and its request
 * queued; the timer resumes each when its --slow-ms are over, and every
 * one at once when the server stops, so a delay holds up nothing else.
 * Uses the server's delay_mu, delay_cv, queue and flags (server.c creates
 * them) and the store's clock; never touches the store's state, routes or
 * the listening socket. */
#include "server_internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC ms milliseconds from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(uint64_t ms)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_sec += (time_t)(ms / 1000);
  t.tv_nsec += (long)(ms % 1000) * 1000000L;
  if(t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

/* Suspends conn for --slow-ms and queues req for the timer; the access
 * handler is called again once the timer resumes it. False (answer now)
 * when the server is stopping. Call only from the access handler. */
bool server_delay(struct server *srv, struct request *req,
                  struct MHD_Connection *conn)
{
  pthread_mutex_lock(&srv->delay_mu);
  bool queued = !srv->stopping && srv->timer_running;
  if(queued) {
    /* suspended before the timer can see it, so never resumed first */
    MHD_suspend_connection(conn);
    req->conn = conn;
    req->due_ms = store_now_ms(srv->store) + srv->cfg->slow_ms;
    req->next_delayed = NULL;
    if(srv->delay_tail)
      srv->delay_tail->next_delayed = req;
    else
      srv->delay_head = req;
    srv->delay_tail = req;
    pthread_cond_signal(&srv->delay_cv);
  }
  pthread_mutex_unlock(&srv->delay_mu);
  return queued;
}

/* The timer thread: resumes each delayed connection when it is due, and
 * every one at once when the server stops; returns when stopping and the
 * queue is empty. */
void *server_timer(void *arg)
{
  struct server *srv = arg;
  pthread_mutex_lock(&srv->delay_mu);
  for(;;) {
    struct request *req = srv->delay_head;
    if(!req) {
      if(srv->stopping)
        break;
      pthread_cond_wait(&srv->delay_cv, &srv->delay_mu);
      continue;
    }
    uint64_t now = store_now_ms(srv->store);
    if(!srv->stopping && req->due_ms > now) {
      struct timespec until = deadline_in(req->due_ms - now);
      pthread_cond_timedwait(&srv->delay_cv, &srv->delay_mu, &until);
      continue;
    }
    srv->delay_head = req->next_delayed;
    if(!srv->delay_head)
      srv->delay_tail = NULL;
    /* once resumed, req may be answered and freed at any moment */
    struct MHD_Connection *conn = req->conn;
    pthread_mutex_unlock(&srv->delay_mu);
    MHD_resume_connection(conn);
    pthread_mutex_lock(&srv->delay_mu);
  }
  pthread_mutex_unlock(&srv->delay_mu);
  return NULL;
}

/* Stops and joins the timer thread, which first resumes every delayed
 * connection. */
void server_stop_timer(struct server *srv)
{
  pthread_mutex_lock(&srv->delay_mu);
  srv->stopping = true;
  pthread_cond_broadcast(&srv->delay_cv);
  bool running = srv->timer_running;
  srv->timer_running = false;
  pthread_mutex_unlock(&srv->delay_mu);
  if(running)
    pthread_join(srv->timer, NULL);
}
