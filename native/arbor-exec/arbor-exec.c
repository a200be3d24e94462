/* arbor-exec runs a process in a container so that it outlives arbord: it makes the stdio
 * FIFOs and a control FIFO in the process's depot dir, starts a supervisor in its own session
 * (double fork, so arbord is not its parent), and the supervisor forks the process into the
 * container: cgroups, namespaces of the container's init, user from the container's own
 * /etc/passwd, rlimits, working dir, env, default capabilities, no_new_privs and a seccomp
 * filter (not with --privileged), then exec.
 * The supervisor relays signals and window sizes from the control FIFO, holds the output
 * FIFOs until they are drained, and writes the exit status (128+N on signal N) atomically to
 * <dir>/exit. arbor-exec itself exits once the process has started: 0, printing the pid, or
 * EXIT_NOT_FOUND when the executable does not exist.
 *
 * usage: arbor-exec --init-pid PID --dir PROCESS_DIR [--cgroup DIR]... [--privileged] [--log-fd N]
 * Every option comes from arbord itself. What the process is (program, args, env, user,
 * working dir, rlimits, TTY) comes from API clients and images: arbord writes it to
 * <dir>/process.spec (see read_spec), never into argv, where a value could be read as an option
 * and where any host user could read env values with ps.
 *
 * The process forked into the container is visible there until it execs the program. So that
 * code in the container cannot reach arbor-exec through it (CVE-2019-5736 did that to runc),
 * arbor-exec runs from a sealed memfd copy of itself (run_sealed) and is not dumpable, so no
 * container process may ptrace it or open its /proc/<pid>/exe, mem or fds. Its seccomp filter
 * loads right after it entered the container's namespaces (the filter forbids setns), and
 * only fds 0, 1 and 2 cross into the container.
 *
 * The runc backend starts its processes the same way: --cgroup names the cgroups runc made
 * for the container's init, and the init's namespaces are runc's.
 *
 * Covered by: packages/backend-linux/src/namespace-containerizer.int.spec.ts
 * (processes, users, rlimits, TTY, restart; hostile specs, the process spec file, the /proc/<pid>/exe
 * race), packages/backend-linux/src/userns.int.spec.ts (users in a user namespace),
 * packages/backend-runc/src/runc-runtime.int.spec.ts and
 * packages/contract-tests/src/hostile/{process-spec,container-side}.hostile.int.spec.ts */
#define _GNU_SOURCE
#include "../common/arbor.h"
#include "../common/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <linux/close_range.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* MAX_ARGS and MAX_ENV bound the process spec's arguments and env entries. */
#define MAX_ARGS 8192
#define MAX_ENV 4096

extern char **environ;

static struct {
  int init_pid;
  const char *dir, *user, *cwd;
  const char *cgroups[64];
  int ncgroups;
  const char *env[MAX_ENV];
  int nenv;
  struct {
    int resource;
    const char *name;
    rlim_t value;
  } rlimits[32];
  int nrlimits;
  int tty, privileged;
  unsigned short cols, rows;
  char *argv[MAX_ARGS + 1];
} opt;

static void parse(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has = i + 1 < argc;
    if (strcmp(a, "--init-pid") == 0 && has) {
      long long pid = parse_int(argv[++i], "--init-pid");
      if (pid <= 0 || pid > INT_MAX) bail(EXIT_BAD_USAGE, "--init-pid: %lld is not a pid", pid);
      opt.init_pid = (int)pid;
    }
    else if (strcmp(a, "--dir") == 0 && has) opt.dir = argv[++i];
    else if (strcmp(a, "--privileged") == 0) opt.privileged = 1;
    else if (strcmp(a, "--log-fd") == 0 && has) log_fd = (int)parse_int(argv[++i], "--log-fd");
    else if (strcmp(a, "--cgroup") == 0 && has && opt.ncgroups < 64) opt.cgroups[opt.ncgroups++] = argv[++i];
    else bail(EXIT_BAD_USAGE, "unknown or incomplete argument '%s'", a);
  }
  if (!opt.init_pid || !opt.dir) bail(EXIT_BAD_USAGE, "--init-pid and --dir are required");
}

/* ------------------------------------------------------------------ the process spec */

/* SPEC_FILE, in the process dir, is what the process is: arbord writes it (mode 0600, in a
 * dir of mode 0700; see packages/host/src/process-spec-file.ts), arbor-exec reads
 * it and removes it at once, as its env may hold secrets. It is SPEC_MAGIC, then records of a
 * tag byte, a little-endian u32 length, that many bytes and a NUL:
 *   'p' the program, then each argument, in order   'e' an env entry KEY=VALUE (later wins)
 *   'u' the user ("", name, uid or uid:gid)          'd' the working dir, absolute
 *   'r' an rlimit NAME=N                             't' a TTY, COLSxROWS
 * It is read strictly: a NUL inside a value, an unknown tag, a repeated 'u', 'd', 't' or
 * rlimit, a record cut short or bytes after the last record are refused. */
