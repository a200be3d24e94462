/* arbor-init is pid 1 of every container, on linux and runc: it holds the namespaces, reaps
 * the orphans the kernel hands it, and exits only on SIGTERM or SIGKILL sent from outside the
 * container (signals from inside are ignored). It is linked statically because it is
 * started after pivot_root, where no host library exists.
 * Covered by: packages/backend-linux/src/namespace-containerizer.int.spec.ts
 * ("pid 1 is the init and host processes are invisible") and the runc contract. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
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
