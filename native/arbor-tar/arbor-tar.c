/* arbor-tar moves tar streams into and out of a container without trusting the tar, the
 * image or the container: the tar runs as a process of the container would. arbor-tar joins
 * its child, the tar, into the container's cgroups (--cgroup) and every namespace of its
 * init (mnt, pid, net, uts, ipc, and cgroup when the init has its own), so that every path in
 * the tar (../, absolute paths, symlinks) resolves inside the container's root, the disk and
 * memory it uses count against the container's limits, and a destroyed container takes the
 * tar with it. arbor-tar itself stays on the host side and only waits for the tar, so that a
 * killed tar is reaped at once, never left to the host's init while the container's pid
 * namespace waits for it. The tar becomes the given user (resolved in the container's
 * /etc/passwd), keeps only the default
 * capabilities (root) or none, runs with no_new_privs under the container's seccomp filter
 * (both unless --privileged), and executes busybox's static tar applet from a sealed
 * in-memory copy of a file opened on the host before entering: never a binary of the
 * container, and nothing a process of the container could write to through /proc/<pid>/exe.
 *
 * usage: arbor-tar --init-pid PID --busybox PATH [--user SPEC] [--cgroup DIR]...
 *          [--privileged] [--log-fd N] (--extract DIR | --create PATH)
 * --extract reads a tar on stdin into DIR (made if missing), listing each entry on stdout as
 * it reaches it; --create writes a tar of PATH to
 * stdout: PATH 'a/b' gives entries 'b/...', 'a/b/' gives './...'. Relative paths are relative
 * to the user's home. Exits EXIT_NOT_FOUND when PATH does not exist, EXIT_PERMISSION when the
 * user may not go there, EXIT_BAD_USAGE for a user that no process may be (an id outside
 * 0..4294967294, or unknown), else with the tar's own exit code; 128+N when the tar was
 * killed by signal N. arbor-tar dies with its parent (arbord), and the tar with arbor-tar; a
 * TERM, INT or HUP of arbor-tar KILLs the tar, which arbor-tar then reaps before it exits.
 *
 * Covered by: packages/backend-linux/src/stream.int.spec.ts,
 *             packages/backend-linux/src/userns.int.spec.ts,
 *             packages/contract-tests/src/hostile/tar.hostile.int.spec.ts */
#define _GNU_SOURCE
#include "../common/arbor.h"
#include "../common/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* MAX_ID is the largest uid or gid: (uid_t)-1 means "unchanged" to setresuid, so a process
 * asked to become 4294967295 would stay root. */
#define MAX_ID 4294967294ULL
#define MAX_CGROUPS 64

static const char *init_pid, *busybox, *user_spec = "", *extract, *create;
static const char *cgroups[MAX_CGROUPS];
static int ncgroups, privileged;

static void parse(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has = i + 1 < argc;
    if (strcmp(a, "--init-pid") == 0 && has) init_pid = argv[++i];
    else if (strcmp(a, "--busybox") == 0 && has) busybox = argv[++i];
    else if (strcmp(a, "--user") == 0 && has) user_spec = argv[++i];
    else if (strcmp(a, "--extract") == 0 && has) extract = argv[++i];
    else if (strcmp(a, "--create") == 0 && has) create = argv[++i];
    else if (strcmp(a, "--cgroup") == 0 && has && ncgroups < MAX_CGROUPS) cgroups[ncgroups++] = argv[++i];
    else if (strcmp(a, "--privileged") == 0) privileged = 1;
    else if (strcmp(a, "--log-fd") == 0 && has) log_fd = (int)parse_int(argv[++i], "--log-fd");
    else bail(EXIT_BAD_USAGE, "unknown or incomplete argument '%.64s'", a);
  }
  if (!init_pid || !busybox || (!extract == !create)) bail(EXIT_BAD_USAGE, "--init-pid, --busybox and one of --extract/--create are required");
  if (parse_int(init_pid, "--init-pid") <= 0) bail(EXIT_BAD_USAGE, "--init-pid must be positive");
}

/* id_in_range says whether the len characters at s are a decimal id in 0..MAX_ID. */
static int id_in_range(const char *s, size_t len) {
  if (len == 0 || len > 10) return 0;
  unsigned long long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10 + (unsigned long long)(s[i] - '0');
  }
  return v <= MAX_ID;
}

