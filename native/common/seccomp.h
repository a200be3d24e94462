/* seccomp.h: the seccomp filter every process in an unprivileged container runs under, shared
 * by the helpers that put code into a container (arbor-exec, arbor-tar). The filter is
 * seccomp-profile.txt, compiled to BPF at build time (seccomp.mk, seccomp-gen.c); the runc
 * backend writes the same profile into config.json. Needs no library at run time.
 * Covered by: packages/backend-linux/src/namespace-containerizer.int.spec.ts (seccomp, and the
 * seccomp allowlist block) and packages/backend-runc/src/runc-containerizer.int.spec.ts */
#ifndef ARBOR_SECCOMP_H
#define ARBOR_SECCOMP_H

/* load_container_seccomp sets no_new_privs and loads the container's filter into the calling
 * thread. Returns 0, or -1 with errno set. */
int load_container_seccomp(void);

#endif
