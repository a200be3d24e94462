/* posture-probe: measures what a process in a container may do and see, and prints one JSON
 * object of findings on stdout (see README.md). It only measures: it asserts nothing, and
 * each probe that could change the container (a persona, a keyring, a user namespace) runs in
 * a child that exits. Static, because it runs in any rootfs (busybox, scratch).
 * Covered by packages/contract-tests/src/hostile/posture.int.spec.ts. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_BAD_USAGE 64

/* bail prints "posture-probe: <what>: <strerror(errno)>" and exits 1: only for what makes
 * the report itself impossible (bad arguments, stdout gone). */
static void bail(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void bail(int code, const char *fmt, ...) {
  int saved = errno;
  va_list ap;
  fputs("posture-probe: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (saved != 0) fprintf(stderr, ": %s", strerror(saved));
  fputc('\n', stderr);
  exit(code);
}

/* ---- JSON output: one object, written as findings come ---- */

/* first[depth] says no member was written yet at that nesting depth (for the commas). */
static int first[16] = {1};
static int depth;

static void json_string(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p == '\n') fputs("\\n", stdout);
    else if (*p < 0x20 || *p >= 0x7f) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

/* key starts a member (or an array element when name is NULL). */
static void key(const char *name) {
  if (!first[depth]) putchar(',');
  first[depth] = 0;
  if (name) {
    json_string(name);
    putchar(':');
  }
}
static void open_(const char *name, char bracket) {
  key(name);
  putchar(bracket);
  first[++depth] = 1;
}
static void object(const char *name) { open_(name, '{'); }
static void array(const char *name) { open_(name, '['); }
static void close_(char bracket) {
  depth--;
  putchar(bracket);
}
static void end_object(void) { close_('}'); }
static void end_array(void) { close_(']'); }
static void str(const char *name, const char *value) {
  key(name);
  if (value) json_string(value);
  else fputs("null", stdout);
}
static void num(const char *name, long long value) {
  key(name);
  printf("%lld", value);
}
static void boolean(const char *name, int value) {
  key(name);
  fputs(value ? "true" : "false", stdout);
}

/* outcome is "ok" for rc >= 0, else errno's name, like "EPERM". */
static const char *outcome(long rc, int err) {
  if (rc >= 0) return "ok";
  const char *name = strerrorname_np(err);
  return name ? name : "E?";
}
static const char *errname(int err) { return outcome(-1, err); }

/* read_text reads at most size-1 bytes of path into buf; -1 with errno when it cannot. */
static ssize_t read_text(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  while (len < size - 1) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n < 0) {
      int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  buf[len] = 0;
  close(fd);
  return (ssize_t)len;
}

/* ---- syscalls: each in a child, the child's exit status carries errno ---- */

/* in_child runs fn in a forked child and returns "ok", the errno's name, or "killed:<sig>"
 * (a filter that kills instead of failing). */
static const char *in_child(int (*fn)(void)) {
  static char killed[32];
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return errname(errno);
  if (pid == 0) {
    int rc = fn();
    _exit(rc < 0 ? (errno & 0xff ? errno & 0xff : 255) : 0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return errname(errno);
  if (WIFSIGNALED(status)) {
    snprintf(killed, sizeof killed, "killed:%d", WTERMSIG(status));
    return killed;
  }
  return WEXITSTATUS(status) == 0 ? "ok" : errname(WEXITSTATUS(status));
}

static int try_io_uring_setup(void) {
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  return (int)syscall(SYS_io_uring_setup, 1, &params);
}
/* READ_IMPLIES_EXEC makes every readable mapping executable; Docker's profile allows only
 * the personas 0, 8, 0x20000, 0x20008 and the query 0xffffffff. */
static int try_personality_read_implies_exec(void) { return (int)syscall(SYS_personality, PER_LINUX | READ_IMPLIES_EXEC); }
static int try_personality_query(void) { return (int)syscall(SYS_personality, 0xffffffffUL); }
static int try_personality_linux(void) { return (int)syscall(SYS_personality, PER_LINUX); }
/* KEYCTL_GET_KEYRING_ID of KEY_SPEC_SESSION_KEYRING: the kernel keyring is not namespaced. */
static int try_keyctl(void) { return (int)syscall(SYS_keyctl, 0, -3, 0); }
static int try_add_key(void) { return (int)syscall(SYS_add_key, "user", "arbor-posture-probe", "x", 1, -2 /* process keyring */); }
static int try_perf_event_open(void) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.size = sizeof attr;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  return (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}
static int try_unshare_newuser(void) { return unshare(CLONE_NEWUSER); }
/* clone_args_v0 is the kernel's struct clone_args up to tls (CLONE_ARGS_SIZE_VER0, 64 bytes). */
struct clone_args_v0 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};
static int try_clone3_newuser(void) {
  struct clone_args_v0 args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  long rc = syscall(SYS_clone3, &args, sizeof args);
  if (rc == 0) _exit(0);
  if (rc > 0) waitpid((pid_t)rc, NULL, 0);
  return (int)rc;
}
/* MOUNT_TARGET is an empty dir made for the mount probe; a mount that works is undone. */
#define MOUNT_TARGET "/tmp/arbor-posture-mnt"
static int try_mount(void) {
  int rc = mount("arbor-posture", MOUNT_TARGET, "tmpfs", 0, NULL);
  if (rc == 0) umount(MOUNT_TARGET);
  return rc;
}
static int try_bpf(void) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  return (int)syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
}
static int try_getpid(void) { return getpid() > 0 ? 0 : -1; }
static int try_uname(void) {
  struct utsname u;
  return uname(&u);
}
static int try_clock_gettime(void) {
  struct timespec ts;
  return clock_gettime(CLOCK_MONOTONIC, &ts);
}
static int try_fork(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  if (pid < 0) return -1;
  return waitpid(pid, NULL, 0) == pid ? 0 : -1;
}
static int try_pipe(void) {
  int fds[2];
  return pipe2(fds, O_CLOEXEC);
}
static int try_socket_inet(void) { return socket(AF_INET, SOCK_STREAM, 0); }
static int try_socket_unix(void) { return socket(AF_UNIX, SOCK_STREAM, 0); }
static int try_mmap(void) { return mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0; }
static int try_file_io(void) {
  char path[] = "/tmp/arbor-posture-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  unlink(path);
  char buf[4] = "abc";
  if (write(fd, buf, 3) != 3 || pread(fd, buf, 3, 0) != 3) return -1;
  return close(fd);
}

static void probe_syscalls(void) {
  mkdir(MOUNT_TARGET, 0700);
  static const struct {
    const char *name;
    int (*fn)(void);
  } denied[] = {
      {"io_uring_setup", try_io_uring_setup},
      {"personality(READ_IMPLIES_EXEC)", try_personality_read_implies_exec},
      {"keyctl", try_keyctl},
      {"add_key", try_add_key},
      {"perf_event_open", try_perf_event_open},
      {"unshare(CLONE_NEWUSER)", try_unshare_newuser},
      {"clone3(CLONE_NEWUSER)", try_clone3_newuser},
      {"mount", try_mount},
      {"bpf", try_bpf},
  },
    ordinary[] = {
        {"getpid", try_getpid},
        {"uname", try_uname},
        {"clock_gettime", try_clock_gettime},
        {"fork", try_fork},
        {"pipe2", try_pipe},
        {"socket(AF_INET)", try_socket_inet},
        {"socket(AF_UNIX)", try_socket_unix},
        {"mmap", try_mmap},
        {"open/write/read", try_file_io},
        {"personality(query)", try_personality_query},
        {"personality(PER_LINUX)", try_personality_linux},
    };
  object("syscalls");
  for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) str(denied[i].name, in_child(denied[i].fn));
  end_object();
  object("ordinarySyscalls");
  for (size_t i = 0; i < sizeof ordinary / sizeof ordinary[0]; i++) str(ordinary[i].name, in_child(ordinary[i].fn));
  end_object();
  rmdir(MOUNT_TARGET);
}

/* ---- paths: masked ones and read-only ones ---- */

static const char *const masked_paths[] = {
    "/proc/acpi",        "/proc/asound",   "/proc/kcore",       "/proc/keys",   "/proc/latency_stats",
    "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

/* first_file finds a regular file under dir (depth at most 3), like /proc/bus/pci/devices:
 * what a write probe opens for a read-only dir. Returns 0 when found. */
static int first_file(const char *dir, int depth_left, char *out, size_t size) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  struct dirent *e;
  int rc = -1;
  while (rc != 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      snprintf(out, size, "%s", path);
      rc = 0;
    } else if (S_ISDIR(st.st_mode) && depth_left > 0) {
      rc = first_file(path, depth_left - 1, out, size);
    }
  }
  closedir(d);
  return rc;
}

