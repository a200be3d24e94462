/* arbor.c: shared helper code (see arbor.h). Covered by the int specs of packages/backend-linux. */
#define _GNU_SOURCE
#include "arbor.h"
#include <sched.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

const char *helper_name = "arbor-helper";
int log_fd = -1;
void (*bail_hook)(void) = NULL;

void bail(int code, const char *fmt, ...) {
  int saved = errno;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (saved != 0) {
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof msg - len, ": %s", strerror(saved));
  }
  dprintf(STDERR_FILENO, "%s: %s\n", helper_name, msg);
  log_event("failed", msg);
  if (bail_hook) bail_hook();
  _exit(code);
}

/* json_string writes s as a JSON string literal into out. */
static void json_string(char *out, size_t size, const char *s) {
  size_t n = 0;
  if (size < 3) return;
  out[n++] = '"';
  for (; *s && n + 7 < size; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[n++] = '\\';
      out[n++] = (char)c;
    } else if (c < 0x20) {
      n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
    } else {
      out[n++] = (char)c;
    }
  }
  out[n++] = '"';
  out[n] = '\0';
}

void log_event(const char *event, const char *detail) {
  if (log_fd < 0) return;
  char ev[256], det[2048];
  json_string(ev, sizeof ev, event);
  json_string(det, sizeof det, detail ? detail : "");
  dprintf(log_fd, "{\"helper\":\"%s\",\"event\":%s,\"detail\":%s}\n", helper_name, ev, det);
}

long long parse_int(const char *text, const char *what) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') {
    errno = 0;
    bail(EXIT_BAD_USAGE, "%s: '%s' is not a number", what, text);
  }
  return v;
}

/* user_error is why resolve_user last failed (see resolve_user_error). */
static char user_error[512];

const char *resolve_user_error(void) {
  return user_error;
}

/* parse_id reads a uid or gid of len characters at s: 1 to 10 decimal digits, at most
 * MAX_USER_ID. (uid_t)-1 is the kernel's "leave unchanged", so 4294967295 would keep root. */
static int parse_id(const char *s, size_t len, unsigned *out) {
  if (len == 0 || len > 10) return -1;
  unsigned long long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > MAX_USER_ID) return -1;
  *out = (unsigned)v;
  return 0;
}

/* open_etc opens a file of the container's /etc with flags, refusing to follow /proc's magic
 * links anywhere on the way (openat2 from 5.6; plain open before). */
