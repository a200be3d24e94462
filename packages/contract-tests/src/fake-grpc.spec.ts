import { fakeBackendModule } from '@arbor/backend-fake';
import { startArbordContractServer } from './arbord-contract-server';
import { capabilitiesOf } from './contract-setup';
import { describeBackendContract } from './describe-backend-contract';

describeBackendContract(
  'fake over gRPC',
  {
    // arbord --no-fake-shell: the contract's own model, probes only (fakeShell rides along with
    // the overrides, which arbord's config takes whole)
    makeClient: (overrides) => startArbordContractServer('fake', { ...overrides, fakeShell: false }),
  },
  capabilitiesOf(fakeBackendModule, []),
);