/* check_user_spec refuses a numeric user spec ("uid" or "uid:gid") whose ids are not
 * 0..4294967294, before the container's /etc/passwd is read: "4294967295" would leave the
 * tar root, "4294967296" would wrap to 0. */
static void check_user_spec(const char *spec) {
  const char *colon = strchr(spec, ':');
  size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
  errno = 0;
  if (ulen > 0 && strspn(spec, "0123456789") >= ulen && !id_in_range(spec, ulen))
    bail(EXIT_BAD_USAGE, "user '%.64s': the uid is not in 0..4294967294", spec);
  if (colon && !id_in_range(colon + 1, strlen(colon + 1))) bail(EXIT_BAD_USAGE, "user '%.64s': the gid is not in 0..4294967294", spec);
}

/* check_user refuses a resolved user no process may be: the container's /etc/passwd or
 * /etc/group is image content and may name the id 4294967295. */
static void check_user(const struct container_user *u) {
  errno = 0;
  if ((unsigned long long)u->uid > MAX_ID || (unsigned long long)u->gid > MAX_ID)
    bail(EXIT_BAD_USAGE, "user '%.64s' has an id outside 0..4294967294 in the container", user_spec);
  for (int i = 0; i < u->ngroups; i++)
    if ((unsigned long long)u->groups[i] > MAX_ID) bail(EXIT_BAD_USAGE, "user '%.64s' is in a group outside 0..4294967294", user_spec);
}

/* check_became says the process is exactly uid:gid now, real, effective and saved. */
static void check_became(const struct container_user *u) {
  uid_t r, e, s;
  gid_t rg, eg, sg;
  if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0) bail(EXIT_HELPER_FAILED, "getresuid");
  errno = 0;
  if (r != u->uid || e != u->uid || s != u->uid || rg != u->gid || eg != u->gid || sg != u->gid)
    bail(EXIT_HELPER_FAILED, "did not become %u:%u", (unsigned)u->uid, (unsigned)u->gid);
}

/* sealed_copy copies the busybox at fd into a sealed memfd: the tar runs from it, so a
 * process of the container that opens /proc/<tar>/exe reaches no file of the host. */
