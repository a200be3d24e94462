import { fakeBackendModule } from '@arbor/backend-fake';
import { composeBackend } from '@arbor/core';
import { fakeShellModule } from '@arbor/fake-shell';
import { capabilitiesOf } from './contract-setup';
import type { BackendOverrides, ContractServer } from './contract-setup';
import { describeBackendContract } from './describe-backend-contract';

// The fake gets its demo shell until every contract area asks through probes (#14);
// ARBOR_CONTRACT_FAKE_SHELL=false runs the suite on the contract's model, probes only.
const FAKE_SHELL = process.env['ARBOR_CONTRACT_FAKE_SHELL'] !== 'false';

// The fake composed as arbord composes it, in-process: what it can do comes from its module;
// with fakeShell, beside @arbor/fake-shell's module, as arbord's registry gives it.
async function startFake(overrides: BackendOverrides): Promise<ContractServer> {
  const modules = FAKE_SHELL ? [fakeBackendModule, fakeShellModule] : fakeBackendModule;
  const { backend } = await composeBackend(modules, { ...overrides });
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

describeBackendContract('fake (in-process)', { makeClient: startFake }, capabilitiesOf(fakeBackendModule, []));
