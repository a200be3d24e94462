// The contract against the runc backend in-process, with the real LinuxNetworker (root and a
// runc binary only; scripts/test.sh installs runc).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuncBackend } from '@arbor/backend-runc';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { LinuxNetworker } from '@arbor/network';
import { describeBackendContract } from './describe-backend-contract';
import type { BackendOverrides, ContractServer } from './contract-setup';
import { LINUX_CAPABILITIES } from './linux-capabilities';

async function startRunc(overrides: BackendOverrides): Promise<ContractServer> {
  const stateDir = await mkdtemp(join(tmpdir(), 'arbor-contract-runc-'));
  // start makes a fresh backend over the same state dir: a restart of arbord
  const start = async () => {
    const backend = createRuncBackend({
      stateDir,
      defaultRootfs: '',
      ...overrides,
      networker: new LinuxNetworker({
        ...(overrides.networkPool !== undefined && { networkPool: overrides.networkPool }),
        ...(overrides.portPoolStart !== undefined && { portPoolStart: overrides.portPoolStart }),
        ...(overrides.portPoolSize !== undefined && { portPoolSize: overrides.portPoolSize }),
      }),
    });
    await backend.start();
    return backend;
  };
  let backend = await start();
  return {
    get client() {
      return backend;
    },
    stopTimeoutMs: overrides.stopTimeoutMs ?? 10_000,
    connect: async () => ({ client: backend, close: async () => undefined }),
    restart: async () => {
      await backend.stop();
      backend = await start();
      return backend;
    },
    close: async () => {
      const left = await backend.containers();
      await Promise.allSettled(left.map((c) => backend.destroy(c.handle)));
      await backend.stop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

if (process.getuid?.() === 0) {
  // the runc backend shares the linux backend's volumes, network and process supervision,
  // so it promises the same
  describeBackendContract('runc (in-process)', { makeClient: startRunc }, {
    ...LINUX_CAPABILITIES,
    images: [`raw://${DEFAULT_ROOTFS}`],
  });
} else {
  describe.skip('runc (in-process): needs root', () => it('runs as root', () => undefined));
}
