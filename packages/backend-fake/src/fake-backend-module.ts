import { TOKENS } from '@arbor/core';
import type { BackendCapabilities, Containerizer, Depot, GardenerSettings, Networker, Volumizer } from '@arbor/core';
import { ContainerModule } from 'inversify';
import { FakeContainerizer } from './fake-containerizer';
import { FakeNetworker } from './fake-networker';
import { FakeVolumizer } from './fake-volumizer';
import { resolveFakeBackendOptions, type FakeBackendOptions } from './fake-backend-options';
import { InMemoryDepot } from './in-memory-depot';
import { PROBE_PROGRAMS } from './process/probe-program';
import type { ProgramRunner } from './process/program-runner';

/** FAKE_VOLUMIZER binds the FakeVolumizer itself: the FakeContainerizer reads its filesystems. */
const FAKE_VOLUMIZER = Symbol.for('@arbor/backend-fake/FakeVolumizer');
const FAKE_OPTIONS = Symbol.for('@arbor/backend-fake/FakeBackendOptions');
/**
 * FAKE_PROGRAM_RUNNER binds the ProgramRunner the fake's containers exec from, when another
 * module binds one (like @arbor/fake-shell's fakeShellModule); unbound, they run probes only.
 */
export const FAKE_PROGRAM_RUNNER = Symbol.for('@arbor/backend-fake/ProgramRunner');

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
  runsImagePrograms: false,
  userNamespaces: false,
};

/**
 * fakeBackendModule binds the fake ports (Containerizer, Networker, Volumizer, Depot) as
 * singletons, configured from TOKENS.BackendConfig when it is bound (a FakeBackendConfig),
 * and TOKENS.Capabilities; its containers run the ProgramRunner bound to FAKE_PROGRAM_RUNNER,
 * or PROBE_PROGRAMS. composeBackend(fakeBackendModule, config) is a whole in-memory Arbor
 * backend, for in-process use and the contract suite.
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
    .toDynamicValue((context) => {
      const volumizer = context.get<FakeVolumizer>(FAKE_VOLUMIZER);
      const { maxContainers, stopTimeoutMs } = context.get<FakeBackendOptions>(FAKE_OPTIONS);
      const programs = context.get<ProgramRunner | undefined>(FAKE_PROGRAM_RUNNER, { optional: true }) ?? PROBE_PROGRAMS;
      return new FakeContainerizer(volumizer, { maxContainers, stopTimeoutMs, programs });
    })
    .inSingletonScope();
  bind<Networker>(TOKENS.Networker)
    .toResolvedValue((options: FakeBackendOptions, volumizer: FakeVolumizer) => new FakeNetworker(options, volumizer), [FAKE_OPTIONS, FAKE_VOLUMIZER])
    .inSingletonScope();
  bind<Depot>(TOKENS.Depot)
    .toResolvedValue(() => new InMemoryDepot())
    .inSingletonScope();
  bind<BackendCapabilities>(TOKENS.Capabilities).toConstantValue(FAKE_CAPABILITIES);
});
