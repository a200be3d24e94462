/* arbor-spawn is arbord's fork server: a small long-lived coprocess that starts the other
 * helpers for it. Node's child_process.spawn forks the whole daemon (10-14 ms for a process
 * of arbord's size); this process is tiny, so posix_spawn here costs well under 1 ms.
 *
 * It reads requests on stdin and writes one response per request on stdout, in any order
 * (several helpers may run at once). Every number is a native-endian uint32/int32.
 *   request:  len id argc argv[0]\0 argv[1]\0 ...        (len counts what follows it)
 *   response: len id exit signal errno outlen out... err...
 * exit is the helper's exit code (-1 when a signal ended it, then signal names it); errno is
 * non-zero when the helper could not be started at all (like ENOENT), and exit is then -1.
 * out and err are what the helper wrote on stdout and stderr; its stdin is /dev/null. A
 * response is written once the helper has exited and both outputs are closed, as Node's
 * 'close' event would. Helpers that leave processes behind detach them (setsid, own stdio).
 * On end of stdin it finishes the helpers still running, then exits.
 *
 * usage: arbor-spawn     (started by HelperRunner in packages/native-helpers)
 * Covered by: packages/native-helpers/src/run-helper.int.spec.ts */
#define _GNU_SOURCE
#include "../common/arbor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_JOBS 256
#define MAX_REQUEST (4u << 20)
#define MAX_ARGS 4096

extern char **environ;

struct buffer {
  char *data;
  size_t len, cap;
};

struct job {
  int used;
  uint32_t id;
  pid_t pid;
  int exited;
  int status;
  int fds[2]; /* stdout, stderr read ends; -1 once closed */
  struct buffer out[2];
};

static struct job jobs[MAX_JOBS];
static int stdin_open = 1;
static struct buffer in;

static void append(struct buffer *b, const void *data, size_t len) {
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + len) cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) bail(EXIT_HELPER_FAILED, "out of memory");
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
}

/* write_all writes a whole response; a reader that went away (EPIPE) is ignored. */
static void write_all(const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(STDOUT_FILENO, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    len -= (size_t)n;
  }
}

static void respond(uint32_t id, int32_t exit_code, int32_t signal_number, int32_t spawn_errno, const struct buffer *out,
                    const struct buffer *err) {
  uint32_t out_len = out ? (uint32_t)out->len : 0, err_len = err ? (uint32_t)err->len : 0;
  uint32_t head[6] = {(uint32_t)(5 * 4) + out_len + err_len, id, (uint32_t)exit_code, (uint32_t)signal_number,
                      (uint32_t)spawn_errno, out_len};
  struct buffer msg = {0};
  append(&msg, head, sizeof head);
  if (out_len) append(&msg, out->data, out_len);
  if (err_len) append(&msg, err->data, err_len);
  write_all(msg.data, msg.len);
  free(msg.data);
}

static void finish_if_done(struct job *j) {
  if (!j->used || !j->exited || j->fds[0] >= 0 || j->fds[1] >= 0) return;
  int code = WIFEXITED(j->status) ? WEXITSTATUS(j->status) : -1;
  int sig = WIFSIGNALED(j->status) ? WTERMSIG(j->status) : 0;
  respond(j->id, code, sig, 0, &j->out[0], &j->out[1]);
  free(j->out[0].data);
  free(j->out[1].data);
  memset(j, 0, sizeof *j);
}