static int open_etc(const char *path, int flags) {
  struct open_how how = {.flags = (unsigned long long)flags, .resolve = RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
  if (fd < 0 && errno == ENOSYS) fd = open(path, flags);
  return fd;
}

/* read_etc reads path (like /etc/passwd) of the container's root, which the container's root
 * user controls, into a NUL-terminated malloc'd *text: it must be a regular file, not a
 * symlink (even to a regular file: /etc/passwd and /etc/group are plain files in any image),
 * of at most ETC_FILE_MAX bytes. A FIFO, a device or a symlink to one is refused before it is
 * read, so no lookup can hang or read forever. Returns 1, 0 when path does not exist (an empty
 * file), or -1 with user_error set. */
static int read_etc(const char *path, char **text) {
  *text = NULL;
  int fail = 0, saved = 0;
  const char *why = NULL;
  /* O_PATH looks at what is there without opening it: opening a device may itself act */
  int look = open_etc(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (look < 0) {
    if (errno == ENOENT) return 0;
    saved = errno;
    why = "cannot be opened";
    fail = 1;
  }
  struct stat seen, opened;
  if (!fail && fstat(look, &seen) != 0) saved = errno, why = "cannot be examined", fail = 1;
  if (!fail && S_ISLNK(seen.st_mode)) why = "is a symbolic link, which is not followed", fail = 1;
  if (!fail && !S_ISREG(seen.st_mode)) why = "is not a regular file", fail = 1;
  if (look >= 0) close(look);
  int fd = -1;
  if (!fail) {
    /* O_NONBLOCK and O_NOCTTY in case it was swapped for a FIFO or a terminal since */
    fd = open_etc(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) saved = errno, why = "cannot be opened", fail = 1;
  }
  if (!fail && (fstat(fd, &opened) != 0 || opened.st_dev != seen.st_dev || opened.st_ino != seen.st_ino))
    why = "changed while it was opened", fail = 1;
  char *buf = NULL;
  size_t total = 0;
  if (!fail && !(buf = malloc(ETC_FILE_MAX + 1))) saved = errno, why = "cannot be read", fail = 1;
  while (!fail) {
    ssize_t n = read(fd, buf + total, ETC_FILE_MAX + 1 - total);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) saved = errno, why = "cannot be read", fail = 1;
    if (n <= 0) break;
    total += (size_t)n;
    if (total > ETC_FILE_MAX) why = "is over 1 MiB", fail = 1;
  }
  if (fd >= 0) close(fd);
  if (fail) {
    free(buf);
    snprintf(user_error, sizeof user_error, "the container's %s %s%s%s", path, why, saved ? ": " : "", saved ? strerror(saved) : "");
    return -1;
  }
  buf[total] = '\0';
  *text = buf;
  return 1;
}

/* next_line cuts the line at *p off the text (replacing its newline by a NUL) and returns it,
 * or NULL at the end. A NUL inside the text ends it there. */
static char *next_line(char **p) {
  char *line = *p;
  if (!line || !*line) return NULL;
  char *nl = strchr(line, '\n');
  if (nl) {
    *nl = '\0';
    *p = nl + 1;
  } else {
    *p = line + strlen(line);
  }
  return line;
}

/* split cuts line at each ':' into at most max fields; returns how many there were, or max+1
 * when there are more. */
static int split(char *line, char **fields, int max) {
  int n = 0;
  for (char *p = line;;) {
    if (n == max) return max + 1;
    fields[n++] = p;
    char *c = strchr(p, ':');
    if (!c) return n;
    *c = '\0';
    p = c + 1;
  }
}

/* find_passwd fills out from the passwd entry matching name (or uid when name is NULL).
 * Returns 0, 1 when there is none, -1 when /etc/passwd cannot be read. Lines that are not
 * "name:pw:uid:gid:gecos:home[:shell]" with valid ids and fitting fields are skipped. */
static int find_passwd(const char *name, uid_t uid, struct container_user *out) {
  char *text, *p;
  int r = read_etc("/etc/passwd", &text);
  if (r <= 0) return r < 0 ? -1 : 1;
  int found = 1;
  p = text;
  for (char *line; found == 1 && (line = next_line(&p));) {
    char *f[7];
    unsigned u, g;
    int n = split(line, f, 7);
    if (n < 6 || n > 7) continue;
    if (parse_id(f[2], strlen(f[2]), &u) != 0 || parse_id(f[3], strlen(f[3]), &g) != 0) continue;
    if (strlen(f[0]) >= sizeof out->name || strlen(f[5]) >= sizeof out->home) continue;
    if (name ? strcmp(f[0], name) != 0 : u != uid) continue;
    out->uid = u;
    out->gid = g;
    snprintf(out->name, sizeof out->name, "%s", f[0]);
    snprintf(out->home, sizeof out->home, "%s", f[5][0] ? f[5] : "/");
    found = 0;
  }
  free(text);
  return found;
}

/* add_groups adds every group of /etc/group ("name:pw:gid:a,b") that lists the user; returns
 * 0 or -1 when /etc/group cannot be read. */
static int add_groups(struct container_user *u) {
  u->ngroups = 0;
  u->groups[u->ngroups++] = u->gid;
  char *text, *p;
  int r = read_etc("/etc/group", &text);
  if (r <= 0) return r;
  p = text;
  for (char *line; u->ngroups < 64 && (line = next_line(&p));) {
    char *f[4];
    unsigned gid;
    if (split(line, f, 4) != 4 || parse_id(f[2], strlen(f[2]), &gid) != 0) continue;
    for (char *m = f[3], *comma; m && u->ngroups < 64; m = comma ? comma + 1 : NULL) {
      comma = strchr(m, ',');
      if (comma) *comma = '\0';
      if (strcmp(m, u->name) == 0) u->groups[u->ngroups++] = gid;
    }
  }
  free(text);
  return 0;
}

int resolve_user(const char *spec, struct container_user *out) {
  memset(out, 0, sizeof *out);
  user_error[0] = '\0';
  const char *colon = strchr(spec, ':');
  int r;
  if (spec[0] == '\0') {
    r = find_passwd(NULL, 0, out);
    if (r == 1) {
      snprintf(out->name, sizeof out->name, "root");
      snprintf(out->home, sizeof out->home, "/root");
    }
  } else if (colon || strspn(spec, "0123456789") == strlen(spec)) {
    unsigned uid, gid;
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (parse_id(spec, len, &uid) != 0 || (colon && parse_id(colon + 1, strlen(colon + 1), &gid) != 0)) {
      snprintf(user_error, sizeof user_error, "user '%.64s': give a name or uid[:gid], ids from 0 to %u", spec, MAX_USER_ID);
      return -1;
    }
    r = find_passwd(NULL, uid, out);
    if (r == 1) {
      out->uid = uid;
      out->gid = uid;
      snprintf(out->name, sizeof out->name, "%u", uid);
      snprintf(out->home, sizeof out->home, "/");
    }
    if (colon) out->gid = gid;
  } else {
    r = find_passwd(spec, 0, out);
    if (r == 1) snprintf(user_error, sizeof user_error, "unknown user '%.64s' in the container's /etc/passwd", spec);
    if (r != 0) return -1;
  }
  if (r < 0 || add_groups(out) != 0) return -1;
  return 0;
}

int read_id_map(const char *path, struct id_map *map) {
  /* at most ID_MAP_MAX lines of three 10-digit numbers */
  static char text[ID_MAP_MAX * 36 + 1];
  map->count = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t total = 0;
  for (;;) {
    ssize_t n = read(fd, text + total, sizeof text - 1 - total);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    if (n == 0 || (total += (size_t)n) == sizeof text - 1) break;
  }
  close(fd);
  text[total] = '\0';
  char *p = text;
  for (char *line; map->count < ID_MAP_MAX && (line = next_line(&p));) {
    unsigned inside, outside, count;
    if (sscanf(line, "%u %u %u", &inside, &outside, &count) != 3 || count == 0) continue;
    map->extents[map->count].first = inside;
    map->extents[map->count++].count = count;
  }
  return 0;
}

/* id_in_map says whether id is one of map's ids. */
static int id_in_map(const struct id_map *map, unsigned id) {
  for (int i = 0; i < map->count; i++)
    if (id >= map->extents[i].first && (unsigned long long)id - map->extents[i].first < map->extents[i].count) return 1;
  return 0;
}

/* unmapped sets user_error to why id (a "uid" or "gid") is not one of map's ids, naming at
 * most four extents. */
static void unmapped(const char *kind, unsigned id, const struct id_map *map) {
  int n = snprintf(user_error, sizeof user_error, "%s %u is not mapped in this container: its user namespace has %s", kind, id, map->count ? "ids " : "no ids");
  for (int i = 0; i < map->count && i < 4 && n > 0 && (size_t)n < sizeof user_error; i++) {
    unsigned long long last = (unsigned long long)map->extents[i].first + map->extents[i].count - 1;
    n += snprintf(user_error + n, sizeof user_error - (size_t)n, "%s%u-%llu", i ? ", " : "", map->extents[i].first, last);
  }
  if (map->count > 4 && n > 0 && (size_t)n < sizeof user_error) snprintf(user_error + n, sizeof user_error - (size_t)n, ", ...");
}

int check_user_mapped(struct container_user *user, const struct id_map *uids, const struct id_map *gids) {
  user_error[0] = '\0';
  if (!id_in_map(uids, user->uid)) {
    unmapped("uid", user->uid, uids);
    return -1;
  }
  if (!id_in_map(gids, user->gid)) {
    unmapped("gid", user->gid, gids);
    return -1;
  }
  int kept = 0;
  for (int i = 0; i < user->ngroups; i++)
    if (id_in_map(gids, user->groups[i])) user->groups[kept++] = user->groups[i];
  user->ngroups = kept;
  return 0;
}

void enter_user_namespace(int fd) {
  if (setns(fd, CLONE_NEWUSER) != 0) bail(EXIT_HELPER_FAILED, "enter the container's user namespace");
  if (setresgid(0, 0, 0) != 0) bail(EXIT_HELPER_FAILED, "become gid 0 of the user namespace");
  if (setresuid(0, 0, 0) != 0) bail(EXIT_HELPER_FAILED, "become uid 0 of the user namespace");
}

void enter_user(const struct container_user *u) {
  if (setgroups((size_t)u->ngroups, u->groups) != 0) bail(EXIT_HELPER_FAILED, "setgroups");
  if (setresgid(u->gid, u->gid, u->gid) != 0) bail(EXIT_HELPER_FAILED, "setgid %u", u->gid);
  if (setresuid(u->uid, u->uid, u->uid) != 0) bail(EXIT_HELPER_FAILED, "setuid %u", u->uid);
}

/* default_caps are the capabilities a container's root keeps (the OCI default set). */
static const int default_caps[] = {
    CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID,           CAP_KILL,      CAP_SETGID,     CAP_SETUID,
    CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_NET_RAW, CAP_SYS_CHROOT, CAP_MKNOD, CAP_AUDIT_WRITE, CAP_SETFCAP,
};

static int is_default_cap(int cap) {
  for (size_t i = 0; i < sizeof default_caps / sizeof default_caps[0]; i++)
    if (default_caps[i] == cap) return 1;
  return 0;
}

void drop_bounding_caps(void) {
  for (int cap = 0; cap <= 63; cap++) {
    if (is_default_cap(cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) bail(EXIT_HELPER_FAILED, "drop capability %d", cap);
  }
  errno = 0;
}

void set_default_caps(void) {
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (size_t i = 0; i < sizeof default_caps / sizeof default_caps[0]; i++) {
    int cap = default_caps[i];
    data[cap / 32].effective |= 1u << (cap % 32);
    data[cap / 32].permitted |= 1u << (cap % 32);
  }
  if (syscall(SYS_capset, &header, data) != 0) bail(EXIT_HELPER_FAILED, "capset");
}

int mkdir_p(const char *path, mode_t mode, uid_t uid, gid_t gid) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir(buf, mode) == 0) {
        if (lchown(buf, uid, gid) != 0) return -1;
      } else if (errno != EEXIST) {
        return -1;
      }
      *p = saved;
      if (saved == '\0') break;
    }
  }
  return 0;
}

int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int saved = errno;
  close(fd);
  errno = saved;
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

int add_seals(int fd, int seals) {
  for (int tries = 0;; tries++) {
    if (fcntl(fd, F_ADD_SEALS, seals) == 0) return 0;
    if (errno != EBUSY || tries >= 100) return -1;
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
  }
}
