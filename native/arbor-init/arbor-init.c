/* arbor-init is pid 1 of every linux-backend container: it holds the namespaces, reaps the
 * orphans the kernel hands it, and exits only on SIGTERM or SIGKILL sent from outside the
 * container (signals from inside are ignored). It is linked statically because it is
 * started after pivot_root, where no host library exists.
 * With --hold it is instead the runc backend's trampoline for a new process (see hold).
 * Covered by: packages/backend-linux/src/namespace-containerizer.int.spec.ts
 * ("pid 1 is the init and host processes are invisible") and the runc contract. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* hold is `arbor-init --hold -- PROGRAM [ARG]...`, started by `runc exec` with fds 3 and 4
 * from arbor-exec's supervisor: it waits for one byte on fd 3 (the supervisor's go, sent once
 * runc has finished and the container's pid limit is back), then execs PROGRAM through PATH.
 * If that fails it writes "<code> <message>" to fd 4, which a successful exec closes. */
static int hold(char **argv) {
  char go;
  ssize_t n;
  do {
    n = read(3, &go, 1);
  } while (n < 0 && errno == EINTR);
  close(3);
  if (n != 1) return 127; /* the supervisor is gone */
  fcntl(4, F_SETFD, FD_CLOEXEC);
  execvp(argv[0], argv);
  int saved = errno;
  /* no program the user may run there is the caller's mistake, 3 (EXIT_NOT_FOUND), as in arbor-exec's names_no_program */
  int not_found = saved == ENOENT || saved == ENOTDIR || saved == ENAMETOOLONG || saved == ELOOP || saved == EACCES || saved == ENOEXEC;
  dprintf(4, "%d exec %s: %s", not_found ? 3 : 1, argv[0], strerror(saved));
  return 127;
}

int main(int argc, char **argv) {
  if (argc > 3 && strcmp(argv[1], "--hold") == 0 && strcmp(argv[2], "--") == 0) return hold(&argv[3]);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  prctl(PR_SET_NAME, "arbor-init", 0, 0, 0);
  for (;;) {
    siginfo_t info;
    if (sigwaitinfo(&all, &info) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (info.si_signo == SIGCHLD) {
      while (waitpid(-1, NULL, WNOHANG) > 0) {
      }
    } else if (info.si_signo == SIGTERM && info.si_pid == 0) {
      /* si_pid is 0 for a sender outside this pid namespace: arbord stopping the container */
      return 0;
    }
  }
}
