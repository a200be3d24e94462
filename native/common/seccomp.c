/* seccomp.c: the container's seccomp filter; see seccomp.h. */
#define _GNU_SOURCE
#include "seccomp.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

/* container-seccomp.h is made at build time by seccomp-gen from seccomp-profile.txt (seccomp.mk) */
#include "container-seccomp.h"

/* load_container_seccomp hands the kernel the program seccomp-gen built: Docker's default
 * profile as an allowlist, every other call EPERM, a call newer than the profile ENOSYS. No
 * rule is compiled here, so loading costs one system call. no_new_privs comes first, as
 * libseccomp's seccomp_load did: the filter needs it without CAP_SYS_ADMIN, and a container
 * process keeps it anyway. */
int load_container_seccomp(void) {
  struct sock_fprog prog = {.len = CONTAINER_SECCOMP_LEN, .filter = (struct sock_filter *)container_seccomp};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
