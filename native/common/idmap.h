/* idmap.h: root filesystems and bind mounts seen through a container's user namespace
 * (mount_setattr MOUNT_ATTR_IDMAP), so that no layer is copied or chowned. Used by
 * arbor-create (the linux backend) and arbor-mount (the runc backend prepares the bundle). */
#ifndef ARBOR_IDMAP_H
#define ARBOR_IDMAP_H

#include <limits.h>
#include <sys/types.h>

/* parse_id_range reads HOSTID:SIZE, like 1000065536:65536: never host root (HOSTID >= 1),
 * within 32-bit ids; bails EXIT_BAD_USAGE naming what, like "--userns". */
void parse_id_range(const char *text, const char *what, unsigned long long *host, unsigned long long *size);

/* write_id_maps maps ids 0..size-1 of pid's user namespace to host..host+size-1 (uid and gid). */
void write_id_maps(pid_t pid, unsigned long long host, unsigned long long size);

/* range_userns returns an fd of a user namespace mapping 0..size-1 to host.. (made by a child
 * that exits at once: the fd keeps the namespace), for idmapping mounts ahead of the
 * container's own namespace, as the runc backend must. */
int range_userns(unsigned long long host, unsigned long long size);

/* overlay_dirs are an overlay's lowerdir (':'-separated), upperdir and workdir options. */
struct overlay_dirs {
  char lower[PATH_MAX * 4], upper[PATH_MAX], work[PATH_MAX];
};

/* parse_overlay_options reads lowerdir=, upperdir= and workdir= out of an overlay's mount
 * options (cut up in place), like "lowerdir=/a:/b,upperdir=/u,workdir=/w"; 0 when it found
 * all three, else -1. */
int parse_overlay_options(char *options, struct overlay_dirs *dirs);

/* mount_idmapped_overlay mounts at rootfs an overlay of the ':'-separated lower dirs (lower is
 * cut up in place) each idmapped through userns_fd, with upper (made host_root's) and work;
 * bails EXIT_UNSUPPORTED where the kernel cannot. */
void mount_idmapped_overlay(const char *rootfs, char *lower, const char *upper, const char *work, int userns_fd, unsigned long long host_root);

/* idmap_overlay mounts the overlay at rootfs again with each lower layer an idmapped mount
 * through userns_fd (host id N shows as the range's id N) and its upper dir owned by
 * host_root, the range's root; bails EXIT_UNSUPPORTED where the kernel cannot, or rootfs is
 * no overlay. */
void idmap_overlay(const char *rootfs, int userns_fd, unsigned long long host_root);

#endif