#define SPEC_FILE "process.spec"
#define SPEC_MAGIC "ARBORPS1"
#define SPEC_MAX_BYTES (4 << 20)
/* SPEC_MAX_VALUE is the kernel's limit on one argv or env string, less its NUL (MAX_ARG_STRLEN) */
#define SPEC_MAX_VALUE 131071

static const struct {
  const char *name;
  int resource;
} rlimit_names[] = {
    {"as", RLIMIT_AS},         {"core", RLIMIT_CORE},     {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},   {"locks", RLIMIT_LOCKS},   {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE},
    {"nice", RLIMIT_NICE},     {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO}, {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
};

/* spec_fail refuses the process spec, saying which record is wrong. */
#define spec_fail(...)                                                                                                 \
  do {                                                                                                                 \
    char why_[256];                                                                                                    \
    snprintf(why_, sizeof why_, __VA_ARGS__);                                                                          \
    errno = 0;                                                                                                         \
    bail(EXIT_BAD_USAGE, "process spec: %s", why_);                                                                   \
  } while (0)

/* decimal reads a whole decimal number of 1 to digits digits, at most max; -1 when it is not one. */
static int decimal(const char *text, size_t len, int digits, unsigned long long max, unsigned long long *out) {
  if (len == 0 || len > (size_t)digits) return -1;
  unsigned long long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] < '0' || text[i] > '9') return -1;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (unsigned)(text[i] - '0'), &v)) return -1;
  }
  if (v > max) return -1;
  *out = v;
  return 0;
}

static void spec_rlimit(int record, const char *value) {
  const char *eq = strchr(value, '=');
  int found = -1;
  for (size_t k = 0; eq && k < sizeof rlimit_names / sizeof rlimit_names[0]; k++)
    if (strlen(rlimit_names[k].name) == (size_t)(eq - value) && strncmp(rlimit_names[k].name, value, (size_t)(eq - value)) == 0) found = (int)k;
  unsigned long long n;
  if (found < 0 || decimal(eq + 1, strlen(eq + 1), 20, ~0ULL, &n) != 0) spec_fail("record %d: '%.64s' is not an rlimit NAME=N", record, value);
  for (int i = 0; i < opt.nrlimits; i++)
    if (opt.rlimits[i].resource == rlimit_names[found].resource) spec_fail("record %d: rlimit %s given twice", record, rlimit_names[found].name);
  opt.rlimits[opt.nrlimits].resource = rlimit_names[found].resource;
  opt.rlimits[opt.nrlimits].name = rlimit_names[found].name;
  opt.rlimits[opt.nrlimits++].value = (rlim_t)n;
}

static void spec_tty(int record, const char *value) {
  const char *x = strchr(value, 'x');
  unsigned long long c, r;
  if (!x || decimal(value, (size_t)(x - value), 5, 65535, &c) != 0 || decimal(x + 1, strlen(x + 1), 5, 65535, &r) != 0)
    spec_fail("record %d: '%.64s' is not a TTY size COLSxROWS", record, value);
  opt.tty = 1;
  opt.cols = (unsigned short)c;
  opt.rows = (unsigned short)r;
}

