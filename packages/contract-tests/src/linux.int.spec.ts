// The contract against the linux backend in-process, with the real LinuxNetworker (root only;
// scripts/setup.sh builds the native helpers and the default rootfs it needs).
import { createLinuxBackend } from '@arbor/backend-linux';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { describeBackendContract } from './describe-backend-contract';
import { startHostBackend } from './host-backend-contract-server';
import { LINUX_CAPABILITIES } from './linux-capabilities';

if (process.getuid?.() === 0) {
  describeBackendContract('linux (in-process)', { makeClient: (overrides) => startHostBackend('linux', createLinuxBackend, overrides) }, {
    ...LINUX_CAPABILITIES,
    images: [`raw://${DEFAULT_ROOTFS}`],
  });
} else {
  describe.skip('linux (in-process): needs root', () => it('runs as root', () => undefined));
}
