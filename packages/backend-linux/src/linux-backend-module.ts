import { ContainerModule } from 'inversify';
import { TOKENS } from '@arbor/core';
import type { Containerizer, Depot, Logger, Networker } from '@arbor/core';
import { FileDepot } from '@arbor/depot';
import { OverlayVolumizer } from '@arbor/images';
import { LinuxNetworker, PoolRegistry } from '@arbor/network';
import { makeNamespaceContainerizer, volumizerOptions } from './create-linux-backend';
import type { LinuxBackendConfig } from './linux-backend-config';

/**
 * makeLinuxBackendModule binds the linux backend's ports, reading stateDir, defaultRootfs,
 * maxContainers, stopTimeoutMs, imageMaxUnpackedBytes, the tag and the network pools from TOKENS.BackendConfig (the server's
 * ArborConfig); the network is @arbor/network's LinuxNetworker. Resolving the Containerizer
 * fails with the reason when the host cannot serve it (not root, helpers not built, no default
 * rootfs). The Gardener closes the networker's coprocesses when arbord stops.
 */
export function makeLinuxBackendModule(): ContainerModule {
  return makeHostBackendModule(makeNamespaceContainerizer);
}

/**
 * makeHostBackendModule binds a containerizer made by makeContainerizer beside the host ports
 * the real backends share: OverlayVolumizer, FileDepot and LinuxNetworker.
 */
export function makeHostBackendModule<C extends LinuxBackendConfig>(makeContainerizer: (config: C, logger: Logger) => Containerizer): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<Containerizer>(TOKENS.Containerizer)
      .toResolvedValue((config: C, logger: Logger) => makeContainerizer(config, logger), [TOKENS.BackendConfig, TOKENS.Logger])
      .inSingletonScope();
    bind<OverlayVolumizer>(TOKENS.Volumizer)
      .toResolvedValue(
        (config: LinuxBackendConfig) => new OverlayVolumizer(volumizerOptions(config)),
        [TOKENS.BackendConfig],
      )
      .inSingletonScope();
    bind<Depot>(TOKENS.Depot)
      .toResolvedValue((config: LinuxBackendConfig) => new FileDepot(config.stateDir), [TOKENS.BackendConfig])
      .inSingletonScope();
    bind<Networker>(TOKENS.Networker)
      .toResolvedValue(
        (config: LinuxBackendConfig, logger: Logger) =>
          new LinuxNetworker({
            ...(config.networkPool && { networkPool: config.networkPool }),
            ...(config.portPoolStart && { portPoolStart: config.portPoolStart }),
            ...(config.portPoolSize && { portPoolSize: config.portPoolSize }),
            ...(config.tag && { tag: config.tag }),
            // refuses, at start, a tag or pools another live arbord on this host holds (/run/arbor/pools)
            poolRegistry: new PoolRegistry(),
            logger,
          }),
        [TOKENS.BackendConfig, TOKENS.Logger],
      )
      .inSingletonScope();
  });
}

/** linuxBackendModule is what the server's backend registry binds for `backend: linux`. */
export const linuxBackendModule = makeLinuxBackendModule();