/* parse_spec fills opt from the spec's size bytes at buf, which it keeps. */
static void parse_spec(char *buf, size_t size) {
  size_t magic = strlen(SPEC_MAGIC);
  if (size < magic || memcmp(buf, SPEC_MAGIC, magic) != 0) spec_fail("it does not start with %s", SPEC_MAGIC);
  int nargs = 0, record = 0, seen_user = 0, seen_cwd = 0;
  for (size_t at = magic; at < size; record++) {
    const unsigned char *head = (const unsigned char *)buf + at;
    if (size - at < 5) spec_fail("record %d is cut short", record);
    uint32_t len = (uint32_t)head[1] | (uint32_t)head[2] << 8 | (uint32_t)head[3] << 16 | (uint32_t)head[4] << 24;
    if (len > SPEC_MAX_VALUE) spec_fail("record %d: a value of %u bytes is over the %d allowed", record, len, SPEC_MAX_VALUE);
    if (size - at - 5 < (size_t)len + 1) spec_fail("record %d is cut short", record);
    char *value = buf + at + 5;
    if (memchr(value, '\0', len) || value[len] != '\0') spec_fail("record %d: a value holds a NUL or does not end in one", record);
    at += 5 + (size_t)len + 1;
    switch (head[0]) {
    case 'p':
      if (nargs == MAX_ARGS) spec_fail("more than %d arguments", MAX_ARGS);
      opt.argv[nargs++] = value;
      break;
    case 'e':
      if (opt.nenv == MAX_ENV) spec_fail("more than %d env entries", MAX_ENV);
      if (value[0] == '=' || !strchr(value, '=')) spec_fail("record %d: env entry '%.64s' is not KEY=VALUE", record, value);
      opt.env[opt.nenv++] = value;
      break;
    case 'u':
      if (seen_user++) spec_fail("record %d: a second user", record);
      opt.user = value;
      break;
    case 'd':
      if (seen_cwd++) spec_fail("record %d: a second working dir", record);
      if (value[0] != '/' || len >= PATH_MAX) spec_fail("the working dir '%.64s' is not an absolute path", value);
      opt.cwd = value;
      break;
    case 'r':
      if (opt.nrlimits == (int)(sizeof rlimit_names / sizeof rlimit_names[0])) spec_fail("record %d: too many rlimits", record);
      spec_rlimit(record, value);
      break;
    case 't':
      if (opt.tty) spec_fail("record %d: a second TTY", record);
      spec_tty(record, value);
      break;
    default:
      spec_fail("record %d has the unknown tag 0x%02x", record, head[0]);
    }
  }
  if (nargs == 0 || opt.argv[0][0] == '\0') spec_fail("the program path is missing or empty");
  opt.argv[nargs] = NULL;
  if (!opt.user) opt.user = "";
}

/* read_spec reads and removes <dir>/process.spec and fills opt from it. */
static void read_spec(void) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", opt.dir, SPEC_FILE);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) bail(EXIT_BAD_USAGE, "open %s", path);
  struct stat st;
  if (fstat(fd, &st) != 0) bail(EXIT_HELPER_FAILED, "stat %s", path);
  if (!S_ISREG(st.st_mode) || st.st_size > SPEC_MAX_BYTES) spec_fail("%s is not a regular file of at most %d bytes", SPEC_FILE, SPEC_MAX_BYTES);
  size_t size = (size_t)st.st_size, total = 0;
  char *buf = malloc(size + 1);
  if (!buf) bail(EXIT_HELPER_FAILED, "read %s", path);
  for (;;) {
    ssize_t n = read(fd, buf + total, size + 1 - total);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) bail(EXIT_HELPER_FAILED, "read %s", path);
    if (n == 0 || (total += (size_t)n) > size) break;
  }
  close(fd);
  unlink(path);
  if (total != size) spec_fail("%s changed while it was read", SPEC_FILE);
  parse_spec(buf, size);
}

/* ------------------------------------------------------------------ start up */

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* run_sealed re-executes arbor-exec from a sealed memfd copy of itself, unless it already runs
 * from one: /proc/<pid>/exe of its processes is then a file nobody can write, never the host's
 * arbor-exec. */
static void run_sealed(char **argv) {
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) bail(EXIT_HELPER_FAILED, "open /proc/self/exe");
  int seals = fcntl(self, F_GET_SEALS);
  if (seals >= 0 && (seals & SEALS) == SEALS) {
    close(self);
    return;
  }
  struct stat st;
  if (fstat(self, &st) != 0) bail(EXIT_HELPER_FAILED, "stat /proc/self/exe");
  int mem = memfd_create("arbor-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) bail(EXIT_HELPER_FAILED, "memfd_create");
  for (off_t left = st.st_size; left > 0;) {
    ssize_t n = sendfile(mem, self, NULL, (size_t)left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) bail(EXIT_HELPER_FAILED, "copy arbor-exec into a memfd");
    left -= n;
  }
  close(self);
  if (add_seals(mem, SEALS) != 0) bail(EXIT_HELPER_FAILED, "seal the memfd");
  fexecve(mem, argv, environ);
  bail(EXIT_HELPER_FAILED, "execute the sealed memfd");
}

/* cloexec_from marks every fd from first on close-on-exec (close_range, or a walk of
 * /proc/self/fd where that is missing); returns 0 or -1. */
static int cloexec_from(unsigned first) {
  if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] != '.' && fd >= (int)first && fd != dirfd(d)) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  closedir(d);
  return 0;
}

/* close_inherited closes every fd arbor-exec inherited but stdio and --log-fd: whatever
 * started arbord may have handed down fds (a host pipe, a socket) that must never reach a
 * container, nor stay open in a supervisor for the process's whole life. */
