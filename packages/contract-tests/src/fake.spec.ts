import { fakeBackendModule } from '@arbor/backend-fake';
import { composeBackend } from '@arbor/core';
import { FAKE_POOLS, capabilitiesOf, poolSettings, poolsOf } from './contract-setup';
import type { BackendOverrides, ContractServer } from './contract-setup';
import { describeBackendContract } from './describe-backend-contract';

// The fake composed as arbord composes it, in-process, without the demo shell: the contract's
// own model, whose processes run the suite's probes and nothing else.
async function startFake(overrides: BackendOverrides): Promise<ContractServer> {
  const pools = poolsOf(FAKE_POOLS, overrides);
  const { backend } = await composeBackend(fakeBackendModule, { ...poolSettings(pools), ...overrides });
  await backend.start();
  return {
    client: backend,
    stopTimeoutMs: overrides.stopTimeoutMs ?? 10_000,
    pools,
    // in-process, another client is the same backend; closing it detaches nothing
    connect: async () => ({ client: backend, close: async () => undefined }),
    close: async () => {
      const left = await backend.containers();
      await Promise.allSettled(left.map((c) => backend.destroy(c.handle)));
      await backend.stop();
    },
  };
}

describeBackendContract('fake (in-process)', { makeClient: startFake }, capabilitiesOf(fakeBackendModule, []));
