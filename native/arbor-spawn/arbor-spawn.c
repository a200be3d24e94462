/* arbor-spawn is arbord's fork server: a small long-lived coprocess that starts the other
 * helpers for it. Node's child_process.spawn forks the whole daemon (10-14 ms for a process
 * of arbord's size); this process is tiny, so posix_spawn here costs well under 1 ms.
 *
 * It reads requests on stdin and writes one response per request on stdout, in any order
 * (several helpers may run at once). Every number is a native-endian uint32/int32.
 *   request:  len id timeout_ms argc (arglen arg)*argc      (len counts what follows it)
 *   response: len id status exit signal errno outlen out... err...
 * Each argument carries its own length and may hold no NUL: an argument can never turn into
 * two. A request that does not add up exactly (an argument past its end, bytes left over,
 * argc 0 or over 4096, over 4 MiB in all) is answered with status refused and errno EINVAL
 * or E2BIG, and nothing runs; len alone delimits requests, so the next one is read as sent.
 * A frame too short to hold an id is answered as id 0, which the TS side never uses.
 *
 * status: 0 exited: exit is the helper's exit code (-1 when a signal ended it, then signal
 *           names it); out and err are what it wrote on stdout and stderr. The response is
 *           written once the helper has exited and both outputs are closed, as Node's
 *           'close' event would.
 *         1 not started: errno says why (like ENOENT).
 *         2 timed out: timeout_ms (0: none) passed first. The helper's process group got
 *           SIGKILL; out and err are what it wrote until then.
 *         3 refused: a malformed request, see above.
 *         4 busy: 256 helpers run already; nothing was started.
 *
 * Each helper starts in a process group of its own (its pid), stdin /dev/null, no signal
 * blocked, every handler default, and only fds 0-2: arbor-spawn closes whatever it inherited
 * from arbord at start and opens its own fds close-on-exec. On a timeout the group of the
 * direct child is killed: the helper and whatever it forked and did not detach. What a
 * helper detached on purpose (setsid: arbor-exec's supervisor, which must outlive arbord)
 * is spared. The group id cannot be reused meanwhile: a helper that has exited stays a
 * zombie (waitid WNOWAIT) until its job is over, so its pid, and group id, stay taken.
 * On end of stdin it finishes the helpers still running, then exits.
 *
 * usage: arbor-spawn     (started by HelperRunner in packages/host)
 * Covered by: packages/host/src/run-helper.int.spec.ts */
#define _GNU_SOURCE
#include "../common/arbor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <time.h>
#include <unistd.h>

#define MAX_JOBS 256
#define MAX_REQUEST (4u << 20)
#define MAX_ARGS 4096
/* MAX_OUTPUT bounds what is kept of one helper's stdout or stderr: helpers print a pid or a
 * line of JSON, so a helper printing more is broken or fed hostile data; the rest is read
 * and dropped, and the kept part ends with a marker saying so. */
#define MAX_OUTPUT (1u << 20)

enum { DONE_EXITED = 0, DONE_NOT_STARTED = 1, DONE_TIMED_OUT = 2, DONE_REFUSED = 3, DONE_BUSY = 4 };

extern char **environ;

struct buffer {
  char *data;
  size_t len, cap;
};

struct job {
  int used;
  uint32_t id;
  pid_t pid;
  int exited;       /* it has ended; still a zombie until release() reaps it */
  int exit_code;    /* -1 when a signal ended it */
  int signal;
  int answered;     /* timed out: answered already, kept only until it can be reaped */
  int64_t deadline; /* CLOCK_MONOTONIC ms; 0: none */
  int fds[2];       /* stdout, stderr read ends; -1 once closed */
  struct buffer out[2];
};

static struct job jobs[MAX_JOBS];
static int stdin_open = 1;
static struct buffer in;
/* skipping is how many bytes of an oversized request are still to be dropped */
static size_t skipping;
static char *argv_buf[MAX_ARGS + 1];

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

static void respond(uint32_t id, int status, int32_t exit_code, int32_t signal_number, int32_t err_no, const struct buffer *out,
                    const struct buffer *err) {
  uint32_t out_len = out ? (uint32_t)out->len : 0, err_len = err ? (uint32_t)err->len : 0;
  uint32_t head[7] = {(uint32_t)(6 * 4) + out_len + err_len, id, (uint32_t)status, (uint32_t)exit_code, (uint32_t)signal_number,
                      (uint32_t)err_no, out_len};
  struct buffer msg = {0};
  append(&msg, head, sizeof head);
  if (out_len) append(&msg, out->data, out_len);
  if (err_len) append(&msg, err->data, err_len);
  write_all(msg.data, msg.len);
  free(msg.data);
}

