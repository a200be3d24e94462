// arbor-mount: a long-lived mount(2)/umount2(2) and btrfs ioctl helper for @arbor/images'
// OverlayVolumizer and its BtrfsQuotaVolumes.
//
// It reads one request per line on stdin and writes one reply line per request on stdout:
// "ok", "ok <values>" or "err <errno> <message>". As a coprocess, a container's overlay mount
// or its btrfs subvolume costs a syscall or two instead of one mount(8) or btrfs(8) process
// (milliseconds each, more on a busy host).
//
// Requests (tokens separated by single spaces; the TS side refuses paths with whitespace):
//   overlay <target> <options>
//       mount an overlay at <target> with <options>, like
//       lowerdir=/a:/b,upperdir=/s/overlays/h/upper,workdir=/s/overlays/h/work
//   umount <target>
//       unmount <target>; a target that is not mounted is not an error
//   btrfs-loop <target> <image>
//       mount the btrfs in the file <image> at <target> through a free loop device that goes
//       away by itself when the filesystem is unmounted (like mount -o loop)
//   quota-enable <target>
//       turn on qgroups for the btrfs mounted at <target>; already on is not an error
//   subvolume-create <path>
//       make <path>, like /var/lib/arbor/overlays/<handle>, a btrfs subvolume with mode 0700;
//       with quotas on, the kernel gives it a qgroup 0/<subvolume id>
//   subvolume-delete <path>
//       delete the subvolume <path> and start (not wait for) a commit of its filesystem: the
//       kernel's cleaner drops a deleted subvolume, and then its qgroup, only once the delete is
//       committed, which without a nudge waits for the next periodic commit (30 s by default);
//       a path already gone is not an error
//   qgroup-limit <path> <bytes>
//       cap the referenced bytes of the qgroup of the subvolume holding <path>; 0 removes the cap
//   idmapped-overlay <target> <hostid>:<size> <options>
//       mount at <target> an overlay with <options> (lowerdir=/a:/b,upperdir=..,workdir=..)
//       whose lower layers are idmapped into the range (container id N is host id <hostid>+N)
//       and whose upper dir is <hostid>'s: a user-namespace container's root, in one mount
//       (the Volumizer's overlay mounted and then replaced would cost an unmount, which syncs
//       the upper filesystem). "err 95 ..." (EOPNOTSUPP) where the kernel cannot.
//   qgroup-usage <path>
//       commit the filesystem (qgroups count a write once its transaction is committed) and
//       reply "ok <referenced> <exclusive>", the bytes of the qgroup of the subvolume at <path>
//
// With arguments it does one of these and exits (0, or the helpers' exit codes of
// native/common/arbor.h with the reason on stderr), for the runc backend, whose runc 1.1 has no
// idmapped mounts of its own, to prepare a user-namespace container's bundle:
//   arbor-mount idmap-overlay <rootfs> <hostid>:<size>
//       mount the overlay at <rootfs> again with its lower layers idmapped into the range
//       (container id N is host id <hostid>+N) and its upper dir owned by <hostid>; a kernel
//       that cannot exits 5 (EXIT_UNSUPPORTED)
//   arbor-mount idmap-bind <src> <dst> <hostid>:<size>
//       attach a copy of the mount tree at <src> at <dst> (made: a dir, or an empty file for
//       a file), idmapped the same way, so that host id N shows as container id N
//   arbor-mount detach <target>
//       detach the mount at <target> (MNT_DETACH, not following a symlink there), as once runc
//       holds its own copy of an idmap-bind; a target that is not mounted is not an error
//
// Covered by packages/images/src/overlay-volumizer.int.spec.ts ('mounts through arbor-mount'
// and 'disk limits (btrfs qgroups)'), packages/backend-runc/src/runc-userns.int.spec.ts and
// runc-userns-binds.int.spec.ts (idmap-bind, detach).
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/loop.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/arbor.h"
#include "../common/idmap.h"
#include "../common/mount-api.h"

