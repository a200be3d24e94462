import { createFakeBackend } from '@arbor/backend-fake';
import { describeBackendContract } from './describe-backend-contract';
import type { BackendOverrides, ContractServer } from './contract-setup';

// The fake keeps everything in memory: limits are recorded, not enforced; there is no real
// network, no namespaces, and nothing outlives the process.
async function startFake(overrides: BackendOverrides): Promise<ContractServer> {
  const backend = createFakeBackend({ ...overrides });
  await backend.start();
  return {
    client: backend,
    stopTimeoutMs: overrides.stopTimeoutMs ?? 10_000,
    // in-process, another client is the same backend; closing it detaches nothing
    connect: async () => ({ client: backend, close: async () => undefined }),
    close: async () => {
      const left = await backend.containers();
      await Promise.allSettled(left.map((c) => backend.destroy(c.handle)));
      await backend.stop();
    },
  };
}

describeBackendContract(
  'fake (in-process)',
  { makeClient: startFake },
  { enforcesLimits: false, enforcesDiskLimits: true, realNetwork: false, isolation: false, survivesRestart: false, images: [] },
);
