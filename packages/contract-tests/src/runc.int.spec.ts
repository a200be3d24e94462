// The contract against the runc backend in-process, composed as arbord composes it, with the
// real LinuxNetworker (root and a runc binary; scripts/test.sh installs runc): unprivileged
// containers in user namespaces (the default), then the privileged subset.
import { runcBackendModules } from '@arbor/backend-runc';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { describeIf } from '@arbor/testkit';
import { capabilitiesOf } from './contract-setup';
import { describeBackendContract, describePrivilegedContract } from './describe-backend-contract';
import { startHostBackend } from './host-backend-contract-server';

describeIf({ root: true, runc: true })('runc backend in-process', () => {
  const setup = { makeClient: (overrides: object) => startHostBackend('runc', runcBackendModules, overrides) };
  const capabilities = capabilitiesOf(runcBackendModules, [`raw://${DEFAULT_ROOTFS}`]);
  describeBackendContract('runc (in-process)', setup, capabilities);
  describePrivilegedContract('runc (in-process)', setup, 'in-process');
});