/* describe_path writes what a reader finds at path: whether it exists, what reading yields
 * (bytes of a file, at most 64 KiB; entries of a dir), whether its mount is read-only. */
static void describe_path(const char *path) {
  object(path);
  struct stat st;
  if (lstat(path, &st) != 0) {
    boolean("exists", 0);
    str("lstat", errname(errno));
    end_object();
    return;
  }
  boolean("exists", 1);
  boolean("dir", S_ISDIR(st.st_mode));
  struct statvfs vfs;
  if (statvfs(path, &vfs) == 0) boolean("readonly", (vfs.f_flag & ST_RDONLY) != 0);
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    str("open", d ? "ok" : errname(errno));
    if (d) {
      long entries = 0;
      struct dirent *e;
      while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) entries++;
      closedir(d);
      num("entries", entries);
    }
  } else {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    str("open", fd >= 0 ? "ok" : errname(errno));
    if (fd >= 0) {
      char buf[4096];
      long long total = 0;
      ssize_t n;
      while (total < 65536 && (n = read(fd, buf, sizeof buf)) > 0) total += n;
      if (n < 0 && total == 0) str("read", errname(errno));
      num("bytes", total);
      close(fd);
    }
  }
  end_object();
}

/* write_probe opens a file of a read-only path for writing, and writes nothing: opening is
 * where a read-only mount answers EROFS (/proc/sysrq-trigger must never be written to). */