/* start runs one request: argv NUL-separated in args (len bytes). */
static void start(uint32_t id, uint32_t argc, char *args, size_t len) {
  char *argv[MAX_ARGS + 1];
  if (argc == 0 || argc > MAX_ARGS) {
    respond(id, -1, 0, E2BIG, NULL, NULL);
    return;
  }
  size_t off = 0;
  for (uint32_t i = 0; i < argc; i++) {
    char *end = off < len ? memchr(args + off, '\0', len - off) : NULL;
    if (!end) {
      respond(id, -1, 0, EINVAL, NULL, NULL);
      return;
    }
    argv[i] = args + off;
    off = (size_t)(end - args) + 1;
  }
  argv[argc] = NULL;
  struct job *j = NULL;
  for (int i = 0; i < MAX_JOBS && !j; i++)
    if (!jobs[i].used) j = &jobs[i];
  if (!j) {
    respond(id, -1, 0, EAGAIN, NULL, NULL);
    return;
  }
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    respond(id, -1, 0, errno, NULL, NULL);
    return;
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    close(out[0]);
    close(out[1]);
    respond(id, -1, 0, e, NULL, NULL);
    return;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  /* the helper starts as Node would start it: no signal blocked, every handler default */
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    respond(id, -1, 0, rc, NULL, NULL);
    return;
  }
  memset(j, 0, sizeof *j);
  j->used = 1;
  j->id = id;
  j->pid = pid;
  j->fds[0] = out[0];
  j->fds[1] = err[0];
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
}

/* take_requests starts every complete request in the input buffer. */
static void take_requests(void) {
  size_t off = 0;
  while (in.len - off >= 12) {
    uint32_t head[3];
    memcpy(head, in.data + off, sizeof head);
    if (head[0] < 8 || head[0] > MAX_REQUEST) {
      errno = 0;
      bail(EXIT_BAD_USAGE, "bad request length %u", head[0]);
    }
    if (in.len - off < 4 + (size_t)head[0]) break;
    start(head[1], head[2], in.data + off + 12, head[0] - 8);
    off += 4 + head[0];
  }
  memmove(in.data, in.data + off, in.len - off);
  in.len -= off;
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_JOBS; i++) {
      if (jobs[i].used && jobs[i].pid == pid) {
        jobs[i].exited = 1;
        jobs[i].status = status;
        finish_if_done(&jobs[i]);
        break;
      }
    }
  }
}

static int running(void) {
  for (int i = 0; i < MAX_JOBS; i++)
    if (jobs[i].used) return 1;
  return 0;
}

int main(void) {
  helper_name = "arbor-spawn";
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0) bail(EXIT_HELPER_FAILED, "block SIGCHLD");
  int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) bail(EXIT_HELPER_FAILED, "signalfd");
  fcntl(STDIN_FILENO, F_SETFD, FD_CLOEXEC);
  fcntl(STDOUT_FILENO, F_SETFD, FD_CLOEXEC);
  struct pollfd fds[2 + 2 * MAX_JOBS];
  struct job *owner[2 + 2 * MAX_JOBS];
  int which[2 + 2 * MAX_JOBS];
  while (stdin_open || running()) {
    int n = 0;
    fds[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    if (stdin_open) fds[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
    for (int i = 0; i < MAX_JOBS; i++) {
      for (int k = 0; k < 2; k++) {
        if (!jobs[i].used || jobs[i].fds[k] < 0) continue;
        owner[n] = &jobs[i];
        which[n] = k;
        fds[n++] = (struct pollfd){.fd = jobs[i].fds[k], .events = POLLIN};
      }
    }
    if (poll(fds, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      bail(EXIT_HELPER_FAILED, "poll");
    }
    int first_job = stdin_open ? 2 : 1;
    for (int i = first_job; i < n; i++) {
      if (!fds[i].revents) continue;
      struct job *j = owner[i];
      int k = which[i];
      char buf[16384];
      ssize_t got = read(j->fds[k], buf, sizeof buf);
      if (got > 0) {
        append(&j->out[k], buf, (size_t)got);
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(j->fds[k]);
        j->fds[k] = -1;
        finish_if_done(j);
      }
    }
    if (fds[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {
      }
      reap();
    }
    if (stdin_open && fds[1].revents) {
      char buf[65536];
      ssize_t got = read(STDIN_FILENO, buf, sizeof buf);
      if (got > 0) {
        append(&in, buf, (size_t)got);
        take_requests();
      } else if (got == 0 || errno != EINTR) {
        stdin_open = 0;
      }
    }
  }
  return 0;
}
