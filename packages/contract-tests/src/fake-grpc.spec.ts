import { fakeBackendModule } from '@arbor/backend-fake';
import { startArbordContractServer } from './arbord-contract-server';
import { capabilitiesOf } from './contract-setup';
import { describeBackendContract } from './describe-backend-contract';

describeBackendContract('fake over gRPC', { makeClient: (overrides) => startArbordContractServer('fake', overrides) }, capabilitiesOf(fakeBackendModule, []));
