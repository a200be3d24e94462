import 'reflect-metadata';
import { Container } from 'inversify';
import { Gardener, SystemClock, TOKENS, UuidHandleGenerator } from '@arbor/core';
import type {
  Backend,
  Clock,
  Containerizer,
  Depot,
  GardenerConfig,
  GardenerObserver,
  HandleGenerator,
  Logger,
  Networker,
  Volumizer,
} from '@arbor/core';
import { ConfigError, netInHostPorts } from './arbor-config';
import type { ArborConfig } from './arbor-config';
import type { BackendModules } from './backends';

/**
 * composeBackend is the composition root, the one place the object graph is built: the
 * server's own bindings, the chosen backend's ContainerModule for the ports, and the
 * Gardener over them as TOKENS.Backend, reporting its steps to observer when one is given
 * (arbord's metrics).
 * @throws ConfigError for an unknown backend; whatever the backend module throws when the host cannot serve it
 */
export async function composeBackend(
  config: ArborConfig,
  logger: Logger,
  registry: BackendModules,
  observer?: GardenerObserver,
): Promise<Gardener> {
  const makeModule = registry[config.backend];
  if (!makeModule) {
    throw new ConfigError('backend', `unknown backend '${config.backend}': valid backends are ${Object.keys(registry).join(', ')}`);
  }
  const container = new Container();
  container.bind<ArborConfig>(TOKENS.BackendConfig).toConstantValue(config);
  container.bind<Logger>(TOKENS.Logger).toConstantValue(logger);
  container.bind<Clock>(TOKENS.Clock).toConstantValue(new SystemClock());
  container.bind<HandleGenerator>(TOKENS.HandleGenerator).toConstantValue(new UuidHandleGenerator());
  container.bind<GardenerConfig>(TOKENS.GardenerConfig).toConstantValue({
    defaultGraceTimeMs: config.defaultGraceTimeMs,
    maxContainers: config.maxContainers,
    defaultPidLimit: config.defaultPidLimit,
    netInHostPorts: netInHostPorts(config),
  });
  await container.load(makeModule());
  container
    .bind<Backend>(TOKENS.Backend)
    .toResolvedValue(
      (
        containerizer: Containerizer,
        networker: Networker,
        volumizer: Volumizer,
        depot: Depot,
        handleGenerator: HandleGenerator,
        clock: Clock,
        log: Logger,
        gardenerConfig: GardenerConfig,
      ) =>
        new Gardener({
          containerizer,
          networker,
          volumizer,
          depot,
          handleGenerator,
          clock,
          logger: log,
          config: gardenerConfig,
          ...(observer && { observer }),
        }),
      [
        TOKENS.Containerizer,
        TOKENS.Networker,
        TOKENS.Volumizer,
        TOKENS.Depot,
        TOKENS.HandleGenerator,
        TOKENS.Clock,
        TOKENS.Logger,
        TOKENS.GardenerConfig,
      ],
    )
    .inSingletonScope();
  return container.getAsync<Gardener>(TOKENS.Backend);
}
