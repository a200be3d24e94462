/**
 * MASKED_PATHS are what /proc and /sys would tell an unprivileged container about the host
 * (its firmware, keys, kernel memory, timers): a directory gets an empty read-only tmpfs, a
 * file /dev/null. runc's default list. The one list of both backends: arbor-create takes it
 * as --mask arguments (NamespaceRuntime), runcConfig as the spec's maskedPaths.
 */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/**
 * READONLY_PATHS are /proc files and dirs that would let a container's root change the host
 * kernel (/proc/sys, /proc/sysrq-trigger): each is bound onto itself read-only, nosuid, nodev
 * and noexec, submounts included. runc's default list; arbor-create takes it as --readonly.
 */
export const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
