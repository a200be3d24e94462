/* seccomp.h: the seccomp filter every process in an unprivileged container runs under, shared
 * by the helpers that put code into a container (arbor-exec, arbor-tar). Link with -lseccomp.
 * Covered by: packages/backend-linux/src/namespace-containerizer.int.spec.ts (seccomp) */
#ifndef ARBOR_SECCOMP_H
#define ARBOR_SECCOMP_H

/* load_container_seccomp loads the default filter into the calling thread (it needs
 * no_new_privs or CAP_SYS_ADMIN first). Returns 0, or -1 with errno set. */
int load_container_seccomp(void);

#endif