static void close_inherited(void) {
  unsigned first = 3;
  int walk = 0;
  if (log_fd >= 3) {
    if (log_fd > 3 && syscall(SYS_close_range, 3U, (unsigned)log_fd - 1, 0) != 0) walk = 1;
    first = (unsigned)log_fd + 1;
  }
  if (!walk && syscall(SYS_close_range, first, ~0U, 0) == 0) return;
  DIR *d = opendir("/proc/self/fd");
  if (!d) bail(EXIT_HELPER_FAILED, "list /proc/self/fd");
  for (struct dirent *e; (e = readdir(d));) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] != '.' && fd > 2 && fd != log_fd && fd != dirfd(d)) close(fd);
  }
  closedir(d);
}

/* ------------------------------------------------------------------ the container side */

/* report_fd is the supervisor's error pipe: the child writes "<code> <message>" there. */
static int report_fd = -1;

static void child_fail(int code, const char *fmt, const char *arg) {
  char msg[1024];
  int saved = errno;
  snprintf(msg, sizeof msg, fmt, arg);
  if (saved) {
    size_t n = strlen(msg);
    snprintf(msg + n, sizeof msg - n, ": %s", strerror(saved));
  }
  dprintf(report_fd, "%d %s", code, msg);
  _exit(127);
}

/* env_set puts "K=V" into env, replacing an entry with the same key in place. */
static void env_set(char **env, int *n, const char *entry) {
  size_t keylen = strcspn(entry, "=");
  for (int i = 0; i < *n; i++) {
    if (strncmp(env[i], entry, keylen) == 0 && env[i][keylen] == '=') {
      env[i] = (char *)entry;
      return;
    }
  }
  if (*n < MAX_ENV + 3) env[(*n)++] = (char *)entry;
}

/* build_env fills env (NULL-terminated): default PATH, USER and HOME, then the spec's env entries. */
static void build_env(const struct container_user *user, char **env) {
  int n = 0;
  static char path[96], name[300], home[4200];
  snprintf(path, sizeof path, "PATH=%s",
           user->uid == 0 ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" : "/usr/local/bin:/usr/bin:/bin");
  snprintf(name, sizeof name, "USER=%s", user->name);
  snprintf(home, sizeof home, "HOME=%s", user->home);
  env_set(env, &n, path);
  env_set(env, &n, name);
  env_set(env, &n, home);
  for (int i = 0; i < opt.nenv; i++) env_set(env, &n, opt.env[i]);
  env[n] = NULL;
}

/* names_no_program: an exec failing with err found no program the user may run at the path
 * (nothing there, a name too long to be a file's, a file without x or of no known format):
 * the caller's mistake, EXIT_NOT_FOUND (contract-tests' describe-error-codes.ts). */
static int names_no_program(int err) {
  return err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG || err == ELOOP || err == EACCES || err == ENOEXEC;
}

static void exec_program(char **env) {
  const char *path = opt.argv[0];
  if (strchr(path, '/')) {
    execve(path, opt.argv, env);
    child_fail(names_no_program(errno) ? EXIT_NOT_FOUND : EXIT_HELPER_FAILED, "exec %s", path);
  }
  const char *search = "/usr/local/bin:/usr/bin:/bin";
  for (int i = 0; env[i]; i++)
    if (strncmp(env[i], "PATH=", 5) == 0) search = env[i] + 5;
  int denied = 0;
  char dirs[8192];
  snprintf(dirs, sizeof dirs, "%s", search);
  char *save = NULL;
  for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char full[PATH_MAX];
    snprintf(full, sizeof full, "%s/%s", d, path);
    execve(full, opt.argv, env);
    if (errno == EACCES) denied = 1;
  }
  errno = denied ? EACCES : 0;
  child_fail(EXIT_NOT_FOUND, "exec %s", path);
}

/* send_fd passes fd over the unix socket sock. */
static int send_fd(int sock, int fd) {
  char byte = 'm';
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock) {
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

/* apply_seccomp loads the container's filter (native/common/seccomp.c). */
static void apply_seccomp(void) {
  if (load_container_seccomp() != 0) child_fail(EXIT_HELPER_FAILED, "load the seccomp filter%s", "");
}

/* ns_fds are the init's namespaces, opened before anything is entered; user first (it owns
 * the others; -1 when the init is in arbord's own, as without a user namespace), cgroup after
 * the cgroups are joined (its root is then the process's own cgroup), mnt last. */
static const char *ns_names[] = {"user", "cgroup", "ipc", "uts", "net", "mnt"};
#define NS_COUNT (int)(sizeof ns_names / sizeof ns_names[0])
#define NS_USER 0
static int ns_fds[NS_COUNT];

/* read_cgroup_value reads the first line of dir/name into buf, without its newline; -1 when
 * there is no such file or it is empty. */
static int read_cgroup_value(const char *dir, const char *name, char *buf, size_t size) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  int got = fgets(buf, (int)size, f) != NULL;
  fclose(f);
  if (!got) return -1;
  buf[strcspn(buf, "\n")] = '\0';
  return 0;
}

