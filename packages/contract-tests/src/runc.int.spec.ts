// The contract against the runc backend in-process, composed as arbord composes it, with the
// real LinuxNetworker (root and a runc binary only; scripts/test.sh installs runc).
import { runcBackendModules } from '@arbor/backend-runc';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { capabilitiesOf } from './contract-setup';
import { describeBackendContract } from './describe-backend-contract';
import { startHostBackend } from './host-backend-contract-server';

if (process.getuid?.() === 0) {
  describeBackendContract(
    'runc (in-process)',
    { makeClient: (overrides) => startHostBackend('runc', runcBackendModules, overrides) },
    capabilitiesOf(runcBackendModules, [`raw://${DEFAULT_ROOTFS}`]),
  );
} else {
  describe.skip('runc (in-process): needs root', () => it('runs as root', () => undefined));
}
