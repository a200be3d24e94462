// The contract against the linux backend in-process, composed as arbord composes it, with the
// real LinuxNetworker (root only; scripts/setup.sh builds the native helpers and the default
// rootfs it needs).
import { linuxBackendModules } from '@arbor/backend-linux';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { capabilitiesOf } from './contract-setup';
import { describeBackendContract } from './describe-backend-contract';
import { startHostBackend } from './host-backend-contract-server';

if (process.getuid?.() === 0) {
  describeBackendContract(
    'linux (in-process)',
    { makeClient: (overrides) => startHostBackend('linux', linuxBackendModules, overrides) },
    capabilitiesOf(linuxBackendModules, [`raw://${DEFAULT_ROOTFS}`]),
  );
} else {
  describe.skip('linux (in-process): needs root', () => it('runs as root', () => undefined));
}
