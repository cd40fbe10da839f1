/* main: todo-server's entry point. Reads the flags, starts the server,
 * prints the one line scripts wait for ("listening on http://HOST:PORT")
 * and sleeps in sigwait() until SIGTERM or SIGINT, then stops the server
 * and exits 0. Exit 2 for bad flags, 1 when the server cannot start. The
 * signals are blocked in every thread, so no handler ever runs; this file
 * is the only one that writes stdout or decides the exit status. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "config.h"
#include "server.h"

int main(int argc, char **argv)
{
  static struct todo_config cfg; /* large; outlives the server */
  char err[256];
  sigset_t stop;
  int sig = 0;

  switch(config_parse(&cfg, argc, argv, err, sizeof(err))) {
  case CONFIG_OK:
    break;
  case CONFIG_HELP:
    config_usage(stdout);
    return 0;
  default:
    fprintf(stderr, "todo-server: %s\n", err);
    config_usage(stderr);
    return 2;
  }

  /* Blocked before any thread starts, so every thread inherits the mask
   * and the signals wait for sigwait() below. */
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct server *srv;
  if(server_start(&cfg, &srv, err, sizeof(err))) {
    fprintf(stderr, "todo-server: %s\n", err);
    return 1;
  }
  printf("listening on %s\n", server_url(srv));
  fflush(stdout);

  while(sigwait(&stop, &sig))
    ;
  if(cfg.log)
    fprintf(stderr, "todo-server: %s, stopping\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
  server_stop(srv);
  return 0;
}
