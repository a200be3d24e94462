// The contract against arbord with the runc backend over a unix socket (root only).
import { DEFAULT_ROOTFS } from '@arbor/images';
import { startArbordContractServer } from './arbord-contract-server';
import { describeBackendContract } from './describe-backend-contract';
import { LINUX_CAPABILITIES } from './linux-capabilities';

if (process.getuid?.() === 0) {
  describeBackendContract(
    'runc over gRPC',
    { makeClient: (overrides) => startArbordContractServer('runc', overrides) },
    // Restart is covered in-process (runc.int.spec.ts) and by a kill -9 of a separate arbord
    // (backend-runc's runc-containerizer.int.spec.ts).
    { ...LINUX_CAPABILITIES, survivesRestart: false, images: [`raw://${DEFAULT_ROOTFS}`] },
  );
} else {
  describe.skip('runc over gRPC: needs root', () => it('runs as root', () => undefined));
}
