import { TOKENS } from '@arbor/core';
import type { BackendCapabilities, Containerizer, Depot, GardenerSettings, Networker, Volumizer } from '@arbor/core';
import { ContainerModule } from 'inversify';
import { FakeContainerizer } from './fake-containerizer';
import { FakeNetworker } from './fake-networker';
import { FakeVolumizer } from './fake-volumizer';
import { resolveFakeBackendOptions, type FakeBackendOptions } from './fake-backend-options';
import { InMemoryDepot } from './in-memory-depot';

/** FAKE_VOLUMIZER binds the FakeVolumizer itself: the FakeContainerizer reads its filesystems. */
const FAKE_VOLUMIZER = Symbol.for('@arbor/backend-fake/FakeVolumizer');
const FAKE_OPTIONS = Symbol.for('@arbor/backend-fake/FakeBackendOptions');

/** FakeBackendConfig is what the fake backend reads from TOKENS.BackendConfig; other fields are ignored. */
export type FakeBackendConfig = Partial<FakeBackendOptions> & GardenerSettings;

/**
 * FAKE_CAPABILITIES: the fake keeps everything in memory: limits are recorded, not enforced
 * (disk byteHard is, on what the FakeVolumizer counts); there is no real network, no
 * namespaces, and nothing outlives the process.
 */
const FAKE_CAPABILITIES: BackendCapabilities = {
  enforcesLimits: false,
  enforcesDiskLimits: true,
  realNetwork: false,
  isolation: false,
  survivesRestart: false,
  userNamespaces: false,
};

/**
 * fakeBackendModule binds the fake ports (Containerizer, Networker, Volumizer, Depot) as
 * singletons, configured from TOKENS.BackendConfig when it is bound (a FakeBackendConfig),
 * and TOKENS.Capabilities. composeBackend(fakeBackendModule, config) is a whole in-memory
 * Arbor backend, for in-process use and the contract suite.
 */
export const fakeBackendModule = new ContainerModule(({ bind }) => {
  bind<FakeBackendOptions>(FAKE_OPTIONS)
    .toDynamicValue((context) => {
      const config = context.get<Partial<FakeBackendOptions> | undefined>(TOKENS.BackendConfig, { optional: true });
      return resolveFakeBackendOptions(config);
    })
    .inSingletonScope();
  bind<FakeVolumizer>(FAKE_VOLUMIZER)
    .toResolvedValue(() => new FakeVolumizer())
    .inSingletonScope();
  bind<Volumizer>(TOKENS.Volumizer).toService(FAKE_VOLUMIZER);
  bind<Containerizer>(TOKENS.Containerizer)
    .toResolvedValue(
      (volumizer: FakeVolumizer, options: FakeBackendOptions) =>
        new FakeContainerizer(volumizer, { maxContainers: options.maxContainers, stopTimeoutMs: options.stopTimeoutMs }),
      [FAKE_VOLUMIZER, FAKE_OPTIONS],
    )
    .inSingletonScope();
  bind<Networker>(TOKENS.Networker)
    .toResolvedValue((options: FakeBackendOptions, volumizer: FakeVolumizer) => new FakeNetworker(options, volumizer), [FAKE_OPTIONS, FAKE_VOLUMIZER])
    .inSingletonScope();
  bind<Depot>(TOKENS.Depot)
    .toResolvedValue(() => new InMemoryDepot())
    .inSingletonScope();
  bind<BackendCapabilities>(TOKENS.Capabilities).toConstantValue(FAKE_CAPABILITIES);
});
