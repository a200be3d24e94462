/* idmap.c: see idmap.h. Covered by packages/backend-linux/src/userns.int.spec.ts and
 * packages/backend-runc/src/runc-userns.int.spec.ts. */
#define _GNU_SOURCE
#include "idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arbor.h"
#include "mount-api.h"

#define unsupported(...) bail(EXIT_UNSUPPORTED, __VA_ARGS__)

void parse_id_range(const char *text, const char *what, unsigned long long *host, unsigned long long *size) {
  char *end = NULL;
  errno = 0;
  *size = 0;
  *host = strtoull(text, &end, 10);
  if (*end == ':') *size = strtoull(end + 1, &end, 10);
  if (errno != 0 || *end != '\0' || *host == 0 || *size == 0 || *host + *size - 1 > MAX_USER_ID) {
    errno = 0;
    bail(EXIT_BAD_USAGE, "%s '%s' must be HOSTID:SIZE, ids from 1 to %u", what, text, MAX_USER_ID);
  }
}

void write_id_maps(pid_t pid, unsigned long long host, unsigned long long size) {
  char map[64], path[64];
  snprintf(map, sizeof map, "0 %llu %llu\n", host, size);
  snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
  if (write_file(path, map) != 0) bail(EXIT_HELPER_FAILED, "write %s", path);
  snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
  if (write_file(path, map) != 0) bail(EXIT_HELPER_FAILED, "write %s", path);
}