static void answer_only(uint32_t id, int status, int err_no) {
  respond(id, status, -1, 0, err_no, NULL, NULL);
}

/* release reaps a job's helper (a zombie by now), closes what is left and frees the slot. */
static void release(struct job *j) {
  waitpid(j->pid, NULL, 0);
  for (int k = 0; k < 2; k++) {
    if (j->fds[k] >= 0) close(j->fds[k]);
    free(j->out[k].data);
  }
  memset(j, 0, sizeof *j);
}

static void finish_if_done(struct job *j) {
  if (!j->used || !j->exited) return;
  if (j->answered) {
    release(j);
    return;
  }
  if (j->fds[0] >= 0 || j->fds[1] >= 0) return;
  respond(j->id, DONE_EXITED, j->exit_code, j->signal, 0, &j->out[0], &j->out[1]);
  release(j);
}

/* expire kills the process group of every helper past its deadline and answers for it. */
static void expire(int64_t now) {
  for (int i = 0; i < MAX_JOBS; i++) {
    struct job *j = &jobs[i];
    if (!j->used || j->answered || !j->deadline || now < j->deadline) continue;
    /* safe while the helper is unreaped: its pid, the group id, cannot belong to another */
    killpg(j->pid, SIGKILL);
    respond(j->id, DONE_TIMED_OUT, -1, 0, 0, &j->out[0], &j->out[1]);
    j->answered = 1;
    /* what it left behind may hold the pipes open: stop reading them */
    for (int k = 0; k < 2; k++) {
      if (j->fds[k] >= 0) close(j->fds[k]);
      j->fds[k] = -1;
    }
    finish_if_done(j);
  }
}

/* poll_timeout is how long poll may sleep before the next deadline, -1 for no deadline. */
static int poll_timeout(int64_t now) {
  int64_t next = -1;
  for (int i = 0; i < MAX_JOBS; i++) {
    const struct job *j = &jobs[i];
    if (j->used && !j->answered && j->deadline && (next < 0 || j->deadline < next)) next = j->deadline;
  }
  if (next < 0) return -1;
  if (next <= now) return 0;
  return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

/* start runs argv (NULL-terminated) as the helper of request id. */
static void start(uint32_t id, uint32_t timeout_ms, char **argv) {
  struct job *j = NULL;
  for (int i = 0; i < MAX_JOBS && !j; i++)
    if (!jobs[i].used) j = &jobs[i];
  if (!j) {
    answer_only(id, DONE_BUSY, EAGAIN);
    return;
  }
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    answer_only(id, DONE_NOT_STARTED, errno);
    return;
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    close(out[0]);
    close(out[1]);
    answer_only(id, DONE_NOT_STARTED, e);
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
  /* the helper starts as Node would start it: no signal blocked, every handler default;
   * in a group of its own, so that a timeout can kill it with what it forked */
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    answer_only(id, DONE_NOT_STARTED, rc);
    return;
  }
  memset(j, 0, sizeof *j);
  j->used = 1;
  j->id = id;
  j->pid = pid;
  j->deadline = timeout_ms ? now_ms() + timeout_ms : 0;
  j->fds[0] = out[0];
  j->fds[1] = err[0];
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
}

/* take_request checks one request (p: len bytes after its len) and starts it. The
 * arguments are moved 4 bytes down in place, over their own length, to end each in a NUL. */
static void take_request(char *p, uint32_t len) {
  uint32_t head[3];
  if (len < sizeof head) {
    uint32_t id = 0;
    if (len >= 4) memcpy(&id, p, 4);
    answer_only(id, DONE_REFUSED, EINVAL);
    return;
  }
  memcpy(head, p, sizeof head);
  uint32_t id = head[0], timeout_ms = head[1], argc = head[2];
  if (argc == 0 || argc > MAX_ARGS) {
    answer_only(id, DONE_REFUSED, argc ? E2BIG : EINVAL);
    return;
  }
  size_t off = sizeof head;
  for (uint32_t i = 0; i < argc; i++) {
    uint32_t arg_len;
    if (len - off < 4) goto malformed;
    memcpy(&arg_len, p + off, 4);
    if (arg_len > len - off - 4) goto malformed;
    char *arg = p + off + 4;
    if (memchr(arg, '\0', arg_len)) goto malformed;
    memmove(p + off, arg, arg_len);
    p[off + arg_len] = '\0';
    argv_buf[i] = p + off;
    off += 4 + (size_t)arg_len;
  }
  if (off != len) goto malformed;
  argv_buf[argc] = NULL;
  start(id, timeout_ms, argv_buf);
  return;
malformed:
  answer_only(id, DONE_REFUSED, EINVAL);
}