static void write_probe(const char *path) {
  char target[4096];
  struct stat st;
  object(path);
  struct statvfs vfs;
  if (statvfs(path, &vfs) == 0) boolean("readonly", (vfs.f_flag & ST_RDONLY) != 0);
  if (lstat(path, &st) != 0) {
    str("target", NULL);
    str("openWrite", errname(errno));
  } else {
    if (strcmp(path, "/proc/sys") == 0) snprintf(target, sizeof target, "/proc/sys/kernel/domainname");
    else if (strcmp(path, "/proc/irq") == 0 && access("/proc/irq/default_smp_affinity", F_OK) == 0) snprintf(target, sizeof target, "/proc/irq/default_smp_affinity");
    else if (!S_ISDIR(st.st_mode)) snprintf(target, sizeof target, "%s", path);
    else if (first_file(path, 3, target, sizeof target) != 0) target[0] = 0;
    if (!target[0]) {
      str("target", NULL);
    } else {
      str("target", target);
      int fd = open(target, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
      str("openWrite", fd >= 0 ? "ok" : errname(errno));
      if (fd >= 0) close(fd);
    }
  }
  end_object();
}

static void probe_paths(void) {
  object("masked");
  for (size_t i = 0; i < sizeof masked_paths / sizeof masked_paths[0]; i++) describe_path(masked_paths[i]);
  end_object();
  object("readonly");
  for (size_t i = 0; i < sizeof readonly_paths / sizeof readonly_paths[0]; i++) write_probe(readonly_paths[i]);
  end_object();
}

/* ---- /proc/self: cgroups, namespaces, status, uid_map, mounts ---- */

/* lines writes each line of path as an array element (null when unreadable). */
static void lines(const char *name, const char *path) {
  static char buf[1 << 16];
  if (read_text(path, buf, sizeof buf) < 0) {
    str(name, NULL);
    return;
  }
  array(name);
  for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) str(NULL, line);
  end_array();
}