#define OPEN_DIR (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* die prints "arbor-mount: <what>: <strerror(errno)>" and exits: only for a broken channel. */
static void die(const char *what) {
  fprintf(stderr, "arbor-mount: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void reply(int err, const char *what) {
  if (err == 0) {
    fputs("ok\n", stdout);
  } else {
    fprintf(stdout, "err %d %s: %s\n", err, what, strerror(err));
  }
  if (fflush(stdout) != 0) die("write reply");
}

/* reply_values answers "ok <a> <b>". */
static void reply_values(uint64_t a, uint64_t b) {
  fprintf(stdout, "ok %" PRIu64 " %" PRIu64 "\n", a, b);
  if (fflush(stdout) != 0) die("write reply");
}

/* open_parent opens the directory holding path and points *name at path's last component (in path). */
static int open_parent(char *path, char **name) {
  char *slash = strrchr(path, '/');
  if (slash == NULL || slash[1] == '\0' || strlen(slash + 1) > BTRFS_PATH_NAME_MAX) {
    errno = EINVAL;
    return -1;
  }
  *name = slash + 1;
  *slash = '\0';
  int fd = open(slash == path ? "/" : path, OPEN_DIR);
  *slash = '/';
  return fd;
}

/* btrfs_loop binds image to a free loop device (LOOP_CONFIGURE, Linux 5.8) with autoclear and mounts it at target. */
static int btrfs_loop(const char *target, const char *image) {
  int file = open(image, O_RDWR | O_CLOEXEC);
  if (file < 0) return errno;
  int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  int err = control < 0 ? errno : 0;
  /* another process may take the free device between GET_FREE and CONFIGURE: then ask again */
  for (int attempt = 0; err == 0 && attempt < 16; attempt++) {
    int n = ioctl(control, LOOP_CTL_GET_FREE);
    if (n < 0) {
      err = errno;
      break;
    }
    char dev[32];
    snprintf(dev, sizeof(dev), "/dev/loop%d", n);
    int loop = open(dev, O_RDWR | O_CLOEXEC);
    if (loop < 0) {
      err = errno;
      break;
    }
    struct loop_config config = {0};
    config.fd = (__u32)file;
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    strncpy((char *)config.info.lo_file_name, image, LO_NAME_SIZE - 1);
    if (ioctl(loop, LOOP_CONFIGURE, &config) != 0) {
      err = errno == EBUSY ? 0 : errno;
      close(loop);
      continue;
    }
    /* the mount holds the device from here; closing ours lets autoclear detach it at unmount (or now, if the mount failed) */
    err = mount(dev, target, "btrfs", 0, NULL) == 0 ? 0 : errno;
    close(loop);
    break;
  }
  if (control >= 0) close(control);
  close(file);
  return err;
}

static int quota_enable(const char *target) {
  int fd = open(target, OPEN_DIR);
  if (fd < 0) return errno;
  struct btrfs_ioctl_quota_ctl_args args = {0};
  args.cmd = BTRFS_QUOTA_CTL_ENABLE;
  int err = ioctl(fd, BTRFS_IOC_QUOTA_CTL, &args) == 0 ? 0 : errno;
  close(fd);
  return err;
}

static int subvolume_create(char *path) {
  char *name;
  int dir = open_parent(path, &name);
  if (dir < 0) return errno;
  struct btrfs_ioctl_vol_args args = {0};
  strcpy(args.name, name);
  int err = ioctl(dir, BTRFS_IOC_SUBVOL_CREATE, &args) == 0 && fchmodat(dir, name, 0700, 0) == 0 ? 0 : errno;
  close(dir);
  return err;
}

static int subvolume_delete(char *path) {
  char *name;
  int dir = open_parent(path, &name);
  if (dir < 0) return errno;
  struct btrfs_ioctl_vol_args args = {0};
  strcpy(args.name, name);
  int err = ioctl(dir, BTRFS_IOC_SNAP_DESTROY, &args) == 0 ? 0 : errno;
  __u64 transid;
  if (err == 0 && ioctl(dir, BTRFS_IOC_START_SYNC, &transid) != 0) err = errno;
  close(dir);
  return err == ENOENT ? 0 : err;
}

static int qgroup_limit(const char *path, const char *bytes) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(bytes, &end, 10);
  if (errno != 0 || *end != '\0' || bytes[0] == '-') return EINVAL;
  int fd = open(path, OPEN_DIR);
  if (fd < 0) return errno;
  /* qgroupid 0 names the qgroup of fd's subvolume; a max of all ones clears the limit */
  struct btrfs_ioctl_qgroup_limit_args args = {0};
  args.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
  args.lim.max_rfer = n == 0 ? UINT64_MAX : n;
  int err = ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &args) == 0 ? 0 : errno;
  close(fd);
  return err;
}

