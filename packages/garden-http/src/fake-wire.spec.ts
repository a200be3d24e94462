// The Garden wire suite on the fake backend in-process, over a unix socket and over TCP.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeBackend } from '@arbor/backend-fake';
import { describeGardenWire } from './describe-garden-wire.testkit';
import type { WireSetup } from './describe-garden-wire.testkit';
import { GardenHttpServer } from './garden-http-server';
import { listenGarden } from './listen-garden';
import type { GardenListenTarget } from './listen-garden';
import { call } from './wire.testkit';

const UNATTACHED_WAIT_MS = 500;

async function startFake(kind: 'unix' | 'tcp'): Promise<WireSetup & { socketPath?: string }> {
  const backend = createFakeBackend({});
  await backend.start();
  const front = new GardenHttpServer(backend, { unattachedWaitMs: UNATTACHED_WAIT_MS });
  const dir = await mkdtemp(join(tmpdir(), 'garden-wire-'));
  const target: GardenListenTarget = kind === 'unix' ? { kind, path: join(dir, 'garden.sock') } : { kind, host: '127.0.0.1', port: 0 };
  const listener = await listenGarden(front, target);
  const url = new URL(listener.address.replace('unix://', 'unix://x'));
  const connectTo = (): ReturnType<typeof connect> =>
    kind === 'unix' ? connect(listener.address.slice('unix://'.length)) : connect(Number(url.port), '127.0.0.1');
  return {
    ...(kind === 'unix' && { socketPath: listener.address.slice('unix://'.length) }),
    target: {
      connect: () =>
        new Promise((resolve, reject) => {
          const socket = connectTo();
          socket.once('connect', () => resolve(socket));
          socket.once('error', reject);
        }),
    },
    close: async () => {
      await listener.close(1000);
      await backend.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describeGardenWire('fake over a unix socket', () => startFake('unix'), { unattachedWaitMs: UNATTACHED_WAIT_MS });
describeGardenWire('fake over TCP', () => startFake('tcp'), { unattachedWaitMs: UNATTACHED_WAIT_MS });

describe('Garden HTTP front: listening', () => {
  it('makes its unix socket 0600, and removes it on close', async () => {
    const s = await startFake('unix');
    const path = s.socketPath ?? '';
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await call(s.target, 'GET', '/ping')).status).toBe(200);
    await s.close();
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });
});