static void probe_self(void) {
  lines("cgroup", "/proc/self/cgroup");
  char link[256];
  ssize_t n = readlink("/proc/self/ns/cgroup", link, sizeof link - 1);
  if (n >= 0) link[n] = 0;
  str("cgroupNs", n >= 0 ? link : NULL);

  static char status[1 << 14];
  object("status");
  if (read_text("/proc/self/status", status, sizeof status) >= 0) {
    static const char *const wanted[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters"};
    for (char *save = NULL, *line = strtok_r(status, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      char *colon = strchr(line, ':');
      if (!colon) continue;
      *colon = 0;
      for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
        if (strcmp(line, wanted[i]) == 0) str(line, colon + 1 + strspn(colon + 1, " \t"));
    }
  }
  end_object();

  char map[4096];
  if (read_text("/proc/self/uid_map", map, sizeof map) >= 0) {
    /* "         0          0 4294967295\n" becomes "0 0 4294967295" */
    char squeezed[4096];
    size_t out = 0;
    for (const char *p = map; *p && out < sizeof squeezed - 1; p++) {
      int space = *p == ' ' || *p == '\t' || *p == '\n';
      if (space && (out == 0 || squeezed[out - 1] == ' ')) continue;
      squeezed[out++] = space ? ' ' : *p;
    }
    while (out > 0 && squeezed[out - 1] == ' ') out--;
    squeezed[out] = 0;
    str("uidMap", squeezed);
  } else {
    str("uidMap", NULL);
  }
}

/* unescape turns mountinfo's octal escapes ("\040" for a space) back into bytes, in place. */
static void unescape(char *s) {
  char *out = s;
  for (char *p = s; *p; p++) {
    if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
      *out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
      p += 3;
    } else {
      *out++ = *p;
    }
  }
  *out = 0;
}

/* probe_mounts writes each line of /proc/self/mountinfo as { mountPoint, root, options,
 * fsType, source, superOptions }; options are the per-mount flags, like "ro,nosuid,nodev". */
static void probe_mounts(void) {
  static char buf[1 << 18];
  if (read_text("/proc/self/mountinfo", buf, sizeof buf) < 0) {
    str("mounts", NULL);
    return;
  }
  array("mounts");
  for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *field[64];
    int count = 0;
    for (char *s2 = NULL, *f = strtok_r(line, " ", &s2); f && count < 64; f = strtok_r(NULL, " ", &s2)) field[count++] = f;
    int dash = -1;
    for (int i = 6; i < count; i++)
      if (strcmp(field[i], "-") == 0) {
        dash = i;
        break;
      }
    if (count < 6 || dash < 0 || dash + 3 >= count + 1) continue;
    unescape(field[3]);
    unescape(field[4]);
    object(NULL);
    str("mountPoint", field[4]);
    str("root", field[3]);
    str("options", field[5]);
    str("fsType", dash + 1 < count ? field[dash + 1] : NULL);
    str("source", dash + 2 < count ? field[dash + 2] : NULL);
    str("superOptions", dash + 3 < count ? field[dash + 3] : NULL);
    end_object();
  }
  end_array();
}

/* ---- devices ---- */

/* probe_mknod makes a block node for dev (the host's root disk, like 254:0) in /dev, / and
 * /tmp, and tries to open and read it; each node is removed again. */
static void probe_mknod(dev_t dev) {
  static const char *const dirs[] = {"/dev", "", "/tmp"};
  array("mknod");
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char path[256];
    snprintf(path, sizeof path, "%s/arbor-posture-disk", dirs[i]);
    unlink(path);
    object(NULL);
    str("path", path);
    int rc = mknod(path, S_IFBLK | 0600, dev);
    str("mknod", outcome(rc, errno));
    if (rc == 0) {
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      str("open", outcome(fd, errno));
      if (fd >= 0) {
        char sector[512];
        ssize_t n = read(fd, sector, sizeof sector);
        str("read", outcome(n, errno));
        close(fd);
      }
      unlink(path);
    }
    end_object();
  }
  end_array();
}

/* probe_dev_nodes uses /dev/null, /dev/zero and /dev/urandom as any program would. */
static void probe_dev_nodes(void) {
  object("devNodes");
  char buf[16];
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  int ok = fd >= 0 && write(fd, "x", 1) == 1 && read(fd, buf, sizeof buf) == 0;
  str("/dev/null", fd < 0 ? errname(errno) : ok ? "ok" : "misbehaves");
  if (fd >= 0) close(fd);
  fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  memset(buf, 1, sizeof buf);
  ok = fd >= 0 && read(fd, buf, sizeof buf) == (ssize_t)sizeof buf;
  for (size_t i = 0; ok && i < sizeof buf; i++) ok = buf[i] == 0;
  str("/dev/zero", fd < 0 ? errname(errno) : ok ? "ok" : "misbehaves");
  if (fd >= 0) close(fd);
  fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  ok = fd >= 0 && read(fd, buf, sizeof buf) == (ssize_t)sizeof buf;
  str("/dev/urandom", fd < 0 ? errname(errno) : ok ? "ok" : "misbehaves");
  if (fd >= 0) close(fd);
  end_object();
}

