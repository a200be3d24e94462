/* arbor-create makes a container: new mount, pid, uts, ipc, network and cgroup namespaces
 * (the cgroup one rooted at the container's cgroups); the prepared root filesystem with
 * /proc, /sys (read-only), a nodev /dev of bind-mounted host nodes, /dev/pts, /dev/shm and
 * /tmp; bind mounts (ro ones read-only down to their submounts); pivot_root into it; the
 * masked and read-only paths; hostname; then it execs arbor-init as pid 1 and prints the
 * init's host pid on stdout.
 *
 * With --userns HOSTID:SIZE the container's init is in a user namespace of its own, which
 * owns the other namespaces, whose ids 0..SIZE-1 are host ids HOSTID..HOSTID+SIZE-1 (maps
 * written by this process, the host's root; setgroups left allowed, as runc run by root,
 * and so Garden, leaves it: the namespace's groups are its own range). The overlay the
 * Volumizer mounted at --rootfs is mounted again with its lower layers idmapped into that
 * range (open_tree + mount_setattr(MOUNT_ATTR_IDMAP): Linux 5.19+ for overlayfs over them)
 * and its upper dir owned by the range's root, so no layer is copied or chowned and
 * what the container writes is owned by its range on the host. A kernel that cannot exits
 * EXIT_UNSUPPORTED; the container is never made with host ids instead.
 *
 * usage: arbor-create --rootfs DIR --hostname NAME --init PATH [--cgroup DIR]...
 *          [--bind SRC DST ro|rw host|container]... [--idmap-bind SRC DST ro|rw]...
 *          [--mask PATH]... [--readonly PATH]... [--userns HOSTID:SIZE [--rootfs-idmapped]] [--log-fd N]
 *
 * --rootfs-idmapped says the Volumizer mounted --rootfs for the range already (arbor-mount
 * idmapped-overlay): it is used as it is, saving the remount, whose unmount syncs the upper
 * filesystem.
 *
 * --idmap-bind is a host bind that, with --userns, is idmapped through the container's user
 * namespace: host uid N shows as its uid N (host root's files as its root's) and is what its
 * uid N writes there; a filesystem that refuses exits EXIT_UNSUPPORTED. Without --userns it
 * is a plain host bind: a privileged container's ids are the host's already.
 *
 * --mask and --readonly are paths in the container (like /sys/firmware, /proc/sys); the
 * lists live in packages/backend-linux/src/masked-paths.ts, shared with the runc backend.
 *
 * Covered by: packages/backend-linux/src/namespace-containerizer.int.spec.ts,
 * packages/backend-linux/src/userns.int.spec.ts, userns-binds.int.spec.ts and
 * packages/contract-tests/src/hostile/bind-mount-ro.posture.int.spec.ts */
#define _GNU_SOURCE
#include "../common/arbor.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ITEMS 64

#include "../common/idmap.h"
#include "../common/mount-api.h"

struct bind {
  const char *src, *dst;
  /* idmap: a host source seen through the container's user namespace (--idmap-bind) */
  int readonly, from_container, idmap;
  /* tree is a host source's copy, detached, made on the host side in a user namespace (else -1) */
  int tree, tree_is_dir;
};

