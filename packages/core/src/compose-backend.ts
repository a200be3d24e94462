import 'reflect-metadata';
import { Container } from 'inversify';
import type { ContainerModule } from 'inversify';
import type { BackendCapabilities } from './capabilities';
import { Gardener } from './gardener';
import type { Logger } from './logger';
import { silentLogger } from './logger';
import type { Clock, Containerizer, Depot, GardenerConfig, GardenerObserver, HandleGenerator, Networker, Volumizer } from './ports';
import { SystemClock, UuidHandleGenerator } from './system';
import { TOKENS } from './tokens';

/** BackendModules are what a backend package exports: the ContainerModules binding its ports and TOKENS.Capabilities. */
export type BackendModules = ContainerModule | readonly ContainerModule[];

/**
 * GardenerSettings are the fields of the backend config (TOKENS.BackendConfig) the Gardener
 * reads; absent ones are 0 (none, or the ports decide).
 */
export interface GardenerSettings {
  defaultGraceTimeMs?: number;
  maxContainers?: number;
  defaultPidLimit?: number;
}

/** BackendDeps are what the caller of composeBackend gives besides the config; all optional. */
export interface BackendDeps {
  /** logger: default silentLogger. */
  logger?: Logger;
  /** clock: default SystemClock. */
  clock?: Clock;
  /** handleGenerator: default UuidHandleGenerator. */
  handleGenerator?: HandleGenerator;
  /** observer hears the Gardener's step durations (arbord's metrics). */
  observer?: GardenerObserver;
  /** gardener overrides the Gardener's config read from the backend config, like arbord's netInHostPorts. */
  gardener?: Partial<GardenerConfig>;
  /** overrides are loaded after the backend's modules, to rebind a port, like a test's own Networker. */
  overrides?: readonly ContainerModule[];
}

/** ComposedBackend is a Gardener over a backend's ports, and what that backend can do on this host. */
export interface ComposedBackend {
  backend: Gardener;
  capabilities: BackendCapabilities;
}

/**
 * composeBackend is the one place the object graph is built, for arbord, the in-process
 * contract runs, examples and the benchmarks alike: config as TOKENS.BackendConfig (each
 * module reads its own section; the Gardener its GardenerSettings), the backend's modules for
 * the ports, and the Gardener over them as TOKENS.Backend. Call start() on the backend before use.
 * @throws whatever a module throws when this host cannot serve it, like ArborError 'failedPrecondition' naming what is missing
 */
export async function composeBackend<C extends object>(modules: BackendModules, config: C, deps: BackendDeps = {}): Promise<ComposedBackend> {
  const container = await backendContainer(modules, config, deps);
  container
    .bind<Gardener>(TOKENS.Backend)
    .toResolvedValue(
      (
        containerizer: Containerizer,
        networker: Networker,
        volumizer: Volumizer,
        depot: Depot,
        handleGenerator: HandleGenerator,
        clock: Clock,
        logger: Logger,
        gardenerConfig: GardenerConfig,
      ) =>
        new Gardener({
          containerizer,
          networker,
          volumizer,
          depot,
          handleGenerator,
          clock,
          logger,
          config: gardenerConfig,
          ...(deps.observer && { observer: deps.observer }),
        }),
      [TOKENS.Containerizer, TOKENS.Networker, TOKENS.Volumizer, TOKENS.Depot, TOKENS.HandleGenerator, TOKENS.Clock, TOKENS.Logger, TOKENS.GardenerConfig],
    )
    .inSingletonScope();
  const backend = await container.getAsync<Gardener>(TOKENS.Backend);
  return { backend, capabilities: await container.getAsync<BackendCapabilities>(TOKENS.Capabilities) };
}

/**
 * backendCapabilities reads what a backend can do on this host from its modules without
 * building its ports, synchronously: for a test that decides at load time what to skip.
 * @throws when a module cannot be loaded synchronously
 */
export function backendCapabilities<C extends object>(modules: BackendModules, config: C): BackendCapabilities {
  const container = new Container();
  bindBase(container, config, {});
  container.loadSync(...moduleList(modules));
  return container.get<BackendCapabilities>(TOKENS.Capabilities);
}

async function backendContainer<C extends object>(modules: BackendModules, config: C, deps: BackendDeps): Promise<Container> {
  const container = new Container();
  bindBase(container, config, deps);
  await container.load(...moduleList(modules), ...(deps.overrides ?? []));
  return container;
}

function bindBase<C extends object>(container: Container, config: C, deps: BackendDeps): void {
  container.bind<C>(TOKENS.BackendConfig).toConstantValue(config);
  container.bind<Logger>(TOKENS.Logger).toConstantValue(deps.logger ?? silentLogger);
  container.bind<Clock>(TOKENS.Clock).toConstantValue(deps.clock ?? new SystemClock());
  container.bind<HandleGenerator>(TOKENS.HandleGenerator).toConstantValue(deps.handleGenerator ?? new UuidHandleGenerator());
  const settings: GardenerSettings = config;
  container.bind<GardenerConfig>(TOKENS.GardenerConfig).toConstantValue({
    defaultGraceTimeMs: settings.defaultGraceTimeMs ?? 0,
    maxContainers: settings.maxContainers ?? 0,
    defaultPidLimit: settings.defaultPidLimit ?? 0,
    ...deps.gardener,
  });
}

function moduleList(modules: BackendModules): ContainerModule[] {
  return Array.isArray(modules) ? [...(modules as readonly ContainerModule[])] : [modules as ContainerModule];
}
