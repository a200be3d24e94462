/* seccomp.c: the container's seccomp filter; see seccomp.h. */
#define _GNU_SOURCE
#include "seccomp.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>

/* DENIED_SYSCALLS fail with EPERM in a container (unless --privileged): what dropped
 * capabilities already forbid, plus what needs none and widens the kernel's surface. */
static const int denied_syscalls[] = {
    SCMP_SYS(mount),        SCMP_SYS(umount2),         SCMP_SYS(pivot_root),    SCMP_SYS(move_mount),
    SCMP_SYS(open_tree),    SCMP_SYS(fsopen),          SCMP_SYS(fsconfig),      SCMP_SYS(fsmount),
    SCMP_SYS(fspick),       SCMP_SYS(setns),           SCMP_SYS(swapon),        SCMP_SYS(swapoff),
    SCMP_SYS(reboot),       SCMP_SYS(kexec_load),      SCMP_SYS(kexec_file_load), SCMP_SYS(init_module),
    SCMP_SYS(finit_module), SCMP_SYS(delete_module),   SCMP_SYS(keyctl),        SCMP_SYS(add_key),
    SCMP_SYS(request_key),  SCMP_SYS(bpf),             SCMP_SYS(perf_event_open), SCMP_SYS(userfaultfd),
    SCMP_SYS(open_by_handle_at), SCMP_SYS(acct),       SCMP_SYS(settimeofday),  SCMP_SYS(clock_settime),
    SCMP_SYS(iopl),         SCMP_SYS(ioperm),          SCMP_SYS(syslog),        SCMP_SYS(quotactl),
};

/* load_container_seccomp: the calls above fail with EPERM, and so do new user namespaces
 * (clone3 answers ENOSYS, as its flags cannot be inspected, so libc falls back to clone). */
int load_container_seccomp(void) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return -1;
  int rc = 0;
  for (size_t i = 0; i < sizeof denied_syscalls / sizeof denied_syscalls[0]; i++)
    if (denied_syscalls[i] >= 0) rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied_syscalls[i], 0);
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    errno = -rc > 0 ? -rc : EINVAL;
    return -1;
  }
  return 0;
}