/* check_pid_limit refuses to join a pids cgroup (dir has pids.max) that already holds its
 * limit: a move into a cgroup is not charged against pids.max as a fork in it is, so without
 * this check a Run would start past the container's pid limit. Two Runs at once may both pass. */
static void check_pid_limit(const char *dir) {
  char max[32], current[32];
  if (read_cgroup_value(dir, "pids.max", max, sizeof max) != 0 || strcmp(max, "max") == 0) return;
  if (read_cgroup_value(dir, "pids.current", current, sizeof current) != 0) return;
  if (strtol(current, NULL, 10) >= strtol(max, NULL, 10)) {
    errno = 0;
    child_fail(EXIT_LIMIT, "the container already holds %s processes, its pid limit (limits.pid.max)", current);
  }
}

/* join_cgroups moves the calling process into every --cgroup dir. Before anything of the
 * container is read: its devices rules then apply to what the container's root put in /etc. */
static void join_cgroups(void) {
  for (int i = 0; i < opt.ncgroups; i++) {
    check_pid_limit(opt.cgroups[i]);
    char procs[PATH_MAX];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", opt.cgroups[i]);
    if (write_file(procs, "0") != 0) child_fail(EXIT_HELPER_FAILED, "join cgroup %s", opt.cgroups[i]);
  }
}

/* uids and gids are the ids of the container's user namespace, read as soon as it is entered
 * (enter_container_userns): a user outside them is the caller's mistake, not a failed setuid. */
static struct id_map uids, gids;

/* enter_container_userns joins the init's user namespace, if it has one of its own, as its
 * root, not host uid 0 (unmapped there): a change to another user then drops the
 * capabilities, and files made for a user get its mapped host ids. Then it reads the
 * namespace's ids, while /proc is still the host's. */
static void enter_container_userns(void) {
  if (ns_fds[NS_USER] >= 0) {
    if (setns(ns_fds[NS_USER], CLONE_NEWUSER) != 0) child_fail(EXIT_HELPER_FAILED, "enter user namespace%s", "");
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) child_fail(EXIT_HELPER_FAILED, "become root of the user namespace%s", "");
  }
  if (read_id_map("/proc/self/uid_map", &uids) != 0) child_fail(EXIT_HELPER_FAILED, "read %s", "/proc/self/uid_map");
  if (read_id_map("/proc/self/gid_map", &gids) != 0) child_fail(EXIT_HELPER_FAILED, "read %s", "/proc/self/gid_map");
}

/* resolve_mapped_user resolves opt.user in the container's /etc and checks its ids against
 * the user namespace's; on failure it reports EXIT_BAD_USER and exits. */
static void resolve_mapped_user(struct container_user *user) {
  if (resolve_user(opt.user, user) != 0 || check_user_mapped(user, &uids, &gids) != 0) {
    errno = 0;
    child_fail(EXIT_BAD_USER, "%s", resolve_user_error());
  }
}

/* container_child is the process, forked into the container's pid namespace (and visible
 * there, not dumpable, from its birth) until it execs the program. */
