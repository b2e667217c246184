/* The pod sandbox's process: holds the pod's namespaces and waits until it is told to stop.
 * Built static (images/pause/build.sh), so the image is this one file FROM scratch and no
 * registry is needed for the node's sandbox image. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction stop_action = {.sa_handler = stop};
  struct sigaction reap_action = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  sigaction(SIGINT, &stop_action, NULL);
  sigaction(SIGTERM, &stop_action, NULL);
  sigaction(SIGCHLD, &reap_action, NULL);  /* PID 1 of a shared PID namespace reaps orphans */
  for (;;) pause();
  return EXIT_FAILURE;
}
