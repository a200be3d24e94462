import { fakeBackendModule } from '@arbor/backend-fake';
import { startArbordContractServer } from './arbord-contract-server';
import { capabilitiesOf } from './contract-setup';
import { describeBackendContract } from './describe-backend-contract';

// The fake gets its demo shell until every contract area asks through probes (#14);
// ARBOR_CONTRACT_FAKE_SHELL=false runs the suite on the contract's model, probes only.
const FAKE_SHELL = process.env['ARBOR_CONTRACT_FAKE_SHELL'] !== 'false';

describeBackendContract(
  'fake over gRPC',
  {
    makeClient: (overrides) => {
      // arbord's config key fakeShell rides along with the overrides, which arbord's config takes whole
      const config = { ...overrides, fakeShell: FAKE_SHELL };
      return startArbordContractServer('fake', config);
    },
  },
  capabilitiesOf(fakeBackendModule, []),
);