static int sealed_copy(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) bail(EXIT_HELPER_FAILED, "stat %s", busybox);
  int mem = memfd_create("arbor-tar-busybox", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (mem < 0 && errno == EINVAL) mem = memfd_create("arbor-tar-busybox", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) bail(EXIT_HELPER_FAILED, "memfd_create");
  off_t offset = 0;
  while (offset < st.st_size) {
    ssize_t n = sendfile(mem, fd, &offset, (size_t)(st.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) bail(EXIT_HELPER_FAILED, "copy %s", busybox);
  }
  if (add_seals(mem, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) bail(EXIT_HELPER_FAILED, "seal the busybox copy");
  close(fd);
  return mem;
}

/* namespaces are the init's, in the order the tar enters them (user first: it owns the
 * others; mnt last: paths change with it); pid is entered by arbor-tar, for the tar it forks. */
static const char *const ns_names[] = {"pid", "user", "cgroup", "ipc", "uts", "net", "mnt"};
#define NS_PID 0
#define NS_USER 1
#define NS_COUNT (sizeof ns_names / sizeof ns_names[0])
static int ns_fds[NS_COUNT];

/* open_namespaces opens the init's namespaces through one /proc/<pid> dir, so that all come
 * from the same process; one that is arbor-tar's own already (-1) is not entered. */
static void open_namespaces(void) {
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%s", init_pid);
  int proc = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) bail(EXIT_HELPER_FAILED, "open %s (is the container running?)", dir);
  for (size_t i = 0; i < NS_COUNT; i++) {
    char name[32], self[64];
    snprintf(name, sizeof name, "ns/%s", ns_names[i]);
    snprintf(self, sizeof self, "/proc/self/ns/%s", ns_names[i]);
    ns_fds[i] = openat(proc, name, O_RDONLY | O_CLOEXEC);
    if (ns_fds[i] < 0) bail(EXIT_HELPER_FAILED, "open %s/%s (is the container running?)", dir, name);
    struct stat theirs, ours;
    if (fstat(ns_fds[i], &theirs) != 0) bail(EXIT_HELPER_FAILED, "stat %s/%s", dir, name);
    if (stat(self, &ours) == 0 && ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino) {
      close(ns_fds[i]);
      ns_fds[i] = -1;
    }
  }
  close(proc);
}

/* cgroup_fds are the cgroup.procs files of the container's cgroups, opened on the host. */
static int cgroup_fds[MAX_CGROUPS];

static void open_cgroups(void) {
  for (int i = 0; i < ncgroups; i++) {
    char procs[PATH_MAX];
    if (snprintf(procs, sizeof procs, "%s/cgroup.procs", cgroups[i]) >= (int)sizeof procs) bail(EXIT_BAD_USAGE, "--cgroup too long");
    cgroup_fds[i] = open(procs, O_WRONLY | O_CLOEXEC);
    if (cgroup_fds[i] < 0) bail(EXIT_HELPER_FAILED, "open %s", procs);
  }
}

/* join_cgroups moves the calling process (the tar) into the container's cgroups, before it
 * enters the container's cgroup namespace. */
static void join_cgroups(void) {
  for (int i = 0; i < ncgroups; i++) {
    if (write(cgroup_fds[i], "0", 1) != 1) bail(EXIT_HELPER_FAILED, "join cgroup %s", cgroups[i]);
    close(cgroup_fds[i]);
  }
}

/* uids and gids are the ids of the container's user namespace (the host's without one). */
static struct id_map uids, gids;

/* enter_namespaces enters the init's namespaces but pid, which arbor-tar entered for its child,
 * reading the user namespace's id maps after it (NS_USER) and before the mount namespace. */
static void read_id_maps(void) {
  if (read_id_map("/proc/self/uid_map", &uids) != 0 || read_id_map("/proc/self/gid_map", &gids) != 0) bail(EXIT_HELPER_FAILED, "read the id maps");
}

static void enter_namespaces(void) {
  if (ns_fds[NS_USER] < 0) read_id_maps();
  for (size_t i = 0; i < NS_COUNT; i++) {
    if (i == NS_PID || ns_fds[i] < 0) continue;
    /* as the user namespace's root, so that the change to the user drops capabilities */
    if (i == NS_USER) enter_user_namespace(ns_fds[i]);
    else if (setns(ns_fds[i], 0) != 0) bail(EXIT_HELPER_FAILED, "enter the container's %s namespace", ns_names[i]);
    close(ns_fds[i]);
    if (i == NS_USER) read_id_maps();
  }
}

/* absolute joins a relative path to home; a path too long for PATH_MAX is refused, never cut. */
static void absolute(char *out, size_t size, const char *home, const char *path) {
  int n = path[0] == '/' ? snprintf(out, size, "%s", path) : snprintf(out, size, "%s/%s", home, path);
  if (n < 0 || (size_t)n >= size) {
    errno = 0;
    bail(EXIT_NOT_FOUND, "the path is longer than %zu bytes", size - 1);
  }
}

static void go_to(const char *dir) {
  if (chdir(dir) == 0) return;
  if (errno == ENOENT || errno == ENOTDIR) bail(EXIT_NOT_FOUND, "%s", dir);
  if (errno == EACCES) bail(EXIT_PERMISSION, "%s", dir);
  bail(EXIT_HELPER_FAILED, "chdir %s", dir);
}

/* tar_child joins the container's cgroups and namespaces, becomes the container's user under
 * its restrictions, goes to the directory and executes the tar applet; it never returns.
 * alive is the read end of a pipe the parent holds. */
static void tar_child(int tar, int alive) {
  join_cgroups();
  enter_namespaces();
  /* from here on every path is the container's */
  struct container_user resolved, *user = &resolved;
  /* a user the container lacks, or one its user namespace does not map, is the caller's mistake */
  if (resolve_user(user_spec, user) != 0 || check_user_mapped(user, &uids, &gids) != 0) {
    errno = 0;
    bail(EXIT_BAD_USAGE, "%s", resolve_user_error());
  }
  check_user(user);
  /* a privileged container's root keeps what the host gave arbord */
  if (!privileged) drop_bounding_caps();
  enter_user(user);
  check_became(user);
  if (user->uid == 0 && !privileged) set_default_caps();
  /* set after the uid change, which clears it; the pipe says whether the parent died before */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) bail(EXIT_HELPER_FAILED, "PR_SET_PDEATHSIG");
  struct pollfd p = {.fd = alive, .events = POLLIN};
  if (poll(&p, 1, 0) != 0) _exit(EXIT_HELPER_FAILED);
  close(alive);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) bail(EXIT_HELPER_FAILED, "no_new_privs");
  umask(022);
  char path[PATH_MAX];
  char *args[8];
  int n = 0;
  args[n++] = "tar";
  if (extract) {
    absolute(path, sizeof path, user->home, extract);
    if (mkdir_p(path, 0755, user->uid, user->gid) != 0) {
      if (errno == EACCES || errno == EPERM || errno == EROFS) bail(EXIT_PERMISSION, "create %s", path);
      if (errno == ENOTDIR || errno == ENAMETOOLONG || errno == ELOOP) bail(EXIT_NOT_FOUND, "create %s", path);
      bail(EXIT_HELPER_FAILED, "create %s", path);
    }
    go_to(path);
    args[n++] = "-x";
    /* -v lists each entry on stdout as tar reaches it: a tar that fails halfway leaves the
     * entries before it written, and arbord names where it stopped */
    args[n++] = "-v";
    args[n++] = "-f";
    args[n++] = "-";
  } else {
    absolute(path, sizeof path, user->home, create);
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
  if (!privileged && load_container_seccomp() != 0) bail(EXIT_HELPER_FAILED, "load the seccomp filter");
  sigset_t none;
  sigemptyset(&none);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  sigprocmask(SIG_SETMASK, &none, NULL);
  char *env[] = {"PATH=/bin", NULL};
  syscall(SYS_execveat, tar, "", args, env, AT_EMPTY_PATH);
  bail(EXIT_HELPER_FAILED, "exec busybox tar");
}

