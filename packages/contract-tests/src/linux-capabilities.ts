import type { BackendCapabilities } from './contract-setup';

/**
 * LINUX_CAPABILITIES: the linux backend does everything. Disk limits bite through the
 * OverlayVolumizer's btrfs qgroups (it needs btrfs-progs and a loop device; scripts/setup.sh
 * installs the one, and without either a byteHard fails with failedPrecondition).
 */
export const LINUX_CAPABILITIES: Omit<BackendCapabilities, 'images'> = {
  enforcesLimits: true,
  enforcesDiskLimits: true,
  realNetwork: true,
  isolation: true,
  survivesRestart: true,
};
