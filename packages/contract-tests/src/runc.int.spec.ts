// The contract against the runc backend in-process, with the real LinuxNetworker (root and a
// runc binary only; scripts/test.sh installs runc).
import { createRuncBackend } from '@arbor/backend-runc';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { describeBackendContract } from './describe-backend-contract';
import { startHostBackend } from './host-backend-contract-server';
import { LINUX_CAPABILITIES } from './linux-capabilities';

if (process.getuid?.() === 0) {
  // the runc backend shares the linux backend's volumes, network and process supervision,
  // so it promises the same
  describeBackendContract('runc (in-process)', { makeClient: (overrides) => startHostBackend('runc', createRuncBackend, overrides) }, {
    ...LINUX_CAPABILITIES,
    images: [`raw://${DEFAULT_ROOTFS}`],
  });
} else {
  describe.skip('runc (in-process): needs root', () => it('runs as root', () => undefined));
}