static struct {
  const char *rootfs, *hostname, *init;
  const char *cgroups[MAX_ITEMS];
  int ncgroups;
  struct bind binds[MAX_ITEMS];
  int nbinds;
  const char *masked[MAX_ITEMS], *readonly[MAX_ITEMS];
  int nmasked, nreadonly;
  /* userns_host and userns_size are --userns HOSTID:SIZE; size 0: no user namespace */
  unsigned long long userns_host, userns_size;
  /* rootfs_idmapped: --rootfs-idmapped, the Volumizer mounted --rootfs for the range already */
  int rootfs_idmapped;
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
    else if (strcmp(a, "--mask") == 0 && left >= 1 && opt.nmasked < MAX_ITEMS) opt.masked[opt.nmasked++] = argv[++i];
    else if (strcmp(a, "--readonly") == 0 && left >= 1 && opt.nreadonly < MAX_ITEMS) opt.readonly[opt.nreadonly++] = argv[++i];
    else if (strcmp(a, "--cgroup") == 0 && left >= 1 && opt.ncgroups < MAX_ITEMS) opt.cgroups[opt.ncgroups++] = argv[++i];
    else if (strcmp(a, "--userns") == 0 && left >= 1) parse_id_range(argv[++i], "--userns", &opt.userns_host, &opt.userns_size);
    else if (strcmp(a, "--rootfs-idmapped") == 0) opt.rootfs_idmapped = 1;
    else if (strcmp(a, "--bind") == 0 && left >= 4 && opt.nbinds < MAX_ITEMS) {
      struct bind *b = &opt.binds[opt.nbinds++];
      b->src = argv[++i];
      b->dst = argv[++i];
      b->readonly = strcmp(argv[++i], "ro") == 0;
      b->from_container = strcmp(argv[++i], "container") == 0;
      b->tree = -1;
    } else if (strcmp(a, "--idmap-bind") == 0 && left >= 3 && opt.nbinds < MAX_ITEMS) {
      struct bind *b = &opt.binds[opt.nbinds++];
      b->src = argv[++i];
      b->dst = argv[++i];
      b->readonly = strcmp(argv[++i], "ro") == 0;
      b->idmap = 1;
      b->tree = -1;
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

/* bind_tree attaches a copy of the mount tree at src (an O_PATH fd), submounts included, on
 * dst with attr (like MOUNT_ATTR_RDONLY) added to every mount of the copy before it is
 * attached: a read-only bind mount is read-only down to its submounts from its first moment,
 * and each mount keeps the flags it had (a nosuid or nodev source stays so). */
static int bind_tree(int src, int dst, uint64_t attr) {
  int tree = (int)syscall(SYS_open_tree, src, "", OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
  if (tree < 0) return -1;
  struct tree_attr a = {.attr_set = attr};
  int rc = attr ? (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) : 0;
  if (rc == 0) rc = (int)syscall(SYS_move_mount, tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
  int saved = errno;
  close(tree);
  errno = saved;
  return rc;
}

/* make_dev mounts /dev nodev: a node the container's root makes there (it has CAP_MKNOD), like
 * a block device of the host's disk, opens nothing, even where no devices cgroup would stop
 * it (cgroup v2 without a device program). nodev on a mount stops every node on it, so the
 * standard nodes are bind mounts of the host's own, each a mount of its own without nodev. */
static void make_dev(int root) {
  mount_in(root, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=755,size=65536k");
  int dev = open_in_root(root, "dev", 0, 0);
  char devpath[64];
  fd_path(devpath, sizeof devpath, dev);
  int devfd = open(devpath, O_DIRECTORY | O_CLOEXEC);
  if (devfd < 0) bail(EXIT_HELPER_FAILED, "open /dev");
  static const char *nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
    char host[32], rel[32];
    snprintf(host, sizeof host, "/dev/%s", nodes[i]);
    snprintf(rel, sizeof rel, "dev/%s", nodes[i]);
    int src = open(host, O_PATH | O_CLOEXEC);
    struct stat st;
    if (src < 0 || fstat(src, &st) != 0 || !S_ISCHR(st.st_mode)) bail(EXIT_HELPER_FAILED, "host device %s", host);
    int node = open_in_root(root, rel, 1, 1);
    if (node < 0) bail(EXIT_HELPER_FAILED, "prepare /dev/%s", nodes[i]);
    if (bind_tree(src, node, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC) != 0) bail(EXIT_HELPER_FAILED, "bind %s", host);
    close(node);
    close(src);
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

/* detach_host_binds copies each host source's tree (read-only ones made so), as the host's
 * root, before the fork: in the user namespace its path may pass directories the container's
 * root may not search, and it attaches the copies with move_mount; the host side idmaps the
 * --idmap-bind ones once that namespace exists (idmap_host_binds). */
static void detach_host_binds(void) {
  for (int i = 0; i < opt.nbinds; i++) {
    struct bind *b = &opt.binds[i];
    if (b->from_container) continue;
    b->tree = (int)syscall(SYS_open_tree, AT_FDCWD, b->src, OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE);
    if (b->tree < 0) bail(EXIT_HELPER_FAILED, "bind mount source %s", b->src);
    struct tree_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
    if (b->readonly && syscall(SYS_mount_setattr, b->tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) != 0)
      bail(EXIT_HELPER_FAILED, "make %s read-only", b->src);
    struct stat st;
    if (fstat(b->tree, &st) != 0) bail(EXIT_HELPER_FAILED, "stat %s", b->src);
    b->tree_is_dir = S_ISDIR(st.st_mode);
  }
}

/* idmap_host_binds, on the host side, shows each --idmap-bind tree through userns, the
 * container's (mount_setattr MOUNT_ATTR_IDMAP, submounts included): a file of host uid N is
 * its uid N (host root's files are its root's) and what it writes there is host uid N's.
 * Then it closes this side's copies of every tree; the child attaches its own. */
static void idmap_host_binds(int userns) {
  for (int i = 0; i < opt.nbinds; i++) {
    struct bind *b = &opt.binds[i];
    if (b->tree < 0) continue;
    struct tree_attr a = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns};
    if (b->idmap && syscall(SYS_mount_setattr, b->tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) != 0)
      bail(EXIT_UNSUPPORTED, "idmap bind mount source %s (its filesystem, or one mounted under it, may not allow idmapped mounts)", b->src);
    close(b->tree);
    b->tree = -1;
  }
}

static void bind_mounts(int root) {
  for (int i = 0; i < opt.nbinds; i++) {
    struct bind *b = &opt.binds[i];
    if (b->tree >= 0) {
      int dst = open_in_root(root, b->dst, 1, !b->tree_is_dir);
      if (dst < 0) bail(EXIT_HELPER_FAILED, "bind mount destination %s", b->dst);
      if (syscall(SYS_move_mount, b->tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        bail(EXIT_HELPER_FAILED, "bind %s to %s", b->src, b->dst);
      close(b->tree);
      close(dst);
      continue;
    }
    int src = b->from_container ? open_in_root(root, b->src, 0, 0) : open(b->src, O_PATH | O_CLOEXEC);
    if (src < 0 && b->from_container) src = open_in_root(root, b->src, 0, 1);
    if (src < 0) bail(EXIT_HELPER_FAILED, "bind mount source %s", b->src);
    struct stat st;
    if (fstat(src, &st) != 0) bail(EXIT_HELPER_FAILED, "stat %s", b->src);
    int dst = open_in_root(root, b->dst, 1, !S_ISDIR(st.st_mode));
    if (dst < 0) bail(EXIT_HELPER_FAILED, "bind mount destination %s", b->dst);
    if (bind_tree(src, dst, b->readonly ? MOUNT_ATTR_RDONLY : 0) != 0) bail(EXIT_HELPER_FAILED, "bind %s to %s", b->src, b->dst);
    close(src);
    close(dst);
  }
}

/* mask_paths hides the --mask paths (a directory under an empty read-only tmpfs, a file under
 * /dev/null) and binds each --readonly path onto itself read-only, nosuid, nodev and noexec,
 * submounts included. It runs after pivot_root: the paths are the container's own /proc and
 * /sys, which this helper mounted; one this kernel lacks is skipped. */
static void mask_paths(void) {
  for (int i = 0; i < opt.nmasked; i++) {
    const char *path = opt.masked[i];
    struct stat st;
    if (lstat(path, &st) != 0) {
      if (errno == ENOENT) continue;
      bail(EXIT_HELPER_FAILED, "stat %s", path);
    }
    int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555,size=4k")
                                 : mount("/dev/null", path, NULL, MS_BIND, NULL);
    if (rc != 0) bail(EXIT_HELPER_FAILED, "mask %s", path);
  }
  for (int i = 0; i < opt.nreadonly; i++) {
    const char *path = opt.readonly[i];
    int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) continue;
    if (fd < 0 || bind_tree(fd, fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC) != 0)
      bail(EXIT_HELPER_FAILED, "make %s read-only", path);
    close(fd);
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

/* cgroup_fds are the --cgroup dirs' cgroup.procs, opened by the host's root before anything
 * is unshared: the kernel checks a move against the opener, and the container's root in a
 * user namespace may not write the host's cgroup files. */
static int cgroup_fds[MAX_ITEMS];

static void open_cgroups(void) {
  for (int i = 0; i < opt.ncgroups; i++) {
    char procs[PATH_MAX];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", opt.cgroups[i]);
    cgroup_fds[i] = open(procs, O_WRONLY | O_CLOEXEC);
    if (cgroup_fds[i] < 0) bail(EXIT_HELPER_FAILED, "open %s", procs);
  }
}

/* move_to_cgroups moves pid, the init-to-be (alone: a pid limit counts no helper), into the
 * --cgroup dirs, while it sets itself up: on cgroup v1 the first move after a quiet spell
 * waits out an RCU grace period (about 10 ms), which the setup's mounts now overlap.
 * Returns 0, or -1 with errno and *failed naming the dir. */
static int move_to_cgroups(pid_t pid, const char **failed) {
  char text[32];
  int len = snprintf(text, sizeof text, "%d", (int)pid);
  for (int i = 0; i < opt.ncgroups; i++) {
    if (write(cgroup_fds[i], text, (size_t)len) != len) {
      *failed = opt.cgroups[i];
      return -1;
    }
  }
  return 0;
}

/* joined_fd is the child's end of the pipe on which the parent says it moved the child into the cgroups ('j'). */
static int joined_fd = -1;

static void child(int init_fd) {
  umask(0);
  for (int i = 0; i < opt.ncgroups; i++) close(cgroup_fds[i]);
  loopback_up();
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) bail(EXIT_HELPER_FAILED, "make mounts private");
  int root;
  if (opt.userns_size) {
    /* the working directory is the rootfs, entered on the host side: its path may pass
     * directories the namespace's root may not search. A copy of it on itself is a mount
     * this namespace owns, which pivot_root takes (the copied mounts are locked). */
    root = (int)syscall(SYS_open_tree, AT_FDCWD, ".", OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE);
    if (root < 0 || syscall(SYS_move_mount, root, "", AT_FDCWD, ".", MOVE_MOUNT_F_EMPTY_PATH) != 0) bail(EXIT_HELPER_FAILED, "bind rootfs %s", opt.rootfs);
  } else {
    if (mount(opt.rootfs, opt.rootfs, NULL, MS_BIND | MS_REC, NULL) != 0) bail(EXIT_HELPER_FAILED, "bind rootfs %s", opt.rootfs);
    root = open(opt.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) bail(EXIT_HELPER_FAILED, "open rootfs %s", opt.rootfs);
  }
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
  mask_paths();
  /* only once in the cgroups: a cgroup namespace's root is its creator's cgroups, so the
   * container sees its own as "/" and none of the host's paths (arbor-exec and arbor-tar join it later) */
  char joined = 0;
  ssize_t got;
  do got = read(joined_fd, &joined, 1);
  while (got < 0 && errno == EINTR);
  if (got != 1 || joined != 'j') bail(EXIT_HELPER_FAILED, "wait to be moved into the cgroups");
  close(joined_fd);
  if (unshare(CLONE_NEWCGROUP) != 0) bail(EXIT_HELPER_FAILED, "unshare the cgroup namespace");
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

/* make_container unshares the namespaces but user, forks the init-to-be into them, waits
 * for its setup and prints its host pid. */
static int make_container(int init_fd) {
  int sync[2], joined[2];
  if (pipe2(sync, O_CLOEXEC) != 0 || pipe2(joined, O_CLOEXEC) != 0) bail(EXIT_HELPER_FAILED, "pipe");
  if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET) != 0) bail(EXIT_HELPER_FAILED, "unshare");
  pid_t pid = fork();
  if (pid < 0) bail(EXIT_HELPER_FAILED, "fork");
  if (pid == 0) {
    close(sync[0]);
    close(joined[1]);
    sync_fd = sync[1];
    joined_fd = joined[0];
    bail_hook = tell_parent;
    child(init_fd);
  }
  close(sync[1]);
  close(joined[0]);
  /* pid is the child's pid here, in this process's pid namespace (the host's): the one cgroup.procs reads */
  const char *failed = NULL;
  if (move_to_cgroups(pid, &failed) != 0) {
    int err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    errno = err;
    bail(EXIT_HELPER_FAILED, "move the init into cgroup %s", failed);
  }
  /* a child that failed meanwhile has closed its end: its reason comes through sync below */
  signal(SIGPIPE, SIG_IGN);
  (void)!write(joined[1], "j", 1);
  close(joined[1]);
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

/* make_in_userns forks the process that makes the container into a new user namespace, maps
 * its ids and idmaps the root filesystem from here (the host's root), then lets it go on. */
static int make_in_userns(int init_fd) {
  int up[2], down[2];
  if (pipe2(up, O_CLOEXEC) != 0 || pipe2(down, O_CLOEXEC) != 0) bail(EXIT_HELPER_FAILED, "pipe");
  detach_host_binds();
  pid_t pid = fork();
  if (pid < 0) bail(EXIT_HELPER_FAILED, "fork");
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    if (unshare(CLONE_NEWUSER) != 0) bail(EXIT_HELPER_FAILED, "unshare the user namespace");
    char c = 0;
    if (write(up[1], "u", 1) != 1 || read(down[0], &c, 1) != 1 || c != 'm') _exit(EXIT_HELPER_FAILED);
    close(up[1]);
    close(down[0]);
    /* still host uid 0, the owner of the state dirs on the way: the container's side starts
     * from the idmapped rootfs the parent mounted */
    if (chdir(opt.rootfs) != 0) bail(EXIT_HELPER_FAILED, "chdir %s", opt.rootfs);
    /* the namespace's root, not host uid 0 (unmapped there), makes and owns what follows */
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) bail(EXIT_HELPER_FAILED, "become the user namespace's root");
    if (setgroups(0, NULL) != 0) bail(EXIT_HELPER_FAILED, "drop the host's groups");
    exit(make_container(init_fd));
  }
  close(up[1]);
  close(down[0]);
  char c = 0;
  if (read(up[0], &c, 1) != 1 || c != 'u') {
    waitpid(pid, NULL, 0);
    errno = 0;
    bail(EXIT_HELPER_FAILED, "user namespace setup failed");
  }
  /* on a bail from here the child reads end of file and exits */
  write_id_maps(pid, opt.userns_host, opt.userns_size);
  char ns[64];
  snprintf(ns, sizeof ns, "/proc/%d/ns/user", pid);
  int userns = open(ns, O_RDONLY | O_CLOEXEC);
  if (userns < 0) bail(EXIT_HELPER_FAILED, "open %s", ns);
  if (!opt.rootfs_idmapped) idmap_overlay(opt.rootfs, userns, opt.userns_host);
  idmap_host_binds(userns);
  close(userns);
  if (write(down[1], "m", 1) != 1) bail(EXIT_HELPER_FAILED, "tell the child");
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) bail(EXIT_HELPER_FAILED, "wait");
  return WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_HELPER_FAILED;
}

int main(int argc, char **argv) {
  helper_name = "arbor-create";
  parse(argc, argv);
  int init_fd = open(opt.init, O_RDONLY | O_CLOEXEC);
  if (init_fd < 0) bail(EXIT_HELPER_FAILED, "open init %s", opt.init);
  open_cgroups();
  return opt.userns_size ? make_in_userns(init_fd) : make_container(init_fd);
}
