/* syscall-probe makes one raw system call per argument and prints "<probe>=<answer>" for each,
 * the answer OK or the name of the errno the call failed with (EPERM, ENOSYS, ...): what a
 * container's seccomp filter lets through and what it refuses, asked the same way on every
 * backend. Each call is harmless when it is let through (a mount on a missing directory, a key
 * in the probe's own keyring, namespaces of the probe's own). Built with `gcc -static` by the
 * tests, so it runs in any rootfs.
 * usage: syscall-probe PROBE...   (PROBE as in the table below)
 * Covered by: packages/backend-linux/src/namespace-containerizer.int.spec.ts and
 * packages/backend-runc/src/runc-containerizer.int.spec.ts (the seccomp allowlist blocks). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define ADDR_NO_RANDOMIZE 0x0040000
#define PER_LINUX32 0x0008
#define KEYCTL_GET_KEYRING_ID 0
#define KEY_SPEC_PROCESS_KEYRING -2
#define KEY_SPEC_SESSION_KEYRING -3

/* child_answer reaps a child made by a raw clone and says whether it ran. */
static long child_answer(long pid) {
  if (pid == 0) _exit(0);
  if (pid < 0) return -1;
  int status;
  if (waitpid((pid_t)pid, &status, 0) != (pid_t)pid) return -1;
  return 0;
}

static long io_uring(void) {
  unsigned char params[120] = {0}; /* struct io_uring_params, zeroed */
  long fd = syscall(SYS_io_uring_setup, 1, params);
  if (fd >= 0) close((int)fd);
  return fd;
}

static long persona(unsigned long p) { return syscall(SYS_personality, p); }

static long perf_event(void) {
  struct perf_event_attr attr = {.type = PERF_TYPE_SOFTWARE, .size = sizeof attr, .config = PERF_COUNT_SW_CPU_CLOCK};
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
  if (fd >= 0) close((int)fd);
  return fd;
}

static long clone_flags(unsigned long flags) {
  return child_answer(syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0));
}

static long clone3_plain(void) {
  struct clone_args args = {.exit_signal = SIGCHLD};
  return child_answer(syscall(SYS_clone3, &args, sizeof args));
}

static long socket_of(int family) {
  long fd = syscall(SYS_socket, family, SOCK_STREAM, 0);
  if (fd >= 0) close((int)fd);
  return fd;
}

static void *nothing(void *arg) { return arg; }

/* threads_and_fork is what a threaded server does at start: a thread, then a fork and exec-less child. */
static long threads_and_fork(void) {
  pthread_t t;
  if ((errno = pthread_create(&t, NULL, nothing, NULL)) != 0) return -1;
  pthread_join(t, NULL);
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  if (pid < 0) return -1;
  int status;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? 0 : -1;
}

static long probe(const char *name) {
  if (strcmp(name, "io_uring_setup") == 0) return io_uring();
  if (strcmp(name, "personality-addr-no-randomize") == 0) return persona(ADDR_NO_RANDOMIZE);
  if (strcmp(name, "personality-linux32") == 0) return persona(PER_LINUX32);
  if (strcmp(name, "personality-query") == 0) return persona(0xffffffff);
  if (strcmp(name, "keyctl") == 0) return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
  if (strcmp(name, "add_key") == 0) return syscall(SYS_add_key, "user", "arbor-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
  if (strcmp(name, "unshare-newuser") == 0) return syscall(SYS_unshare, CLONE_NEWUSER);
  if (strcmp(name, "clone-newuser") == 0) return clone_flags(CLONE_NEWUSER);
  if (strcmp(name, "clone-fork") == 0) return clone_flags(0);
  if (strcmp(name, "clone3") == 0) return clone3_plain();
  if (strcmp(name, "mount") == 0) return syscall(SYS_mount, "none", "/arbor-probe-missing", "tmpfs", 0, NULL);
  if (strcmp(name, "perf_event_open") == 0) return perf_event();
  if (strcmp(name, "socket-vsock") == 0) return socket_of(AF_VSOCK);
  if (strcmp(name, "socket-inet") == 0) return socket_of(AF_INET);
  if (strcmp(name, "socket-unix") == 0) return socket_of(AF_UNIX);
  if (strcmp(name, "threads-and-fork") == 0) return threads_and_fork();
  errno = EINVAL;
  return -2;
}

/* main asks each probe in a child of its own, so that one let through (a new user namespace,
 * a personality) cannot change the answer of the next. */
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      errno = 0;
      long rc = probe(argv[i]);
      if (rc == -2) printf("%s=unknown-probe\n", argv[i]);
      else if (rc < 0) printf("%s=%s\n", argv[i], strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
      else printf("%s=OK\n", argv[i]);
      fflush(stdout);
      _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) printf("%s=crashed\n", argv[i]);
  }
  return 0;
}