/* take_requests handles every complete request in the input buffer. */
static void take_requests(void) {
  size_t off = 0;
  for (;;) {
    size_t avail = in.len - off;
    if (skipping) {
      size_t n = avail < skipping ? avail : skipping;
      off += n;
      skipping -= n;
      if (skipping) break;
      continue;
    }
    if (avail < 4) break;
    uint32_t len;
    memcpy(&len, in.data + off, 4);
    if (len > MAX_REQUEST) {
      /* too big to buffer: answer as soon as the id is in, then drop the rest as it comes */
      if (avail < 8) break;
      uint32_t id;
      memcpy(&id, in.data + off + 4, 4);
      answer_only(id, DONE_REFUSED, E2BIG);
      off += 8;
      skipping = len - 4;
      continue;
    }
    if (avail - 4 < len) break;
    take_request(in.data + off + 4, len);
    off += 4 + (size_t)len;
  }
  memmove(in.data, in.data + off, in.len - off);
  in.len -= off;
}

/* check_exits notes every helper that has ended, leaving it a zombie (see release). */
static void check_exits(void) {
  for (int i = 0; i < MAX_JOBS; i++) {
    struct job *j = &jobs[i];
    if (!j->used || j->exited) continue;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)j->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) continue;
    j->exited = 1;
    j->exit_code = si.si_code == CLD_EXITED ? si.si_status : -1;
    j->signal = si.si_code == CLD_EXITED ? 0 : si.si_status;
    finish_if_done(j);
  }
}

static int running(void) {
  for (int i = 0; i < MAX_JOBS; i++)
    if (jobs[i].used) return 1;
  return 0;
}

/* close_inherited closes every fd over 2 that arbord left open (a socket, a depot file):
 * helpers, and the containers they enter, must not get them. */
static void close_inherited(void) {
  if (close_range(3, ~0U, 0) == 0) return;
  /* before Linux 5.9: mark them close-on-exec instead */
  DIR *d = opendir("/proc/self/fd");
  if (!d) bail(EXIT_HELPER_FAILED, "close inherited fds: open /proc/self/fd");
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (fd > 2 && fd != dirfd(d)) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  closedir(d);
}

int main(void) {
  helper_name = "arbor-spawn";
  close_inherited();
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0) bail(EXIT_HELPER_FAILED, "block SIGCHLD");
  int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) bail(EXIT_HELPER_FAILED, "signalfd");
  fcntl(STDIN_FILENO, F_SETFD, FD_CLOEXEC);
  fcntl(STDOUT_FILENO, F_SETFD, FD_CLOEXEC);
  static struct pollfd fds[2 + 2 * MAX_JOBS];
  static struct job *owner[2 + 2 * MAX_JOBS];
  static int which[2 + 2 * MAX_JOBS];
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
    if (poll(fds, (nfds_t)n, poll_timeout(now_ms())) < 0) {
      if (errno == EINTR) continue;
      bail(EXIT_HELPER_FAILED, "poll");
    }
    int first_job = stdin_open ? 2 : 1;
    for (int i = first_job; i < n; i++) {
      struct job *j = owner[i];
      int k = which[i];
      /* an earlier entry may have finished this job already */
      if (!fds[i].revents || !j->used || j->fds[k] != fds[i].fd) continue;
      char buf[16384];
      ssize_t got = read(j->fds[k], buf, sizeof buf);
      if (got > 0) {
        size_t room = j->out[k].len < MAX_OUTPUT ? MAX_OUTPUT - j->out[k].len : 0;
        if ((size_t)got <= room) {
          append(&j->out[k], buf, (size_t)got);
        } else if (room > 0 || j->out[k].len == MAX_OUTPUT) {
          static const char cut[] = "\n[arbor-spawn: output cut at 1 MiB]\n";
          append(&j->out[k], buf, room);
          append(&j->out[k], cut, sizeof cut - 1);
        }
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
      check_exits();
    }
    expire(now_ms());
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
