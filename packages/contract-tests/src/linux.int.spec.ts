// The contract against the linux backend in-process, composed as arbord composes it, with the
// real LinuxNetworker (root; scripts/setup.sh builds the native helpers and the default
// rootfs it needs): unprivileged containers in user namespaces (the default), then the
// privileged subset, whose containers' root is the host's.
import { linuxBackendModules } from '@arbor/backend-linux';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { describeIf } from '@arbor/testkit';
import { capabilitiesOf } from './contract-setup';
import { describeBackendContract, describePrivilegedContract } from './describe-backend-contract';
import { startHostBackend } from './host-backend-contract-server';

describeIf({ root: true })('linux backend in-process', () => {
  const setup = { makeClient: (overrides: object) => startHostBackend('linux', linuxBackendModules, overrides) };
  const capabilities = capabilitiesOf(linuxBackendModules, [`raw://${DEFAULT_ROOTFS}`]);
  describeBackendContract('linux (in-process)', setup, capabilities);
  describePrivilegedContract('linux (in-process)', setup, 'in-process');
});
