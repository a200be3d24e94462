// testBackend composes the linux backend for the integration tests and restart-child (which
// runs outside jest, so this file uses nothing of jest's).
import { ContainerModule } from 'inversify';
import { TOKENS, composeBackend } from '@arbor/core';
import type { Containerizer, Gardener } from '@arbor/core';
import { loopbackOnlyNetworkerModule } from '@arbor/host';
import type { LinuxBackendConfig } from '../linux-backend-config';
import { linuxBackendModules } from '../linux-backend-module';

/**
 * backendFor composes the linux backend as arbord does, over stateDir, with a 1 s stop
 * timeout and a LoopbackOnlyNetworker (no host network changes); containerizer, when given,
 * replaces the backend's own (a test that also calls it directly). Call start() first.
 */
export async function backendFor(stateDir: string, overrides: Partial<LinuxBackendConfig> = {}, containerizer?: Containerizer): Promise<Gardener> {
  const config: LinuxBackendConfig = { stateDir, defaultRootfs: '', stopTimeoutMs: 1000, ...overrides };
  const own = containerizer && new ContainerModule(({ rebindSync }) => void rebindSync<Containerizer>(TOKENS.Containerizer).toConstantValue(containerizer));
  const { backend } = await composeBackend(linuxBackendModules, config, { overrides: [loopbackOnlyNetworkerModule, ...(own ? [own] : [])] });
  return backend;
}
