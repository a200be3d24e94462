import { startArbordContractServer } from './arbord-contract-server';
import { describeBackendContract } from './describe-backend-contract';

describeBackendContract(
  'fake over gRPC',
  { makeClient: (overrides) => startArbordContractServer('fake', overrides) },
  { enforcesLimits: false, enforcesDiskLimits: true, realNetwork: false, isolation: false, survivesRestart: false, images: [] },
);