static void container_child(int stdio[3], int pty_sock) {
  join_cgroups();
  enter_container_userns();
  for (int i = NS_USER + 1; i < NS_COUNT; i++) {
    if (setns(ns_fds[i], 0) != 0) child_fail(EXIT_HELPER_FAILED, "enter %s namespace", ns_names[i]);
  }
  /* from here on every path is the container's; setns was the last call the filter forbids */
  if (!opt.privileged) apply_seccomp();
  struct container_user user;
  resolve_mapped_user(&user);
  for (int i = 0; i < opt.nrlimits; i++) {
    struct rlimit rl = {opt.rlimits[i].value, opt.rlimits[i].value};
    if (setrlimit(opt.rlimits[i].resource, &rl) != 0) child_fail(EXIT_HELPER_FAILED, "setrlimit %s", "");
  }
  const char *cwd = opt.cwd ? opt.cwd : user.home;
  if (mkdir_p(cwd, 0755, user.uid, user.gid) != 0) child_fail(EXIT_HELPER_FAILED, "create working directory %s", cwd);

  static char *env[MAX_ENV + 4];
  build_env(&user, env);

  if (opt.tty) {
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) child_fail(EXIT_HELPER_FAILED, "open /dev/ptmx%s", "");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) != 0) child_fail(EXIT_HELPER_FAILED, "unlock pty%s", "");
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0) child_fail(EXIT_HELPER_FAILED, "open pty peer%s", "");
    struct winsize ws = {.ws_row = opt.rows, .ws_col = opt.cols};
    ioctl(slave, TIOCSWINSZ, &ws);
    if (fchown(slave, user.uid, 5) != 0) {
    }
    if (send_fd(pty_sock, master) != 0) child_fail(EXIT_HELPER_FAILED, "pass pty to the supervisor%s", "");
    close(master);
    setsid();
    if (ioctl(slave, TIOCSCTTY, 0) != 0) child_fail(EXIT_HELPER_FAILED, "set controlling terminal%s", "");
    for (int i = 0; i < 3; i++) dup2(slave, i);
    if (slave > 2) close(slave);
  } else {
    for (int i = 0; i < 3; i++) {
      if (dup2(stdio[i], i) < 0) child_fail(EXIT_HELPER_FAILED, "stdio%s", "");
      int fl = fcntl(i, F_GETFL);
      fcntl(i, F_SETFL, fl & ~O_NONBLOCK);
    }
    setsid();
  }
  /* a privileged container's root keeps what the host gave arbord */
  if (!opt.privileged) drop_bounding_caps();
  enter_user(&user);
  if (user.uid == 0 && !opt.privileged) set_default_caps();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(EXIT_HELPER_FAILED, "no_new_privs%s", "");
  /* a working dir its user may not enter is the caller's mistake (contract-tests' describe-error-codes.ts) */
  if (chdir(cwd) != 0) child_fail(errno == EACCES ? EXIT_PERMISSION : EXIT_HELPER_FAILED, "chdir %s", cwd);
  sigset_t none;
  sigemptyset(&none);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* only stdio crosses into the program; the error pipe stays open until the exec */
  if (cloexec_from(3) != 0) child_fail(EXIT_HELPER_FAILED, "close inherited fds%s", "");
  exec_program(env);
}

/* ------------------------------------------------------------------ the supervisor */

static char *in_dir(const char *name) {
  static char bufs[8][PATH_MAX];
  static int next;
  char *b = bufs[next++ % 8];
  snprintf(b, PATH_MAX, "%s/%s", opt.dir, name);
  return b;
}

/* write_atomically writes text to <dir>/name through a temp file and a rename: a reader (or
 * arbord after kill -9) sees all of it or nothing. Not synced: these files only have to
 * outlive arbord, not the host. */
static void write_atomically(const char *name, const char *text) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", opt.dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (write(fd, text, strlen(text)) < 0) {
  }
  close(fd);
  rename(tmp, in_dir(name));
}

static int open_fifo(const char *name, int flags) {
  int fd = open(in_dir(name), flags | O_CLOEXEC);
  if (fd < 0) bail(EXIT_HELPER_FAILED, "open %s", in_dir(name));
  return fd;
}

static void write_all(int fd, const char *buf, ssize_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, (size_t)n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, 100);
        continue;
      }
      return;
    }
    buf += w;
    n -= w;
  }
}

static int pending_bytes(int fd) {
  int n = 0;
  if (fd < 0 || ioctl(fd, FIONREAD, &n) != 0) return 0;
  return n;
}

/* control handles one line from the control FIFO: "signal N", "winsize C R" or "eof". */
static void control(const char *line, pid_t child, int exited, int pty, int *stdin_hold) {
  int a, b;
  if (sscanf(line, "signal %d", &a) == 1) {
    if (!exited) kill(child, a);
  } else if (sscanf(line, "winsize %d %d", &a, &b) == 2) {
    if (pty >= 0) {
      struct winsize ws = {.ws_row = (unsigned short)b, .ws_col = (unsigned short)a};
      ioctl(pty, TIOCSWINSZ, &ws);
    }
  } else if (strcmp(line, "eof") == 0) {
    if (pty >= 0 && !exited) {
      /* a terminal has no end of input: the line discipline's EOF character stands for it */
      write_all(pty, "\x04", 1);
    }
    if (*stdin_hold >= 0 && pty < 0) {
      close(*stdin_hold);
      *stdin_hold = -1;
    }
  }
}

/* relay copies what src has now to dst; returns 0 at end of input (EOF, or EIO of a pty
 * without a terminal end), 1 otherwise. */
static int relay(int src, int dst) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(src, buf, sizeof buf);
    if (n > 0) {
      write_all(dst, buf, n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 1;
    return 0;
  }
}

/* reap collects the ended child and notes the process's status: 128+N on signal N. */
static void reap(pid_t child, int *exited, int *status) {
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    if (pid != child) continue;
    *exited = 1;
    *status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
  }
}

