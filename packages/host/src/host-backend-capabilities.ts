import type { BackendCapabilities } from '@arbor/core';

/**
 * hostBackendCapabilities are what a backend of a HostContainerizer does, whatever its
 * InitRuntime: limits and isolation bite, processes outlive arbord, the LinuxNetworker is
 * real; disk limits where diskQuotas says the volumizer's quotas work on this host; user
 * namespaces where userns.enabled puts unprivileged containers in them.
 */
export function hostBackendCapabilities(diskQuotas: boolean, userNamespaces = false): BackendCapabilities {
  return {
    enforcesLimits: true,
    enforcesDiskLimits: diskQuotas,
    realNetwork: true,
    isolation: true,
    survivesRestart: true,
    runsImagePrograms: true,
    userNamespaces,
  };
}
