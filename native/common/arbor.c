/* arbor.c: shared helper code (see arbor.h). Covered by the int specs of packages/backend-linux. */
#define _GNU_SOURCE
#include "arbor.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

/* passwd_line parses "name:x:uid:gid:gecos:home:shell"; returns 0 when well formed. */
static int passwd_line(char *line, char **name, uid_t *uid, gid_t *gid, char **home) {
  char *fields[7];
  int n = 0;
  char *p = line;
  while (n < 7) {
    fields[n++] = p;
    char *c = strchr(p, ':');
    if (!c) break;
    *c = '\0';
    p = c + 1;
  }
  if (n < 6 || !all_digits(fields[2]) || !all_digits(fields[3])) return -1;
  *name = fields[0];
  *uid = (uid_t)strtoul(fields[2], NULL, 10);
  *gid = (gid_t)strtoul(fields[3], NULL, 10);
  *home = fields[5];
  return 0;
}

/* find_passwd fills out from the passwd entry matching name (or uid when name is NULL). */
static int find_passwd(const char *name, uid_t uid, struct container_user *out) {
  FILE *f = fopen("/etc/passwd", "re");
  if (!f) return -1;
  char line[8192];
  int found = -1;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *n, *home;
    uid_t u;
    gid_t g;
    if (passwd_line(line, &n, &u, &g, &home) != 0) continue;
    if (name ? strcmp(n, name) == 0 : u == uid) {
      out->uid = u;
      out->gid = g;
      snprintf(out->name, sizeof out->name, "%s", n);
      snprintf(out->home, sizeof out->home, "%s", home[0] ? home : "/");
      found = 0;
      break;
    }
  }
  fclose(f);
  return found;
}

/* add_groups adds every group of /etc/group that lists name as a member. */
static void add_groups(struct container_user *u) {
  u->ngroups = 0;
  u->groups[u->ngroups++] = u->gid;
  FILE *f = fopen("/etc/group", "re");
  if (!f) return;
  char line[8192];
  while (fgets(line, sizeof line, f) && u->ngroups < 64) {
    line[strcspn(line, "\n")] = '\0';
    char *name = strtok(line, ":");
    char *pw = name ? strtok(NULL, ":") : NULL;
    char *gid = pw ? strtok(NULL, ":") : NULL;
    char *members = gid ? strtok(NULL, ":") : NULL;
    if (!members || !all_digits(gid)) continue;
    for (char *m = strtok(members, ","); m; m = strtok(NULL, ","))
      if (strcmp(m, u->name) == 0) u->groups[u->ngroups++] = (gid_t)strtoul(gid, NULL, 10);
  }
  fclose(f);
}

int resolve_user(const char *spec, struct container_user *out) {
  memset(out, 0, sizeof *out);
  const char *colon = strchr(spec, ':');
  if (spec[0] == '\0') {
    if (find_passwd(NULL, 0, out) != 0) {
      snprintf(out->name, sizeof out->name, "root");
      snprintf(out->home, sizeof out->home, "/root");
    }
  } else if (all_digits(spec) || (colon && colon != spec)) {
    char uidtext[32] = {0};
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (len >= sizeof uidtext) return -1;
    memcpy(uidtext, spec, len);
    if (!all_digits(uidtext) || (colon && !all_digits(colon + 1))) return -1;
    uid_t uid = (uid_t)strtoul(uidtext, NULL, 10);
    if (find_passwd(NULL, uid, out) != 0) {
      out->uid = uid;
      out->gid = uid;
      snprintf(out->name, sizeof out->name, "%u", uid);
      snprintf(out->home, sizeof out->home, "/");
    }
    if (colon) out->gid = (gid_t)strtoul(colon + 1, NULL, 10);
  } else {
    if (find_passwd(spec, 0, out) != 0) return -1;
  }
  add_groups(out);
  return 0;
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

const char *const default_cap_names[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE",     "CAP_FOWNER",  "CAP_FSETID",     "CAP_KILL",  "CAP_SETGID",       "CAP_SETUID",
    "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP",
    NULL,
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
