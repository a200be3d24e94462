import { ContainerModule } from 'inversify';
import { TOKENS } from '@arbor/core';
import type { BackendCapabilities, Containerizer, Logger } from '@arbor/core';
import { fileDepotModule } from '@arbor/depot';
import { HostContainerizer, cgroupParentFor, hostBackendCapabilities, hostCgroupDriver, hostHelpers, requireRoot, usernsIdRanges, usernsOf } from '@arbor/host';
import { diskQuotasEnforceable, overlayVolumizerModule } from '@arbor/images';
import { linuxNetworkerModule } from '@arbor/network';
import type { HostContainerizerConfig, LinuxBackendConfig } from './linux-backend-config';
import { NamespaceRuntime } from './namespace-runtime';

/**
 * namespaceContainerizer checks that this host can serve the linux backend (root, the built
 * helpers, a static busybox, cgroups) and builds its containerizer: a HostContainerizer over
 * a NamespaceRuntime, whose containers' cgroups sit in 'arbor[-<tag>][-<hash of stateDir>]';
 * with userns.enabled, unprivileged containers get user namespaces (usernsIdRanges).
 * @throws ArborError 'failedPrecondition' saying what is missing and how to fix it
 */
export function namespaceContainerizer(config: HostContainerizerConfig, logger: Logger): HostContainerizer {
  requireRoot('linux backend');
  const { helpers, busybox } = hostHelpers('linux', config, ['arbor-create', 'arbor-exec', 'arbor-init', 'arbor-tar', 'arbor-devices']);
  const cgroups = hostCgroupDriver(config.cgroupRoot, cgroupParentFor('arbor', config.stateDir, config.tag), helpers);
  const idRanges = usernsIdRanges(config.userns);
  return new HostContainerizer({
    runtime: new NamespaceRuntime(cgroups, helpers),
    stateDir: config.stateDir,
    cgroups,
    helpers,
    busybox,
    ...(idRanges && { idRanges }),
    ...(config.stopTimeoutMs !== undefined && { stopTimeoutMs: config.stopTimeoutMs }),
    ...(config.maxContainers ? { maxContainers: config.maxContainers } : {}),
    logger,
  });
}

/**
 * namespaceContainerizerModule binds TOKENS.Containerizer to namespaceContainerizer(config)
 * and TOKENS.Capabilities. Resolving the Containerizer fails with the reason when the host
 * cannot serve it (not root, helpers not built, no default rootfs, no cgroups).
 */
export const namespaceContainerizerModule = new ContainerModule(({ bind }) => {
  bind<Containerizer>(TOKENS.Containerizer)
    .toResolvedValue((config: HostContainerizerConfig, logger: Logger) => namespaceContainerizer(config, logger), [TOKENS.BackendConfig, TOKENS.Logger])
    .inSingletonScope();
  bind<BackendCapabilities>(TOKENS.Capabilities)
    .toResolvedValue(
      (config: LinuxBackendConfig) => hostBackendCapabilities(diskQuotasEnforceable(config.stateDir), usernsOf(config.userns).enabled),
      [TOKENS.BackendConfig],
    )
    .inSingletonScope();
});

/**
 * linuxBackendModules are the linux backend as composeBackend takes it: its containerizer
 * beside the shared host ports (FileDepot, OverlayVolumizer, LinuxNetworker), each reading
 * its part of TOKENS.BackendConfig (a LinuxBackendConfig). The Gardener closes the
 * networker's coprocesses when arbord stops.
 */
export const linuxBackendModules: readonly ContainerModule[] = [fileDepotModule, overlayVolumizerModule, linuxNetworkerModule, namespaceContainerizerModule];