static volatile pid_t child_pid;

/* stop_tar KILLs the tar on a TERM, INT or HUP of arbor-tar, which then reaps it (a KILL of
 * arbor-tar reaches the tar as its parent-death signal). */
static void stop_tar(int sig) {
  (void)sig;
  if (child_pid > 0) kill(child_pid, SIGKILL);
}

int main(int argc, char **argv) {
  helper_name = "arbor-tar";
  parse(argc, argv);
  check_user_spec(user_spec);
  /* arbor-tar ends with arbord: a stream nobody reads or feeds must not hold the container */
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) bail(EXIT_HELPER_FAILED, "PR_SET_PDEATHSIG");
  if (getppid() != parent) _exit(EXIT_HELPER_FAILED);
  int opened = open(busybox, O_RDONLY | O_CLOEXEC);
  if (opened < 0) bail(EXIT_HELPER_FAILED, "open %s", busybox);
  int tar = sealed_copy(opened);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) bail(EXIT_HELPER_FAILED, "open /dev/null");
  open_namespaces();
  open_cgroups();
  /* only the tar enters the container: arbor-tar stays on the host side and waits */
  if (ns_fds[NS_PID] >= 0 && setns(ns_fds[NS_PID], CLONE_NEWPID) != 0) bail(EXIT_HELPER_FAILED, "enter the container's pid namespace");
  int alive[2];
  if (pipe2(alive, O_CLOEXEC) != 0) bail(EXIT_HELPER_FAILED, "pipe");
  struct sigaction sa = {.sa_handler = stop_tar};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  pid_t child = fork();
  if (child < 0) bail(EXIT_HELPER_FAILED, "fork");
  if (child == 0) {
    close(alive[1]);
    close(null);
    tar_child(tar, alive[0]);
  }
  child_pid = child;
  close(alive[0]);
  close(tar);
  for (int i = 0; i < ncgroups; i++) close(cgroup_fds[i]);
  for (size_t i = 0; i < NS_COUNT; i++)
    if (ns_fds[i] >= 0) close(ns_fds[i]);
  /* the tar alone holds the stream: when it exits early, arbord's writes fail at once */
  dup2(null, STDIN_FILENO);
  dup2(null, STDOUT_FILENO);
  close(null);
  int st;
  while (waitpid(child, &st, 0) < 0)
    if (errno != EINTR) bail(EXIT_HELPER_FAILED, "wait for tar");
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  errno = 0;
  bail(128 + WTERMSIG(st), "tar was killed by signal %d", WTERMSIG(st));
}
