import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerModule } from 'inversify';
import { TOKENS } from '@arbor/core';
import type { BackendCapabilities, Containerizer, Logger } from '@arbor/core';
import { fileDepotModule } from '@arbor/depot';
import { HostContainerizer, cgroupParentFor, hostBackendCapabilities, hostCgroupDriver, hostHelpers, requireRoot, usernsIdRanges, usernsOf } from '@arbor/host';
import { diskQuotasEnforceable, overlayVolumizerModule } from '@arbor/images';
import { linuxNetworkerModule } from '@arbor/network';
import type { RuncBackendConfig } from './runc-backend-config';
import { RuncCli, checkRuncVersion } from './runc-cli';
import { RuncRuntime, requireSearchableAbove } from './runc-runtime';

/**
 * runcContainerizer checks that this host can serve the runc backend (root, a runc of 1.0
 * or later, the built helpers, a static busybox, cgroups) and builds its containerizer: a
 * HostContainerizer over a RuncRuntime. runc keeps its state under <stateDir>/runc. With
 * userns.enabled, unprivileged containers get user namespaces (usernsIdRanges), as on linux.
 * @throws ArborError 'failedPrecondition' saying what is missing and how to fix it
 */
export function runcContainerizer(config: RuncBackendConfig, logger: Logger): HostContainerizer {
  requireRoot('runc backend');
  const binary = config.runc?.binary || 'runc';
  const version = checkRuncVersion(binary);
  const { helpers, busybox } = hostHelpers('runc', config, ['arbor-exec', 'arbor-init', 'arbor-tar', 'arbor-devices', 'arbor-mount']);
  const cgroupRoot = config.cgroupRoot ?? '/sys/fs/cgroup';
  // containers live in /sys/fs/cgroup/<controller>/arbor-runc[-<tag>][-<hash of a non-default stateDir>]/<handle>
  const cgroupParent = cgroupParentFor('arbor-runc', config.stateDir, config.tag);
  const cgroups = hostCgroupDriver(cgroupRoot, cgroupParent, helpers);
  logger.info('runc-backend', { runc: binary, version });
  const runtime = new RuncRuntime({
    stateDir: config.stateDir,
    runc: new RuncCli(binary, join(config.stateDir, 'runc')),
    cgroups,
    helpers,
    cgroupParent,
    swapAccounting: existsSync(join(cgroupRoot, 'memory', 'memory.memsw.limit_in_bytes')),
    capBnd: /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '',
  });
  const idRanges = usernsIdRanges(config.userns);
  // said at start, not at each create
  if (idRanges) requireSearchableAbove(config.stateDir);
  return new HostContainerizer({
    runtime,
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
 * runcContainerizerModule binds TOKENS.Containerizer to runcContainerizer(config) and
 * TOKENS.Capabilities: the runc backend shares the linux backend's volumes, network and
 * process supervision, so it does what that one does. Resolving the Containerizer fails with
 * the reason when runc is missing or too old.
 */
export const runcContainerizerModule = new ContainerModule(({ bind }) => {
  bind<Containerizer>(TOKENS.Containerizer)
    .toResolvedValue((config: RuncBackendConfig, logger: Logger) => runcContainerizer(config, logger), [TOKENS.BackendConfig, TOKENS.Logger])
    .inSingletonScope();
  bind<BackendCapabilities>(TOKENS.Capabilities)
    .toResolvedValue(
      (config: RuncBackendConfig) => hostBackendCapabilities(diskQuotasEnforceable(config.stateDir), usernsOf(config.userns).enabled),
      [TOKENS.BackendConfig],
    )
    .inSingletonScope();
});

/**
 * runcBackendModules are the runc backend as composeBackend takes it: the runc containerizer
 * beside the shared host ports (FileDepot, OverlayVolumizer, LinuxNetworker), each reading its
 * part of TOKENS.BackendConfig (a RuncBackendConfig).
 */
export const runcBackendModules: readonly ContainerModule[] = [fileDepotModule, overlayVolumizerModule, linuxNetworkerModule, runcContainerizerModule];
