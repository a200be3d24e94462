import type { BackendCapabilities } from './contract-setup';

/**
 * LINUX_CAPABILITIES: the linux backend does everything but disk quotas, which come with
 * the images work (issue: "Images and the runc backend").
 */
export const LINUX_CAPABILITIES: Omit<BackendCapabilities, 'images'> = {
  enforcesLimits: true,
  enforcesDiskLimits: false,
  realNetwork: true,
  isolation: true,
  survivesRestart: true,
};