/* supervise relays the process's output (pipes, or the pty) into the output FIFOs and
 * commands from the control FIFO to the process. Once the process has exited, it takes what
 * its output still holds, writes the exit status, and leaves when a reader has everything:
 * a background child that keeps the output open does not hold the exit back. */
static void supervise(pid_t child, int out_src, int err_src, int tty, int out_hold, int err_hold, int stdin_hold, int ctl) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  int exited = 0, status = 0;
  char ctlbuf[4096];
  size_t ctllen = 0;
  int pty = tty ? out_src : -1;
  /* the process may have ended before this loop began (its SIGCHLD is still pending then) */
  reap(child, &exited, &status);
  for (;;) {
    if (exited) {
      if (out_src >= 0) relay(out_src, out_hold);
      if (err_src >= 0) relay(err_src, err_hold);
      break;
    }
    struct pollfd p[5] = {{.fd = sfd, .events = POLLIN},
                          {.fd = ctl, .events = POLLIN},
                          {.fd = out_src, .events = POLLIN},
                          {.fd = err_src, .events = POLLIN},
                          {.fd = tty ? stdin_hold : -1, .events = POLLIN}};
    if (poll(p, 5, -1) < 0 && errno != EINTR) break;
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!relay(out_src, out_hold)) {
        close(out_src);
        out_src = -1;
      }
    }
    if (p[3].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!relay(err_src, err_hold)) {
        close(err_src);
        err_src = -1;
      }
    }
    if (p[4].revents & POLLIN) {
      char buf[65536];
      ssize_t n = read(stdin_hold, buf, sizeof buf);
      if (n > 0 && out_src >= 0) write_all(out_src, buf, n);
    }
    if (p[1].revents & POLLIN) {
      ssize_t n = read(ctl, ctlbuf + ctllen, sizeof ctlbuf - ctllen - 1);
      if (n > 0) ctllen += (size_t)n;
      char *nl;
      while ((nl = memchr(ctlbuf, '\n', ctllen))) {
        *nl = '\0';
        control(ctlbuf, child, exited, out_src >= 0 ? pty : -1, &stdin_hold);
        size_t used = (size_t)(nl - ctlbuf) + 1;
        memmove(ctlbuf, ctlbuf + used, ctllen - used);
        ctllen -= used;
      }
      if (ctllen == sizeof ctlbuf - 1) ctllen = 0;
    }
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {
      }
      reap(child, &exited, &status);
    }
  }
  if (out_src >= 0) close(out_src);
  if (err_src >= 0) close(err_src);
  char text[32];
  snprintf(text, sizeof text, "%d\n", status);
  write_atomically("exit", text);
  /* the output is complete once no unread bytes are left for a reader */
  while (pending_bytes(out_hold) > 0 || pending_bytes(err_hold) > 0) {
    struct pollfd p = {.fd = ctl, .events = POLLIN};
    if (poll(&p, 1, 50) > 0) {
      char drop[4096];
      if (read(ctl, drop, sizeof drop) < 0) {
      }
    }
  }
  close(out_hold);
  close(err_hold);
  _exit(0);
}