/* qgroup_usage commits path's filesystem and reads the qgroup info item of its subvolume from the quota tree. */
static int qgroup_usage(const char *path, uint64_t *referenced, uint64_t *exclusive) {
  int fd = open(path, OPEN_DIR);
  if (fd < 0) return errno;
  struct btrfs_ioctl_ino_lookup_args lookup = {0};
  lookup.objectid = BTRFS_FIRST_FREE_OBJECTID;
  struct btrfs_ioctl_search_args search = {0};
  struct btrfs_ioctl_search_key *key = &search.key;
  int err = 0;
  if (ioctl(fd, BTRFS_IOC_SYNC, NULL) != 0 || ioctl(fd, BTRFS_IOC_INO_LOOKUP, &lookup) != 0) {
    err = errno;
  } else {
    key->tree_id = BTRFS_QUOTA_TREE_OBJECTID;
    key->min_type = key->max_type = BTRFS_QGROUP_INFO_KEY;
    key->min_offset = key->max_offset = lookup.treeid; /* qgroup 0/<subvolume id> */
    key->max_transid = UINT64_MAX;
    key->nr_items = 1;
    if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &search) != 0) err = errno;
  }
  close(fd);
  if (err != 0) return err;
  struct btrfs_ioctl_search_header header;
  struct btrfs_qgroup_info_item info;
  memcpy(&header, search.buf, sizeof(header));
  if (key->nr_items < 1 || header.type != BTRFS_QGROUP_INFO_KEY || header.len < sizeof(info)) return ENOENT; /* quotas off */
  memcpy(&info, search.buf + sizeof(header), sizeof(info));
  *referenced = le64toh(info.rfer);
  *exclusive = le64toh(info.excl);
  return 0;
}

/* idmapped_overlay does the idmapped-overlay request in a child, whose bail (common/idmap.c)
 * then ends only it: its exit code and what it printed become the reply. */
static void idmapped_overlay(const char *target, char *rest) {
  char *space = strchr(rest, ' ');
  if (space == NULL) {
    reply(EINVAL, "idmapped-overlay needs a range and options");
    return;
  }
  *space = '\0';
  const char *range = rest;
  char *options = space + 1;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) die("pipe");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    if (dup2(out[1], STDERR_FILENO) < 0) _exit(EXIT_HELPER_FAILED);
    helper_name = "arbor-mount";
    unsigned long long host, size;
    parse_id_range(range, "range", &host, &size);
    static struct overlay_dirs dirs;
    if (parse_overlay_options(options, &dirs) != 0) {
      errno = 0;
      bail(EXIT_BAD_USAGE, "options need lowerdir, upperdir and workdir");
    }
    int userns = range_userns(host, size);
    mount_idmapped_overlay(target, dirs.lower, dirs.upper, dirs.work, userns, host);
    _exit(0);
  }
  close(out[1]);
  char message[1024];
  size_t used = 0;
  for (;;) {
    ssize_t n = read(out[0], message + used, sizeof message - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
    if (used == sizeof message - 1) break;
  }
  close(out[0]);
  message[used] = '\0';
  for (char *c = message; *c; c++)
    if (*c == '\n') *c = ' ';
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    reply(0, "");
    return;
  }
  int err = WIFEXITED(st) && WEXITSTATUS(st) == EXIT_UNSUPPORTED ? EOPNOTSUPP : EIO;
  fprintf(stdout, "err %d %s\n", err, used ? message : "idmapped overlay failed");
  if (fflush(stdout) != 0) die("write reply");
}

