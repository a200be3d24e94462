// arbor-mount: a long-lived mount(2)/umount2(2) helper for @arbor/images' OverlayVolumizer.
//
// It reads one request per line on stdin and writes one reply line per request on stdout:
// "ok" or "err <errno> <message>". As a coprocess, a container's overlay mount costs one
// syscall instead of one mount(8) process (milliseconds each, more on a busy host).
//
// Requests (tokens separated by single spaces; the TS side refuses paths with whitespace):
//   overlay <target> <options>
//       mount an overlay at <target> with <options>, like
//       lowerdir=/a:/b,upperdir=/s/overlays/h/upper,workdir=/s/overlays/h/work
//   umount <target>
//       unmount <target>; a target that is not mounted is not an error
//
// Covered by packages/images/src/overlay-volumizer.int.spec.ts ('mounts through arbor-mount').
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

/* bail prints "arbor-mount: <what>: <strerror(errno)>" and exits: only for a broken channel. */
static void bail(const char *what) {
  fprintf(stderr, "arbor-mount: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void reply(int err, const char *what) {
  if (err == 0) {
    fputs("ok\n", stdout);
  } else {
    fprintf(stdout, "err %d %s: %s\n", err, what, strerror(err));
  }
  if (fflush(stdout) != 0) bail("write reply");
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
  } else {
    reply(EINVAL, "unknown request");
  }
}

int main(void) {
  char *line = NULL;
  size_t size = 0;
  ssize_t n;
  errno = 0;
  while ((n = getline(&line, &size, stdin)) > 0) {
    if (line[n - 1] == '\n') line[n - 1] = '\0';
    handle(line);
  }
  if (ferror(stdin)) bail("read request");
  free(line);
  return 0;
}
