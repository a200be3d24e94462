// What the runc backend's integration specs share: the backend composed as arbord composes it.
import { ContainerModule } from 'inversify';
import { TOKENS, composeBackend } from '@arbor/core';
import type { Containerizer, Gardener } from '@arbor/core';
import { loopbackOnlyNetworkerModule } from '@arbor/host';
import type { RuncBackendConfig } from '../runc-backend-config';
import { runcBackendModules } from '../runc-backend-module';

export { runToEnd } from '@arbor/host/testing';

/**
 * runcBackendFor composes the runc backend as arbord does, over stateDir, with a
 * LoopbackOnlyNetworker (no host network changes); containerizer, when given, replaces the
 * backend's own (a test that also calls it directly). Call start() first.
 */
export async function runcBackendFor(stateDir: string, overrides: Partial<RuncBackendConfig> = {}, containerizer?: Containerizer): Promise<Gardener> {
  const config: RuncBackendConfig = { stateDir, defaultRootfs: '', ...overrides };
  const own = containerizer && new ContainerModule(({ rebindSync }) => void rebindSync<Containerizer>(TOKENS.Containerizer).toConstantValue(containerizer));
  const { backend } = await composeBackend(runcBackendModules, config, { overrides: [loopbackOnlyNetworkerModule, ...(own ? [own] : [])] });
  return backend;
}
