import { Gardener, SystemClock, UuidHandleGenerator, silentLogger } from '@arbor/core';
import type { Backend, Clock, Logger } from '@arbor/core';
import { FakeContainerizer } from './fake-containerizer';
import { FakeNetworker } from './fake-networker';
import { FakeVolumizer } from './fake-volumizer';
import { resolveFakeBackendOptions, type FakeBackendOptions } from './fake-backend-options';
import { InMemoryDepot } from './in-memory-depot';

export type CreateFakeBackendOptions = Partial<FakeBackendOptions> & {
  clock?: Clock;
  logger?: Logger;
  /** defaultGraceTimeMs applies to containers created without one; default 0 (never reaped). */
  defaultGraceTimeMs?: number;
  /** defaultPidLimit is the pid limit of containers created without one; default 0 (none). */
  defaultPidLimit?: number;
};

/**
 * createFakeBackend builds a Gardener over fresh fake ports: a whole in-memory Arbor
 * backend, for in-process use and the contract suite. Call start() before use, as for any
 * Backend.
 */
export function createFakeBackend(options: CreateFakeBackendOptions = {}): Backend {
  const resolved = resolveFakeBackendOptions(options);
  const volumizer = new FakeVolumizer();
  return new Gardener({
    containerizer: new FakeContainerizer(volumizer, { maxContainers: resolved.maxContainers, stopTimeoutMs: resolved.stopTimeoutMs }),
    networker: new FakeNetworker(resolved, volumizer),
    volumizer,
    depot: new InMemoryDepot(),
    handleGenerator: new UuidHandleGenerator(),
    clock: options.clock ?? new SystemClock(),
    logger: options.logger ?? silentLogger,
    config: { defaultGraceTimeMs: options.defaultGraceTimeMs ?? 0, maxContainers: 0, defaultPidLimit: options.defaultPidLimit ?? 0 },
  });
}
