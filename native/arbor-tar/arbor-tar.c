/* arbor-tar moves tar streams into and out of a container without trusting the tar: it
 * enters the container's mount namespace first, so that every path in the tar (including
 * ../, absolute paths and symlinks) resolves inside the container's root and the host is not
 * reachable at all; then it becomes the given user (resolved in the container's /etc/passwd)
 * and runs busybox's static tar applet from a file opened on the host before entering (the
 * default rootfs's busybox), never a binary of the container.
 *
 * usage: arbor-tar --init-pid PID --busybox PATH [--user SPEC] [--log-fd N]
 *          (--extract DIR | --create PATH)
 * --extract reads a tar on stdin into DIR (made if missing); --create writes a tar of PATH to
 * stdout: PATH 'a/b' gives entries 'b/...', 'a/b/' gives './...'. Relative paths are relative
 * to the user's home. Exits EXIT_NOT_FOUND when PATH does not exist, EXIT_PERMISSION when the
 * user may not go there.
 *
 * Covered by: packages/backend-linux/src/stream.int.spec.ts */
#define _GNU_SOURCE
#include "../common/arbor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *init_pid, *busybox, *user_spec = "", *extract, *create;

static void parse(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has = i + 1 < argc;
    if (strcmp(a, "--init-pid") == 0 && has) init_pid = argv[++i];
    else if (strcmp(a, "--busybox") == 0 && has) busybox = argv[++i];
    else if (strcmp(a, "--user") == 0 && has) user_spec = argv[++i];
    else if (strcmp(a, "--extract") == 0 && has) extract = argv[++i];
    else if (strcmp(a, "--create") == 0 && has) create = argv[++i];
    else if (strcmp(a, "--log-fd") == 0 && has) log_fd = (int)parse_int(argv[++i], "--log-fd");
    else bail(EXIT_BAD_USAGE, "unknown or incomplete argument '%s'", a);
  }
  if (!init_pid || !busybox || (!extract == !create)) bail(EXIT_BAD_USAGE, "--init-pid, --busybox and one of --extract/--create are required");
}

/* absolute joins a relative path to home. */
static void absolute(char *out, size_t size, const char *home, const char *path) {
  if (path[0] == '/') snprintf(out, size, "%s", path);
  else snprintf(out, size, "%s/%s", home, path);
}

static void go_to(const char *dir) {
  if (chdir(dir) == 0) return;
  if (errno == ENOENT || errno == ENOTDIR) bail(EXIT_NOT_FOUND, "%s", dir);
  if (errno == EACCES) bail(EXIT_PERMISSION, "%s", dir);
  bail(EXIT_HELPER_FAILED, "chdir %s", dir);
}

int main(int argc, char **argv) {
  helper_name = "arbor-tar";
  parse(argc, argv);
  int tar = open(busybox, O_RDONLY | O_CLOEXEC);
  if (tar < 0) bail(EXIT_HELPER_FAILED, "open %s", busybox);
  char ns[PATH_MAX];
  snprintf(ns, sizeof ns, "/proc/%s/ns/mnt", init_pid);
  int mnt = open(ns, O_RDONLY | O_CLOEXEC);
  if (mnt < 0) bail(EXIT_HELPER_FAILED, "open %s (is the container running?)", ns);
  if (setns(mnt, CLONE_NEWNS) != 0) bail(EXIT_HELPER_FAILED, "enter the container's mount namespace");
  /* from here on every path is the container's */
  struct container_user user;
  if (resolve_user(user_spec, &user) != 0) bail(EXIT_HELPER_FAILED, "unknown user '%s' in the container's /etc/passwd", user_spec);
  drop_bounding_caps();
  enter_user(&user);
  if (user.uid == 0) set_default_caps();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) bail(EXIT_HELPER_FAILED, "no_new_privs");
  umask(022);
  char path[PATH_MAX];
  char *args[8];
  int n = 0;
  args[n++] = "tar";
  if (extract) {
    absolute(path, sizeof path, user.home, extract);
    if (mkdir_p(path, 0755, user.uid, user.gid) != 0) {
      if (errno == EACCES) bail(EXIT_PERMISSION, "create %s", path);
      bail(EXIT_HELPER_FAILED, "create %s", path);
    }
    go_to(path);
    args[n++] = "-x";
    args[n++] = "-f";
    args[n++] = "-";
  } else {
    absolute(path, sizeof path, user.home, create);
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/') {
      go_to(path);
      args[n++] = "-c";
      args[n++] = "-f";
      args[n++] = "-";
      args[n++] = ".";
    } else {
      char *slash = strrchr(path, '/');
      *slash = '\0';
      go_to(slash == path ? "/" : path);
      struct stat st;
      if (lstat(slash + 1, &st) != 0) bail(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_PERMISSION, "%s/%s", path, slash + 1);
      args[n++] = "-c";
      args[n++] = "-f";
      args[n++] = "-";
      args[n++] = slash + 1;
    }
  }
  args[n] = NULL;
  char *env[] = {"PATH=/bin", NULL};
  syscall(SYS_execveat, tar, "", args, env, AT_EMPTY_PATH);
  bail(EXIT_HELPER_FAILED, "exec busybox tar");
}
