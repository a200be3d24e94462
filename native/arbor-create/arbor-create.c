/* arbor-create makes a container: new mount, pid, uts, ipc and network namespaces; the
 * prepared root filesystem with /proc, /sys (read-only), /dev, /dev/pts, /dev/shm and /tmp;
 * pivot_root into it; hostname; then it execs arbor-init as pid 1 and prints the init's
 * host pid on stdout.
 *
 * usage: arbor-create --rootfs DIR --hostname NAME --init PATH [--cgroup DIR]...
 *          [--bind SRC DST ro|rw host|container]... [--privileged] [--log-fd N]
 *
 * Covered by: packages/backend-linux/src/namespace-containerizer.int.spec.ts */
#define _GNU_SOURCE
#include "../common/arbor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ITEMS 64

struct bind {
  const char *src, *dst;
  int readonly, from_container;
};

static struct {
  const char *rootfs, *hostname, *init;
  const char *cgroups[MAX_ITEMS];
  int ncgroups;
  struct bind binds[MAX_ITEMS];
  int nbinds;
  int privileged;
} opt;

static int sync_fd = -1;

/* tell_parent marks the failure on the sync pipe so the parent reports it. */
static void tell_parent(void) {
  if (sync_fd >= 0 && write(sync_fd, "x", 1) < 0) {
  }
}

static void parse(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int left = argc - i - 1;
    if (strcmp(a, "--rootfs") == 0 && left >= 1) opt.rootfs = argv[++i];
    else if (strcmp(a, "--hostname") == 0 && left >= 1) opt.hostname = argv[++i];
    else if (strcmp(a, "--init") == 0 && left >= 1) opt.init = argv[++i];
    else if (strcmp(a, "--log-fd") == 0 && left >= 1) log_fd = (int)parse_int(argv[++i], "--log-fd");
    else if (strcmp(a, "--privileged") == 0) opt.privileged = 1;
    else if (strcmp(a, "--cgroup") == 0 && left >= 1 && opt.ncgroups < MAX_ITEMS) opt.cgroups[opt.ncgroups++] = argv[++i];
    else if (strcmp(a, "--bind") == 0 && left >= 4 && opt.nbinds < MAX_ITEMS) {
      struct bind *b = &opt.binds[opt.nbinds++];
      b->src = argv[++i];
      b->dst = argv[++i];
      b->readonly = strcmp(argv[++i], "ro") == 0;
      b->from_container = strcmp(argv[++i], "container") == 0;
    } else {
      errno = 0;
      bail(EXIT_BAD_USAGE, "unknown or incomplete argument '%s'", a);
    }
  }
  errno = 0;
  if (!opt.rootfs || !opt.hostname || !opt.init) bail(EXIT_BAD_USAGE, "--rootfs, --hostname and --init are required");
}

/* open_in_root walks rel under the directory fd root without following any symlink, making
 * missing directories (or, with file set, a missing last file), and returns an O_PATH fd.
 * An image cannot redirect a mount outside its root with a symlink this way. */
static int open_in_root(int root, const char *rel, int make, int file) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", rel);
  int dir = dup(root);
  if (dir < 0) return -1;
  char *save = NULL;
  char *part = strtok_r(buf, "/", &save);
  while (part) {
    char *next = strtok_r(NULL, "/", &save);
    if (strcmp(part, "..") == 0) {
      errno = EINVAL;
      close(dir);
      return -1;
    }
    if (strcmp(part, ".") != 0) {
      int last = next == NULL;
      if (make && last && file) {
        int f = openat(dir, part, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f >= 0) close(f);
      } else if (make && mkdirat(dir, part, 0755) != 0 && errno != EEXIST) {
        close(dir);
        return -1;
      }
      int flags = O_PATH | O_NOFOLLOW | O_CLOEXEC | (last && file ? 0 : O_DIRECTORY);
      int child = openat(dir, part, flags);
      close(dir);
      if (child < 0) return -1;
      dir = child;
    }
    part = next;
  }
  return dir;
}

