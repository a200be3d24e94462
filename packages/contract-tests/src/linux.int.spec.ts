// The contract against the linux backend in-process, composed as arbord composes it, with the
// real LinuxNetworker (root; scripts/setup.sh builds the native helpers and the default
// rootfs it needs). ARBOR_TEST_USERNS=1 runs it with userns.enabled: every unprivileged
// container in a user namespace of its own id range.
import { linuxBackendModules } from '@arbor/backend-linux';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { describeIf } from '@arbor/testkit';
import { capabilitiesOf } from './contract-setup';
import { describeBackendContract } from './describe-backend-contract';
import { startHostBackend } from './host-backend-contract-server';

/** userns is the server's userns section for ARBOR_TEST_USERNS=1, a pool of its own; absent otherwise. */
const userns = process.env.ARBOR_TEST_USERNS === '1' ? { enabled: true, base: 2_000_000_000, size: 1024 * 65536, perContainer: 65536 } : undefined;

describeIf({ root: true })(`linux backend in-process${userns ? ' (userns)' : ''}`, () => {
  describeBackendContract(
    userns ? 'linux (in-process, userns)' : 'linux (in-process)',
    { makeClient: (overrides) => startHostBackend('linux', linuxBackendModules, Object.assign({}, overrides, userns && { userns })) },
    capabilitiesOf(linuxBackendModules, [`raw://${DEFAULT_ROOTFS}`]),
  );
});
