// The contract against arbord with the linux backend over a unix socket (root).
import { linuxBackendModules } from '@arbor/backend-linux';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { describeIf } from '@arbor/testkit';
import { startArbordContractServer } from './arbord-contract-server';
import { capabilitiesOf } from './contract-setup';
import { describeBackendContract, describePrivilegedContract } from './describe-backend-contract';

describeIf({ root: true })('arbord with the linux backend', () => {
  const setup = { makeClient: (overrides: object) => startArbordContractServer('linux', overrides) };
  // Restart is covered in-process (linux.int.spec.ts) and by a kill -9 of a separate process
  // (backend-linux's namespace-containerizer.int.spec.ts): a second arbord in this jest
  // process would share the first one's process channels.
  const capabilities = { ...capabilitiesOf(linuxBackendModules, [`raw://${DEFAULT_ROOTFS}`]), survivesRestart: false };
  describeBackendContract('linux over gRPC', setup, capabilities);
  describePrivilegedContract('linux over gRPC', setup, 'grpc');
});