static void fd_path(char *out, size_t size, int fd) { snprintf(out, size, "/proc/self/fd/%d", fd); }

static void mount_in(int root, const char *rel, const char *src, const char *type, unsigned long flags, const char *data) {
  int fd = open_in_root(root, rel, 1, 0);
  if (fd < 0) bail(EXIT_HELPER_FAILED, "prepare mount point %s", rel);
  char target[64];
  fd_path(target, sizeof target, fd);
  if (mount(src, target, type, flags, data) != 0) bail(EXIT_HELPER_FAILED, "mount %s on %s", type ? type : src, rel);
  close(fd);
}

static void make_dev(int root) {
  mount_in(root, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  int dev = open_in_root(root, "dev", 0, 0);
  char devpath[64];
  fd_path(devpath, sizeof devpath, dev);
  int devfd = open(devpath, O_DIRECTORY | O_CLOEXEC);
  if (devfd < 0) bail(EXIT_HELPER_FAILED, "open /dev");
  static const struct {
    const char *name;
    unsigned maj, min;
  } nodes[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
    if (mknodat(devfd, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) != 0)
      bail(EXIT_HELPER_FAILED, "mknod /dev/%s", nodes[i].name);
  }
  static const char *links[][2] = {{"pts/ptmx", "ptmx"},         {"/proc/self/fd", "fd"},
                                   {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
                                   {"/proc/self/fd/2", "stderr"}};
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlinkat(links[i][0], devfd, links[i][1]) != 0) bail(EXIT_HELPER_FAILED, "symlink /dev/%s", links[i][1]);
  close(devfd);
  close(dev);
  mount_in(root, "dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  mount_in(root, "dev/shm", "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
}

static void bind_mounts(int root) {
  for (int i = 0; i < opt.nbinds; i++) {
    struct bind *b = &opt.binds[i];
    int src = b->from_container ? open_in_root(root, b->src, 0, 0) : open(b->src, O_PATH | O_CLOEXEC);
    if (src < 0 && b->from_container) src = open_in_root(root, b->src, 0, 1);
    if (src < 0) bail(EXIT_HELPER_FAILED, "bind mount source %s", b->src);
    struct stat st;
    if (fstat(src, &st) != 0) bail(EXIT_HELPER_FAILED, "stat %s", b->src);
    int dst = open_in_root(root, b->dst, 1, !S_ISDIR(st.st_mode));
    if (dst < 0) bail(EXIT_HELPER_FAILED, "bind mount destination %s", b->dst);
    char from[64], to[64];
    fd_path(from, sizeof from, src);
    fd_path(to, sizeof to, dst);
    if (mount(from, to, NULL, MS_BIND | MS_REC, NULL) != 0) bail(EXIT_HELPER_FAILED, "bind %s to %s", b->src, b->dst);
    if (b->readonly && mount(NULL, to, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) != 0)
      bail(EXIT_HELPER_FAILED, "make %s read-only", b->dst);
    close(src);
    close(dst);
  }
}

/* mask_proc hides host details in /proc the way runtimes do by default. */
static void mask_proc(void) {
  static const char *hidden[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats"};
  for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
    if (access(hidden[i], F_OK) == 0 && mount("/dev/null", hidden[i], NULL, MS_BIND, NULL) != 0)
      bail(EXIT_HELPER_FAILED, "mask %s", hidden[i]);
  static const char *readonly[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"};
  for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
    if (access(readonly[i], F_OK) != 0) continue;
    if (mount(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL) != 0 ||
        mount(NULL, readonly[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) != 0)
      bail(EXIT_HELPER_FAILED, "make %s read-only", readonly[i]);
  }
  errno = 0;
}

/* loopback_up brings up lo in the new network namespace; the Networker adds the rest. */
static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) bail(EXIT_HELPER_FAILED, "socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) bail(EXIT_HELPER_FAILED, "get lo flags");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) bail(EXIT_HELPER_FAILED, "bring lo up");
  close(s);
}

static void child(int init_fd) {
  umask(0);
  for (int i = 0; i < opt.ncgroups; i++) {
    char procs[PATH_MAX];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", opt.cgroups[i]);
    if (write_file(procs, "0") != 0) bail(EXIT_HELPER_FAILED, "join cgroup %s", opt.cgroups[i]);
  }
  loopback_up();
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) bail(EXIT_HELPER_FAILED, "make mounts private");
  if (mount(opt.rootfs, opt.rootfs, NULL, MS_BIND | MS_REC, NULL) != 0) bail(EXIT_HELPER_FAILED, "bind rootfs %s", opt.rootfs);
  int root = open(opt.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) bail(EXIT_HELPER_FAILED, "open rootfs %s", opt.rootfs);
  mount_in(root, "proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_in(root, "sys", "sysfs", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  make_dev(root);
  mount_in(root, "tmp", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  bind_mounts(root);
  if (sethostname(opt.hostname, strlen(opt.hostname)) != 0) bail(EXIT_HELPER_FAILED, "sethostname %s", opt.hostname);
  /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the container */
  if (fchdir(root) != 0) bail(EXIT_HELPER_FAILED, "chdir rootfs");
  if (syscall(SYS_pivot_root, ".", ".") != 0) bail(EXIT_HELPER_FAILED, "pivot_root");
  if (umount2(".", MNT_DETACH) != 0) bail(EXIT_HELPER_FAILED, "detach the host root");
  if (chdir("/") != 0) bail(EXIT_HELPER_FAILED, "chdir /");
  if (!opt.privileged) mask_proc();
  int null = open("/dev/null", O_RDWR);
  if (null < 0) bail(EXIT_HELPER_FAILED, "open /dev/null");
  /* from here on stderr is /dev/null: failures reach the parent through the sync pipe */
  dup2(null, 0);
  dup2(null, 1);
  dup2(null, 2);
  if (null > 2) close(null);
  umask(022);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  char *args[] = {"arbor-init", NULL};
  char *env[] = {NULL};
  /* Setup is done: the parent may answer now instead of waiting out the exec (1-2 ms on a
   * small VM). An exec of the init opened above fails only for want of memory; the init is
   * then gone, which arbord reports on the container's first use. */
  if (write(sync_fd, "k", 1) != 1) bail(EXIT_HELPER_FAILED, "tell the parent");
  sync_fd = -1;
  syscall(SYS_execveat, init_fd, "", args, env, AT_EMPTY_PATH);
  bail(EXIT_HELPER_FAILED, "exec arbor-init");
}

int main(int argc, char **argv) {
  helper_name = "arbor-create";
  parse(argc, argv);
  int init_fd = open(opt.init, O_RDONLY | O_CLOEXEC);
  if (init_fd < 0) bail(EXIT_HELPER_FAILED, "open init %s", opt.init);
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) != 0) bail(EXIT_HELPER_FAILED, "pipe");
  if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET) != 0) bail(EXIT_HELPER_FAILED, "unshare");
  pid_t pid = fork();
  if (pid < 0) bail(EXIT_HELPER_FAILED, "fork");
  if (pid == 0) {
    close(sync[0]);
    sync_fd = sync[1];
    bail_hook = tell_parent;
    child(init_fd);
  }
  close(sync[1]);
  char c = 0;
  ssize_t n;
  /* 'k': ready to exec the init; 'x' or nothing (it died): setup failed */
  do n = read(sync[0], &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || c != 'k') {
    /* the child wrote its reason on the shared stderr before telling us */
    waitpid(pid, NULL, 0);
    errno = 0;
    bail(EXIT_HELPER_FAILED, "container setup failed");
  }
  printf("%d\n", pid);
  log_event("created", opt.hostname);
  return 0;
}
