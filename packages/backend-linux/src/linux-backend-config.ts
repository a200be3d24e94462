import { join } from 'node:path';
import { DEFAULT_ROOTFS } from '@arbor/images';

/**
 * LinuxBackendConfig is the part of the server's config (TOKENS.BackendConfig) this backend
 * reads, plus options for tests.
 */
export interface LinuxBackendConfig {
  /** stateDir is like /var/lib/arbor. */
  stateDir: string;
  /** defaultRootfs is a directory or 'raw:///dir'; '' means the busybox rootfs of scripts/build-rootfs.sh. */
  defaultRootfs: string;
  /** maxContainers caps the containers; 0 means the LinuxNetworker's pool decides (256 for the default /22). */
  maxContainers?: number;
  /**
   * tag names this arbord's links, chains and cgroups apart from another's on the host, like
   * 'x' (links 'arbx...', cgroup 'arbor-x'); '' or absent keeps the untagged names.
   */
  tag?: string;
  /** networkPool, portPoolStart, portPoolSize configure the LinuxNetworker, like '10.254.0.0/22', 61001, 4534. */
  networkPool?: string;
  portPoolStart?: number;
  portPoolSize?: number;
  /** helpersDir holds the built native/ helpers, like /opt/arbor/native/build. */
  helpersDir?: string;
  /** busybox is the static busybox whose tar applet streams files; default: the default rootfs's. */
  busybox?: string;
  /** stopTimeoutMs is how long Stop waits after TERM before KILL; default 10 s. */
  stopTimeoutMs?: number;
  /** cgroupRoot is like /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** imageMaxUnpackedBytes bounds what one image pull unpacks, like 64 GiB; absent means @arbor/images' DEFAULT_MAX_UNPACKED_BYTES. */
  imageMaxUnpackedBytes?: number;
}

/** defaultBusybox is the busybox of the default busybox rootfs, trusted because Arbor built it. */
export function defaultBusybox(): string {
  return join(DEFAULT_ROOTFS, 'bin', 'busybox');
}