/* probe_pids reads the pids limit the container can see of its own cgroup, if any is mounted. */
static void probe_pids(void) {
  static const char *const files[] = {"/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"};
  char buf[64];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    if (read_text(files[i], buf, sizeof buf) >= 0) {
      buf[strcspn(buf, "\n")] = 0;
      str("pidsMax", buf);
      return;
    }
  str("pidsMax", NULL);
}

/* ---- files named on the command line ---- */

/* probe_writes creates each path (and removes it again), like /mnt/ro/sub/x under a
 * read-only bind mount: "EROFS" is what a read-only mount answers. */
static void probe_writes(char **paths, int count) {
  object("writes");
  for (int i = 0; i < count; i++) {
    int fd = open(paths[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    str(paths[i], outcome(fd, errno));
    if (fd >= 0) {
      close(fd);
      unlink(paths[i]);
    }
  }
  end_object();
}

/* probe_reads writes the first 256 bytes of each path (or the errno's name). */
static void probe_reads(char **paths, int count) {
  object("reads");
  for (int i = 0; i < count; i++) {
    char buf[257];
    str(paths[i], read_text(paths[i], buf, sizeof buf) >= 0 ? buf : errname(errno));
  }
  end_object();
}

/* ---- the host's loopback, from the container ---- */

/* default_route finds the default route's interface and gateway in /proc/net/route. */
static int default_route(char *iface, size_t size, struct in_addr *gateway) {
  FILE *f = fopen("/proc/net/route", "re");
  if (!f) return -1;
  char line[512], name[64];
  unsigned dest, gw, flags;
  int found = -1;
  while (found != 0 && fgets(line, sizeof line, f))
    if (sscanf(line, "%63s %x %x %x", name, &dest, &gw, &flags) == 4 && dest == 0 && (flags & 2 /* RTF_GATEWAY */)) {
      snprintf(iface, size, "%s", name);
      gateway->s_addr = gw; /* already in network order */
      found = 0;
    }
  fclose(f);
  return found;
}

/* neighbour_mac finds ip's MAC address in /proc/net/arp. */
static int neighbour_mac(struct in_addr ip, unsigned char mac[6]) {
  FILE *f = fopen("/proc/net/arp", "re");
  if (!f) return -1;
  char line[512], addr[64], hw[64];
  int found = -1;
  unsigned type, flags;
  while (found != 0 && fgets(line, sizeof line, f)) {
    struct in_addr a;
    unsigned m[6];
    if (sscanf(line, "%63s %x %x %63s", addr, &type, &flags, hw) == 4 && inet_pton(AF_INET, addr, &a) == 1 && a.s_addr == ip.s_addr && (flags & 2) &&
        sscanf(hw, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6) {
      for (int i = 0; i < 6; i++) mac[i] = (unsigned char)m[i];
      found = 0;
    }
  }
  fclose(f);
  return found;
}

/* tcp_connect connects to ip:port within timeout_ms: "ok", an errno's name, or "ETIMEDOUT". */
static const char *tcp_connect(struct in_addr ip, uint16_t port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errname(errno);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = ip};
  const char *result = "ok";
  if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
    if (errno != EINPROGRESS) {
      result = errname(errno);
    } else {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      if (poll(&p, 1, timeout_ms) <= 0) {
        result = "ETIMEDOUT";
      } else {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        result = err ? errname(err) : "ok";
      }
    }
  }
  close(fd);
  return result;
}

static uint16_t checksum(const void *data, size_t len, uint32_t sum) {
  const uint8_t *p = data;
  for (; len > 1; p += 2, len -= 2) sum += (uint32_t)(p[0] << 8 | p[1]);
  if (len) sum += (uint32_t)(p[0] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* syn_packet builds an IPv4 TCP SYN from src:sport to dst:dport into out (40 bytes). */
static void syn_packet(uint8_t out[40], struct in_addr src, struct in_addr dst, uint16_t sport, uint16_t dport, uint32_t seq) {
  memset(out, 0, 40);
  out[0] = 0x45;      /* IPv4, 20-byte header */
  out[3] = 40;        /* total length */
  out[6] = 0x40;      /* don't fragment */
  out[8] = 64;        /* ttl */
  out[9] = IPPROTO_TCP;
  memcpy(out + 12, &src, 4);
  memcpy(out + 16, &dst, 4);
  uint16_t ipsum = checksum(out, 20, 0);
  out[10] = (uint8_t)(ipsum >> 8);
  out[11] = (uint8_t)ipsum;
  uint8_t *tcp = out + 20;
  tcp[0] = (uint8_t)(sport >> 8), tcp[1] = (uint8_t)sport;
  tcp[2] = (uint8_t)(dport >> 8), tcp[3] = (uint8_t)dport;
  tcp[4] = (uint8_t)(seq >> 24), tcp[5] = (uint8_t)(seq >> 16), tcp[6] = (uint8_t)(seq >> 8), tcp[7] = (uint8_t)seq;
  tcp[12] = 5 << 4; /* 20-byte header */
  tcp[13] = 0x02;   /* SYN */
  tcp[14] = 0xff, tcp[15] = 0xff;
  /* the pseudo-header: addresses, protocol, TCP length */
  uint32_t sum = 0;
  const uint8_t *a = out + 12;
  for (int i = 0; i < 8; i += 2) sum += (uint32_t)(a[i] << 8 | a[i + 1]);
  sum += IPPROTO_TCP + 20;
  uint16_t tcpsum = checksum(tcp, 20, sum);
  tcp[16] = (uint8_t)(tcpsum >> 8);
  tcp[17] = (uint8_t)tcpsum;
}

/* raw_syn sends a hand-made SYN from self to target:port on ifindex, addressed to the MAC
 * mac, up to 4 times in 2 s, and writes { sent, reply }: reply is "none", or what came back
 * for that SYN, like "syn-ack from 127.0.0.1", "rst from 10.254.0.1" or "icmp 3/3 from ...". */
static void raw_syn(const char *name, int ifindex, const unsigned char mac[6], struct in_addr self, struct in_addr target, uint16_t port) {
  object(name);
  int raw = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
  if (raw < 0) {
    str("sent", errname(errno));
    end_object();
    return;
  }
  struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = ifindex, .sll_halen = 6};
  memcpy(ll.sll_addr, mac, 6);
  bind(raw, (struct sockaddr *)&ll, sizeof ll);
  static uint16_t next_port;
  if (!next_port) next_port = (uint16_t)(40000 + getpid() % 20000);
  uint16_t sport = next_port++;
  uint8_t syn[40];
  syn_packet(syn, self, target, sport, port, 0x41726272u);
  const char *sent = "ok";
  static char reply[96];
  snprintf(reply, sizeof reply, "none");
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long elapsed = 0, next_send = 0;
  while (elapsed < 2000 && strcmp(reply, "none") == 0) {
    if (elapsed >= next_send) {
      if (sendto(raw, syn, sizeof syn, 0, (struct sockaddr *)&ll, sizeof ll) < 0) sent = errname(errno);
      next_send += 500;
    }
    struct pollfd p = {.fd = raw, .events = POLLIN};
    if (poll(&p, 1, 100) > 0) {
      uint8_t pkt[2048];
      struct sockaddr_ll from;
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(raw, pkt, sizeof pkt, 0, (struct sockaddr *)&from, &len);
      size_t ihl = n >= 20 ? (size_t)(pkt[0] & 0xf) * 4 : 0;
      if (n < 20 || from.sll_pkttype == PACKET_OUTGOING || (pkt[0] >> 4) != 4 || (ssize_t)ihl + 8 > n) goto next;
      struct in_addr from_ip;
      memcpy(&from_ip, pkt + 12, 4);
      const uint8_t *l4 = pkt + ihl;
      if (pkt[9] == IPPROTO_TCP && (ssize_t)ihl + 20 <= n && (l4[0] << 8 | l4[1]) == port && (l4[2] << 8 | l4[3]) == sport) {
        snprintf(reply, sizeof reply, "%s from %s", (l4[13] & 0x12) == 0x12 ? "syn-ack" : (l4[13] & 0x04) ? "rst" : "tcp", inet_ntoa(from_ip));
      } else if (pkt[9] == IPPROTO_ICMP && (ssize_t)ihl + 8 + 20 + 4 <= n) {
        /* an ICMP error quotes our IP header and the first 8 bytes of our TCP header */
        const uint8_t *quoted = l4 + 8;
        size_t qihl = (size_t)(quoted[0] & 0xf) * 4;
        const uint8_t *qtcp = quoted + qihl;
        if ((ssize_t)(ihl + 8 + qihl + 4) <= n && quoted[9] == IPPROTO_TCP && (qtcp[0] << 8 | qtcp[1]) == sport && (qtcp[2] << 8 | qtcp[3]) == port)
          snprintf(reply, sizeof reply, "icmp %u/%u from %s", l4[0], l4[1], inet_ntoa(from_ip));
      }
    }
  next:
    clock_gettime(CLOCK_MONOTONIC, &now);
    elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
  }
  close(raw);
  str("sent", sent);
  str("reply", reply);
  end_object();
}

/* probe_loopback tries to reach the host's 127.0.0.1:port from the container: through the
 * gateway's address, and with a hand-made SYN to 127.0.0.1 sent to the gateway's MAC (what
 * CAP_NET_RAW allows, and what route_localnet on the host side could let in). raw.reply is
 * "none" (or an ICMP error) when the host's loopback stack did not answer. */
static void probe_loopback(struct in_addr target, uint16_t port) {
  object("net");
  char iface[64];
  struct in_addr gateway;
  if (default_route(iface, sizeof iface, &gateway) != 0) {
    str("gateway", NULL);
    end_object();
    return;
  }
  str("interface", iface);
  str("gateway", inet_ntoa(gateway));
  str("tcpGateway", tcp_connect(gateway, port, 1000));
  str("tcpTarget", tcp_connect(target, port, 1000));

  /* the source address: what the kernel would pick towards the gateway */
  struct in_addr self = {0};
  int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr = gateway};
  if (udp >= 0 && connect(udp, (struct sockaddr *)&to, sizeof to) == 0) {
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    if (getsockname(udp, (struct sockaddr *)&me, &len) == 0) self = me.sin_addr;
    if (send(udp, "", 0, 0) < 0) { /* only to fill the neighbour table */
    }
  }
  if (udp >= 0) close(udp);
  unsigned char mac[6];
  for (int i = 0; i < 10 && neighbour_mac(gateway, mac) != 0; i++) usleep(50000);
  if (neighbour_mac(gateway, mac) != 0) {
    str("raw", "no neighbour entry for the gateway");
    end_object();
    return;
  }
  int ifindex = (int)if_nametoindex(iface);
  raw_syn("raw", ifindex, mac, self, target, port);
  /* the control: the same SYN to the gateway's own address, which the host's stack answers
   * (a RST, or an ICMP error from a REJECT rule) unless a rule drops it: proof that the
   * hand-made packet is one the host reads */
  raw_syn("rawControl", ifindex, mac, self, gateway, port);
  end_object();
}

static void usage(void) {
  fputs("usage: posture-probe [--mknod MAJOR:MINOR] [--write PATH]... [--read PATH]... [--net IP:PORT]\n", stderr);
  exit(EXIT_BAD_USAGE);
}

int main(int argc, char **argv) {
  char *writes[32], *reads[32];
  int nwrites = 0, nreads = 0;
  unsigned major_ = 0, minor_ = 0;
  int want_mknod = 0;
  struct in_addr net_ip = {0};
  unsigned net_port = 0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--mknod") == 0) {
      if (sscanf(argv[++i], "%u:%u", &major_, &minor_) != 2) usage();
      want_mknod = 1;
    } else if (strcmp(argv[i], "--write") == 0 && nwrites < 32) {
      writes[nwrites++] = argv[++i];
    } else if (strcmp(argv[i], "--read") == 0 && nreads < 32) {
      reads[nreads++] = argv[++i];
    } else if (strcmp(argv[i], "--net") == 0) {
      char ip[64];
      if (sscanf(argv[++i], "%63[^:]:%u", ip, &net_port) != 2 || inet_pton(AF_INET, ip, &net_ip) != 1 || net_port == 0 || net_port > 65535) usage();
    } else {
      usage();
    }
  }

  putchar('{');
  probe_syscalls();
  probe_paths();
  probe_self();
  probe_mounts();
  if (want_mknod) probe_mknod(makedev(major_, minor_));
  probe_dev_nodes();
  probe_pids();
  probe_writes(writes, nwrites);
  probe_reads(reads, nreads);
  if (net_port) probe_loopback(net_ip, (uint16_t)net_port);
  puts("}");
  if (fflush(stdout) != 0) bail(1, "write the report");
  return 0;
}