int main(int argc, char **argv) {
  helper_name = "arbor-exec";
  run_sealed(argv);
  /* not dumpable from here on, nor is any process forked from here until it execs */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) bail(EXIT_HELPER_FAILED, "set not dumpable");
  /* after fexecve the name would be the memfd's fd number; arbord finds supervisors by it */
  prctl(PR_SET_NAME, "arbor-exec", 0, 0, 0);
  parse(argc, argv);
  close_inherited();
  read_spec();
  static const char *fifos[] = {"stdin", "stdout", "stderr", "control"};
  for (int i = 0; i < 4; i++)
    if (mkfifo(in_dir(fifos[i]), 0600) != 0) bail(EXIT_HELPER_FAILED, "mkfifo %s", in_dir(fifos[i]));
  for (int i = 0; i < NS_COUNT; i++) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "/proc/%d/ns/%s", opt.init_pid, ns_names[i]);
    ns_fds[i] = open(p, O_RDONLY | O_CLOEXEC);
    if (ns_fds[i] < 0) bail(EXIT_HELPER_FAILED, "open %s (is the container running?)", p);
    struct stat theirs, ours;
    if (i == NS_USER && fstat(ns_fds[i], &theirs) == 0 && stat("/proc/self/ns/user", &ours) == 0 && theirs.st_ino == ours.st_ino &&
        theirs.st_dev == ours.st_dev) {
      close(ns_fds[i]);
      ns_fds[i] = -1;
    }
  }
  char pidns[PATH_MAX];
  snprintf(pidns, sizeof pidns, "/proc/%d/ns/pid", opt.init_pid);
  int pidns_fd = open(pidns, O_RDONLY | O_CLOEXEC);
  if (pidns_fd < 0) bail(EXIT_HELPER_FAILED, "open %s", pidns);

  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) bail(EXIT_HELPER_FAILED, "pipe");
  pid_t first = fork();
  if (first < 0) bail(EXIT_HELPER_FAILED, "fork");
  if (first > 0) {
    /* arbor-exec as arbord sees it: wait for the supervisor's "<code> <message>" */
    close(ready[1]);
    char msg[2048];
    ssize_t total = 0, n;
    while ((n = read(ready[0], msg + total, sizeof msg - 1 - (size_t)total)) > 0) total += n;
    msg[total] = '\0';
    waitpid(first, NULL, 0);
    int code = EXIT_HELPER_FAILED;
    char *text = msg;
    if (total > 0) code = (int)strtol(msg, &text, 10);
    if (code == 0) {
      printf("%s\n", text + 1);
      return 0;
    }
    errno = 0;
    bail(code, "%s", total > 0 ? text + 1 : "the supervisor died before the process started");
  }
  close(ready[0]);
  if (setsid() < 0) bail(EXIT_HELPER_FAILED, "setsid");
  pid_t second = fork();
  if (second < 0) bail(EXIT_HELPER_FAILED, "fork");
  if (second > 0) _exit(0);

  /* the supervisor: holding a read-write end of each FIFO keeps it open without a peer */
  int out_hold = open_fifo("stdout", O_RDWR | O_NONBLOCK);
  int err_hold = open_fifo("stderr", O_RDWR | O_NONBLOCK);
  int stdin_hold = open_fifo("stdin", O_RDWR | O_NONBLOCK);
  int ctl = open_fifo("control", O_RDWR | O_NONBLOCK);
  /* the process writes into pipes the supervisor relays, so that its exit is not held back by
   * a background child that keeps them open */
  int outpipe[2] = {-1, -1}, errpipe_out[2] = {-1, -1};
  if (!opt.tty && (pipe2(outpipe, O_CLOEXEC) != 0 || pipe2(errpipe_out, O_CLOEXEC) != 0)) bail(EXIT_HELPER_FAILED, "pipe");
  int stdio[3] = {open_fifo("stdin", O_RDONLY | O_NONBLOCK), outpipe[1], errpipe_out[1]};
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int pty = -1;
  int errpipe[2], sock[2] = {-1, -1};
  if (pipe2(errpipe, O_CLOEXEC) != 0) bail(EXIT_HELPER_FAILED, "pipe");
  if (opt.tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) != 0) bail(EXIT_HELPER_FAILED, "socketpair");
  if (setns(pidns_fd, CLONE_NEWPID) != 0) bail(EXIT_HELPER_FAILED, "enter pid namespace");
  pid_t child = fork();
  if (child < 0) bail(EXIT_HELPER_FAILED, "fork");
  if (child == 0) {
    close(errpipe[0]);
    report_fd = errpipe[1];
    if (sock[0] >= 0) close(sock[0]);
    container_child(stdio, sock[1]);
  }
  close(errpipe[1]);
  for (int i = 0; i < 3; i++)
    if (stdio[i] >= 0) close(stdio[i]);
  if (opt.tty) {
    close(sock[1]);
    pty = recv_fd(sock[0]);
    close(sock[0]);
    if (pty >= 0) fcntl(pty, F_SETFL, fcntl(pty, F_GETFL) | O_NONBLOCK);
  }
  char failure[1100];
  ssize_t total = 0, n;
  while ((n = read(errpipe[0], failure + total, sizeof failure - 1 - (size_t)total)) > 0) total += n;
  failure[total] = '\0';
  close(errpipe[0]);
  if (total > 0) {
    waitpid(child, NULL, 0);
    dprintf(ready[1], "%s", failure);
    _exit(1);
  }
  char pids[64];
  snprintf(pids, sizeof pids, "%d %d\n", getpid(), child);
  write_atomically("pid", pids);
  dprintf(ready[1], "0 %d", child);
  close(ready[1]);
  log_fd = -1;
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < 3; i++) dup2(null, i);
  prctl(PR_SET_NAME, "arbor-exec", 0, 0, 0);
  if (opt.tty) {
    supervise(child, pty, -1, 1, out_hold, err_hold, stdin_hold, ctl);
  } else {
    fcntl(outpipe[0], F_SETFL, O_NONBLOCK);
    fcntl(errpipe_out[0], F_SETFL, O_NONBLOCK);
    supervise(child, outpipe[0], errpipe_out[0], 0, out_hold, err_hold, stdin_hold, ctl);
  }
}
