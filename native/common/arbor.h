/* arbor.h: what every Arbor helper shares: errors, JSON log lines, container users,
 * capabilities. Covered through the helpers' tests in packages/backend-linux. */
#ifndef ARBOR_H
#define ARBOR_H

#include <stddef.h>
#include <sys/types.h>

/* Exit codes the TypeScript side maps to typed errors (see helper-exit-codes.ts). */
#define EXIT_HELPER_FAILED 1   /* anything else: the message is on stderr */
#define EXIT_NOT_FOUND 3       /* the executable or the path does not exist */
#define EXIT_PERMISSION 4      /* the user may not do this */
#define EXIT_BAD_USER 6        /* the caller named a user the container does not have */
#define EXIT_UNSUPPORTED 5     /* this kernel cannot do what was asked (like idmapped mounts) */
#define EXIT_LIMIT 7           /* a limit of the container is reached (its pid limit) */
#define EXIT_BAD_USAGE 64

/* helper_name is set by each helper's main for messages, like "arbor-exec". */
extern const char *helper_name;
/* log_fd is where JSON lines go (-1: nowhere); set from --log-fd. */
extern int log_fd;

/* bail_hook, when set, runs in bail before the exit (e.g. to tell a waiting parent). */
extern void (*bail_hook)(void);
/* bail prints "<helper>: <what>: <strerror(errno)>" (when errno != 0) and exits with code. */
void bail(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
/* log_event writes {"helper":..,"event":..,"detail":..} to log_fd. */
void log_event(const char *event, const char *detail);

/* ContainerUser is a user resolved in the container's /etc/passwd and /etc/group. */
struct container_user {
  uid_t uid;
  gid_t gid;
  char name[256];
  char home[4096];
  gid_t groups[64];
  int ngroups;
};

/* MAX_USER_ID is the largest uid or gid: 2^32-1 is (uid_t)-1, which set*id calls read as "unchanged". */
#define MAX_USER_ID 4294967294u
/* ETC_FILE_MAX is the most resolve_user reads of the container's /etc/passwd or /etc/group. */
#define ETC_FILE_MAX (1024 * 1024)

/* resolve_user reads /etc/passwd and /etc/group of the current root: call it only after
 * entering the container's mount namespace (and its devices cgroup: the container's root
 * controls those files). spec is "", "name", "uid" or "uid:gid", ids from 0 to MAX_USER_ID.
 * Returns 0, or -1 when the spec is invalid, a name is unknown, or a file is not a plain
 * regular file of at most ETC_FILE_MAX bytes; resolve_user_error() then says which. */
int resolve_user(const char *spec, struct container_user *out);
/* resolve_user_error is why resolve_user last failed, like "unknown user 'vcap' in the container's /etc/passwd". */
const char *resolve_user_error(void);

/* id_map is a user namespace's uid_map or gid_map as its own members see it: extents of ids,
 * like the one {first 0, count 65536} of an unprivileged container. A container without a
 * user namespace of its own sees the host's {0, 4294967295}. */
#define ID_MAP_MAX 340
struct id_map {
  int count;
  struct {
    unsigned first, count;
  } extents[ID_MAP_MAX];
};

/* read_id_map reads path (/proc/self/uid_map or /proc/self/gid_map) into map. Read it after
 * entering the user namespace and before the container's mount namespace, whose /proc may not
 * show this process. Returns 0, or -1 with errno set. */
int read_id_map(const char *path, struct id_map *map);

/* check_user_mapped returns 0 when user's uid and gid are ids of the namespace (uids and gids,
 * from read_id_map), and drops its supplementary groups that are not: the kernel cannot set
 * them, and the container's root could take them out of /etc/group anyway. Otherwise -1, and
 * resolve_user_error() is like "uid 2147483647 is not mapped in this container: its user
 * namespace has ids 0-65535". */
int check_user_mapped(struct container_user *user, const struct id_map *uids, const struct id_map *gids);

/* enter_user_namespace joins the user namespace fd (like /proc/<init>/ns/user) and becomes
 * its root: uid and gid 0 there, the first host id of its range. A later enter_user to a
 * non-root user then drops every capability, as on the host (from host root it would not:
 * host uid 0 is not the namespace's root). */
void enter_user_namespace(int fd);

/* enter_user sets groups, gid and uid. */
void enter_user(const struct container_user *user);

/* drop_bounding_caps keeps only the default capability set in the bounding set (before the
 * uid change); set_default_caps sets effective and permitted to it, inheritable empty (root only). */
void drop_bounding_caps(void);
void set_default_caps(void);

/* mkdir_p makes every missing directory of path with mode, owned by uid:gid. */
int mkdir_p(const char *path, mode_t mode, uid_t uid, gid_t gid);

/* add_seals adds seals to the memfd fd, like F_SEAL_WRITE: 0, or -1 with errno. A memfd just
 * filled by sendfile can answer EBUSY for a moment (the kernel's splice pipe still holds its
 * pages; seen on a loaded host): it tries again for up to about 100 ms. */
int add_seals(int fd, int seals);

/* write_file writes text to path (for cgroup files); returns 0 or -1. */
int write_file(const char *path, const char *text);

/* parse_int parses a whole decimal number or bails naming what. */
long long parse_int(const char *text, const char *what);

#endif
