// The contract against arbord with the runc backend over a unix socket (root and a runc binary).
import { runcBackendModules } from '@arbor/backend-runc';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { describeIf } from '@arbor/testkit';
import { startArbordContractServer } from './arbord-contract-server';
import { capabilitiesOf } from './contract-setup';
import { describeBackendContract, describePrivilegedContract } from './describe-backend-contract';

describeIf({ root: true, runc: true })('arbord with the runc backend', () => {
  const setup = { makeClient: (overrides: object) => startArbordContractServer('runc', overrides) };
  // Restart is covered in-process (runc.int.spec.ts) and by a kill -9 of a separate arbord
  // (backend-runc's runc-runtime.int.spec.ts).
  const capabilities = { ...capabilitiesOf(runcBackendModules, [`raw://${DEFAULT_ROOTFS}`]), survivesRestart: false };
  describeBackendContract('runc over gRPC', setup, capabilities);
  describePrivilegedContract('runc over gRPC', setup, 'grpc');
});