int range_userns(unsigned long long host, unsigned long long size) {
  int up[2], down[2];
  if (pipe2(up, O_CLOEXEC) != 0 || pipe2(down, O_CLOEXEC) != 0) bail(EXIT_HELPER_FAILED, "pipe");
  pid_t pid = fork();
  if (pid < 0) bail(EXIT_HELPER_FAILED, "fork");
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    char c = unshare(CLONE_NEWUSER) == 0 ? 'u' : 'x';
    if (write(up[1], &c, 1) != 1) _exit(1);
    /* stays until the parent has opened the namespace (end of file on down) */
    while (read(down[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(up[1]);
  close(down[0]);
  char c = 0;
  ssize_t n;
  do n = read(up[0], &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || c != 'u') {
    waitpid(pid, NULL, 0);
    errno = 0;
    unsupported("a user namespace (unshare CLONE_NEWUSER refused: user.max_user_namespaces?)");
  }
  write_id_maps(pid, host, size);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) bail(EXIT_HELPER_FAILED, "open %s", path);
  close(down[1]);
  close(up[0]);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  return fd;
}

int parse_overlay_options(char *options, struct overlay_dirs *dirs) {
  dirs->lower[0] = dirs->upper[0] = dirs->work[0] = '\0';
  char *save = NULL;
  for (char *o = strtok_r(options, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
    if (strncmp(o, "lowerdir=", 9) == 0) snprintf(dirs->lower, sizeof dirs->lower, "%s", o + 9);
    else if (strncmp(o, "upperdir=", 9) == 0) snprintf(dirs->upper, sizeof dirs->upper, "%s", o + 9);
    else if (strncmp(o, "workdir=", 8) == 0) snprintf(dirs->work, sizeof dirs->work, "%s", o + 8);
  }
  return dirs->lower[0] && dirs->upper[0] && dirs->work[0] ? 0 : -1;
}

/* overlay_layers finds the overlay mounted at rootfs in /proc/self/mountinfo and reads its
 * options into dirs; 0, or -1 when the top mount there is not an overlay. The Volumizer
 * refuses layer paths with ',', ':' or '\\'. */
static int overlay_layers(const char *rootfs, struct overlay_dirs *dirs) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) bail(EXIT_HELPER_FAILED, "open /proc/self/mountinfo");
  char *line = NULL;
  size_t cap = 0;
  int found = -1;
  while (getline(&line, &cap, f) > 0) {
    char *save = NULL, *field = strtok_r(line, " ", &save);
    for (int i = 1; field && i < 5; i++) field = strtok_r(NULL, " ", &save);
    if (!field || strcmp(field, rootfs) != 0) continue;
    /* the last line for the path is its top mount */
    found = -1;
    while ((field = strtok_r(NULL, " ", &save)) && strcmp(field, "-") != 0) {
    }
    char *type = strtok_r(NULL, " ", &save);
    strtok_r(NULL, " ", &save);
    char *options = strtok_r(NULL, " \n", &save);
    if (!type || !options || strcmp(type, "overlay") != 0) continue;
    found = parse_overlay_options(options, dirs);
  }
  free(line);
  fclose(f);
  return found;
}

/* fs_log is the kernel's reason for a failed fsconfig, read from the fs context (like
 * " (e overlayfs: failed to ...)"), or "" when it gave none; errno is kept for bail. */
static const char *fs_log(int fs) {
  static char text[512];
  int saved = errno;
  ssize_t n = read(fs, text + 2, sizeof text - 4);
  errno = saved;
  if (n <= 0) return "";
  text[0] = ' ';
  text[1] = '(';
  if (text[n + 1] == '\n') n--;
  text[n + 2] = ')';
  text[n + 3] = '\0';
  return text;
}

/* The layers are attached for a moment on a private tmpfs over rootfs (overlayfs takes only
 * layers attached in the mounter's mount namespace), which goes, and they with it: the
 * overlay keeps its own copies. */
void mount_idmapped_overlay(const char *rootfs, char *lower, const char *upper, const char *work, int userns, unsigned long long host_root) {
  static char layers[PATH_MAX * 4];
  if (lchown(upper, (uid_t)host_root, (gid_t)host_root) != 0) bail(EXIT_HELPER_FAILED, "chown %s", upper);
  if (mount("tmpfs", rootfs, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k") != 0) bail(EXIT_HELPER_FAILED, "mount a tmpfs on %s", rootfs);
  if (mount(NULL, rootfs, NULL, MS_PRIVATE, NULL) != 0) bail(EXIT_HELPER_FAILED, "make %s private", rootfs);
  /* fsconfig takes a string of at most 255 bytes: the layers go by their names relative to
   * rootfs ("0:1:2"), one "lowerdir+" each (Linux 6.8+) where even those are too long */
  int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0 || chdir(rootfs) != 0) bail(EXIT_HELPER_FAILED, "chdir %s", rootfs);
  size_t used = 0;
  int n = 0;
  char *save = NULL;
  for (char *layer = strtok_r(lower, ":", &save); layer; layer = strtok_r(NULL, ":", &save), n++) {
    char point[16];
    snprintf(point, sizeof point, "%d", n);
    if (mkdir(point, 0700) != 0) bail(EXIT_HELPER_FAILED, "mkdir %s/%s", rootfs, point);
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, layer, OPEN_TREE_CLONE | O_CLOEXEC);
    if (tree < 0) bail(EXIT_HELPER_FAILED, "open_tree %s", layer);
    struct tree_attr a = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns};
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &a, sizeof a) != 0)
      unsupported("idmap layer %s (mount_setattr MOUNT_ATTR_IDMAP: Linux 5.12+, on a filesystem that allows it)", layer);
    if (syscall(SYS_move_mount, tree, "", AT_FDCWD, point, MOVE_MOUNT_F_EMPTY_PATH) != 0) bail(EXIT_HELPER_FAILED, "attach layer %s", layer);
    close(tree);
    int w = snprintf(layers + used, sizeof layers - used, "%s%s", n ? ":" : "", point);
    if (w < 0 || (size_t)w >= sizeof layers - used) bail(EXIT_BAD_USAGE, "too many layers");
    used += (size_t)w;
  }
  int fs = (int)syscall(SYS_fsopen, "overlay", ARBOR_FS_CLOEXEC);
  if (fs < 0) unsupported("fsopen overlay (Linux 5.2+)");
  if (used < ARBOR_FSCONFIG_STRING_MAX) {
    if (syscall(SYS_fsconfig, fs, ARBOR_FSCONFIG_STRING, "lowerdir", layers, 0) != 0) bail(EXIT_HELPER_FAILED, "overlay lowerdir %s%s", layers, fs_log(fs));
  } else {
    for (int i = 0; i < n; i++) {
      char point[16];
      snprintf(point, sizeof point, "%d", i);
      if (syscall(SYS_fsconfig, fs, ARBOR_FSCONFIG_STRING, "lowerdir+", point, 0) != 0)
        unsupported("an image of %d layers (overlayfs lowerdir+: Linux 6.8+)%s", n, fs_log(fs));
    }
  }
  if (syscall(SYS_fsconfig, fs, ARBOR_FSCONFIG_STRING, "upperdir", upper, 0) != 0) bail(EXIT_HELPER_FAILED, "overlay upperdir %s%s", upper, fs_log(fs));
  if (syscall(SYS_fsconfig, fs, ARBOR_FSCONFIG_STRING, "workdir", work, 0) != 0) bail(EXIT_HELPER_FAILED, "overlay workdir %s%s", work, fs_log(fs));
  if (syscall(SYS_fsconfig, fs, ARBOR_FSCONFIG_CREATE, NULL, NULL, 0) != 0) unsupported("overlayfs over idmapped layers (Linux 5.19+) at %s%s", rootfs, fs_log(fs));
  if (fchdir(cwd) != 0) bail(EXIT_HELPER_FAILED, "chdir back");
  close(cwd);
  int mnt = (int)syscall(SYS_fsmount, fs, ARBOR_FS_CLOEXEC, 0);
  if (mnt < 0) bail(EXIT_HELPER_FAILED, "fsmount the overlay");
  if (umount2(rootfs, MNT_DETACH) != 0) bail(EXIT_HELPER_FAILED, "unmount the tmpfs on %s", rootfs);
  if (syscall(SYS_move_mount, mnt, "", AT_FDCWD, rootfs, MOVE_MOUNT_F_EMPTY_PATH) != 0) bail(EXIT_HELPER_FAILED, "mount the overlay at %s", rootfs);
  close(mnt);
  close(fs);
}

/* The Volumizer's overlay goes first: overlayfs refuses an upper dir another overlay uses.
 * Its unmount syncs the upper filesystem (a btrfs commit of the new subvolume): the Volumizer
 * mounts the idmapped overlay itself where it knows the ids, and this is not needed. */
void idmap_overlay(const char *rootfs, int userns, unsigned long long host_root) {
  static struct overlay_dirs dirs;
  if (overlay_layers(rootfs, &dirs) != 0) {
    errno = 0;
    unsupported("%s is not an overlay mount: a user namespace needs the overlay Volumizer's root filesystem", rootfs);
  }
  if (umount2(rootfs, MNT_DETACH) != 0) bail(EXIT_HELPER_FAILED, "unmount %s", rootfs);
  mount_idmapped_overlay(rootfs, dirs.lower, dirs.upper, dirs.work, userns, host_root);
}
