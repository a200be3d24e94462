// The contract against the runc backend in-process, composed as arbord composes it, with the
// real LinuxNetworker (root and a runc binary; scripts/test.sh installs runc).
import { runcBackendModules } from '@arbor/backend-runc';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { describeIf } from '@arbor/testkit';
import { capabilitiesOf } from './contract-setup';
import { describeBackendContract } from './describe-backend-contract';
import { startHostBackend } from './host-backend-contract-server';

describeIf({ root: true, runc: true })('runc backend in-process', () => {
  describeBackendContract(
    'runc (in-process)',
    { makeClient: (overrides) => startHostBackend('runc', runcBackendModules, overrides) },
    capabilitiesOf(runcBackendModules, [`raw://${DEFAULT_ROOTFS}`]),
  );
});