static void handle(char *line) {
  char *verb = strtok(line, " ");
  char *target = strtok(NULL, " ");
  char *options = strtok(NULL, "");
  if (verb == NULL || target == NULL) {
    reply(EINVAL, "malformed request");
  } else if (strcmp(verb, "overlay") == 0 && options != NULL) {
    reply(mount("overlay", target, "overlay", 0, options) == 0 ? 0 : errno, "mount overlay");
  } else if (strcmp(verb, "umount") == 0 && options == NULL) {
    int err = umount2(target, UMOUNT_NOFOLLOW) == 0 ? 0 : errno;
    reply(err == EINVAL ? 0 : err, "umount"); /* EINVAL: not a mount point */
  } else if (strcmp(verb, "btrfs-loop") == 0 && options != NULL) {
    reply(btrfs_loop(target, options), "mount btrfs through a loop device");
  } else if (strcmp(verb, "quota-enable") == 0 && options == NULL) {
    reply(quota_enable(target), "btrfs quota enable");
  } else if (strcmp(verb, "subvolume-create") == 0 && options == NULL) {
    reply(subvolume_create(target), "btrfs subvolume create");
  } else if (strcmp(verb, "subvolume-delete") == 0 && options == NULL) {
    reply(subvolume_delete(target), "btrfs subvolume delete");
  } else if (strcmp(verb, "qgroup-limit") == 0 && options != NULL) {
    reply(qgroup_limit(target, options), "btrfs qgroup limit");
  } else if (strcmp(verb, "idmapped-overlay") == 0 && options != NULL) {
    idmapped_overlay(target, options);
  } else if (strcmp(verb, "qgroup-usage") == 0 && options == NULL) {
    uint64_t referenced = 0, exclusive = 0;
    int err = qgroup_usage(target, &referenced, &exclusive);
    if (err == 0) reply_values(referenced, exclusive);
    else reply(err, "btrfs qgroup usage");
  } else {
    reply(EINVAL, "unknown request");
  }
}

/* idmap_bind attaches an idmapped copy of the tree at src at dst (see the header). */
static int idmap_bind(const char *src, const char *dst, const char *range) {
  unsigned long long host, size;
  parse_id_range(range, "range", &host, &size);
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) bail(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_HELPER_FAILED, "bind mount source %s", src);
  int userns = range_userns(host, size);
  struct tree_attr a = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns};
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) != 0)
    bail(EXIT_UNSUPPORTED, "idmap %s (mount_setattr MOUNT_ATTR_IDMAP: Linux 5.12+, on a filesystem that allows it)", src);
  struct stat st;
  if (fstat(tree, &st) != 0) bail(EXIT_HELPER_FAILED, "stat %s", src);
  if (S_ISDIR(st.st_mode) ? mkdir(dst, 0700) != 0 && errno != EEXIST : mknod(dst, S_IFREG | 0600, 0) != 0 && errno != EEXIST)
    bail(EXIT_HELPER_FAILED, "make %s", dst);
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) != 0) bail(EXIT_HELPER_FAILED, "attach %s at %s", src, dst);
  close(tree);
  close(userns);
  return 0;
}

/* one_shot does the request in argv (see the header) and returns the exit code. */
static int one_shot(int argc, char **argv) {
  helper_name = "arbor-mount";
  if (argc == 4 && strcmp(argv[1], "idmap-overlay") == 0) {
    unsigned long long host, size;
    parse_id_range(argv[3], "range", &host, &size);
    int userns = range_userns(host, size);
    idmap_overlay(argv[2], userns, host);
    close(userns);
    return 0;
  }
  if (argc == 5 && strcmp(argv[1], "idmap-bind") == 0) return idmap_bind(argv[2], argv[3], argv[4]);
  if (argc == 3 && strcmp(argv[1], "detach") == 0) {
    /* EINVAL: not a mount point; ENOENT: nothing there */
    if (umount2(argv[2], MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL && errno != ENOENT) bail(EXIT_HELPER_FAILED, "detach %s", argv[2]);
    return 0;
  }
  errno = 0;
  bail(EXIT_BAD_USAGE, "usage: arbor-mount [idmap-overlay ROOTFS HOSTID:SIZE | idmap-bind SRC DST HOSTID:SIZE | detach TARGET]");
}

int main(int argc, char **argv) {
  if (argc > 1) return one_shot(argc, argv);
  char *line = NULL;
  size_t size = 0;
  ssize_t n;
  errno = 0;
  while ((n = getline(&line, &size, stdin)) > 0) {
    if (line[n - 1] == '\n') line[n - 1] = '\0';
    handle(line);
  }
  if (ferror(stdin)) die("read request");
  free(line);
  return 0;
}
