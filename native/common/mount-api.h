/* mount-api.h: the new mount API (open_tree, move_mount, mount_setattr, fsopen/fsconfig/
 * fsmount), called through syscall(): a C library may lack the wrappers. The numbers are the
 * same on every architecture but alpha. Names no libc header uses, so it mixes with any. */
#ifndef ARBOR_MOUNT_API_H
#define ARBOR_MOUNT_API_H

#include <stdint.h>
#include <sys/syscall.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x04
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x40
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x1
#define MOUNT_ATTR_NOSUID 0x2
#define MOUNT_ATTR_NODEV 0x4
#define MOUNT_ATTR_NOEXEC 0x8
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
/* fsconfig's commands and the fsopen/fsmount flags */
#define ARBOR_FSCONFIG_STRING 1
/* ARBOR_FSCONFIG_STRING_MAX: fsconfig copies at most 256 bytes of a string value, its NUL included */
#define ARBOR_FSCONFIG_STRING_MAX 256
#define ARBOR_FSCONFIG_CREATE 6
#define ARBOR_FS_CLOEXEC 1

/* tree_attr is the kernel's struct mount_attr (version 0). */
struct tree_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

#endif
