import { TOKENS } from '@arbor/core';
import type { BackendCapabilities, Containerizer, Depot, GardenerSettings, Networker, Volumizer } from '@arbor/core';
import { ContainerModule, type ResolutionContext } from 'inversify';
import { FakeContainerizer, type FakeContainerizerOptions } from './fake-containerizer';
import { FakeNetworker, type FakeNetworkerOptions } from './fake-networker';
import { FakeVolumizer } from './fake-volumizer';
import { InMemoryDepot } from './in-memory-depot';
import type { ProgramRunner } from './process/program-runner';

/** FAKE_VOLUMIZER binds the FakeVolumizer itself: the FakeContainerizer reads its filesystems. */
const FAKE_VOLUMIZER = Symbol.for('@arbor/backend-fake/FakeVolumizer');
/**
 * FAKE_PROGRAM_RUNNER binds the ProgramRunner the fake's containers exec from, when another
 * module binds one (like @arbor/fake-shell's fakeShellModule); unbound, they run probes only.
 */
export const FAKE_PROGRAM_RUNNER = Symbol.for('@arbor/backend-fake/ProgramRunner');

/**
 * FakeBackendConfig is what the fake backend reads from TOKENS.BackendConfig; each port reads
 * its own fields, with its own defaults, and ignores the rest (the server's config is passed whole).
 */
export type FakeBackendConfig = FakeNetworkerOptions & Pick<FakeContainerizerOptions, 'maxContainers' | 'stopTimeoutMs'> & GardenerSettings;

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

const configOf = (context: ResolutionContext): FakeBackendConfig | undefined => context.get(TOKENS.BackendConfig, { optional: true });

/**
 * fakeBackendModule binds the fake ports (Containerizer, Networker, Volumizer, Depot) as
 * singletons, configured from TOKENS.BackendConfig when it is bound (a FakeBackendConfig),
 * and TOKENS.Capabilities; its containers run the ProgramRunner bound to FAKE_PROGRAM_RUNNER,
 * or PROBE_PROGRAMS. composeBackend(fakeBackendModule, config) is a whole in-memory Arbor
 * backend, for in-process use and the contract suite.
 */
export const fakeBackendModule = new ContainerModule(({ bind }) => {
  bind<FakeVolumizer>(FAKE_VOLUMIZER)
    .toResolvedValue(() => new FakeVolumizer())
    .inSingletonScope();
  bind<Volumizer>(TOKENS.Volumizer).toService(FAKE_VOLUMIZER);
  bind<Containerizer>(TOKENS.Containerizer)
    .toDynamicValue((context) => {
      const volumizer = context.get<FakeVolumizer>(FAKE_VOLUMIZER);
      const config = configOf(context);
      const programs = context.get<ProgramRunner | undefined>(FAKE_PROGRAM_RUNNER, { optional: true });
      return new FakeContainerizer(volumizer, { maxContainers: config?.maxContainers, stopTimeoutMs: config?.stopTimeoutMs, programs });
    })
    .inSingletonScope();
  bind<Networker>(TOKENS.Networker)
    .toDynamicValue((context) => new FakeNetworker(configOf(context), context.get<FakeVolumizer>(FAKE_VOLUMIZER)))
    .inSingletonScope();
  bind<Depot>(TOKENS.Depot)
    .toResolvedValue(() => new InMemoryDepot())
    .inSingletonScope();
  bind<BackendCapabilities>(TOKENS.Capabilities).toConstantValue(FAKE_CAPABILITIES);
});
