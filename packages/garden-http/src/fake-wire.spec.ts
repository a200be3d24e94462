// The Garden wire suite on the fake backend in-process, over a unix socket and over TCP.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeBackendModule } from '@arbor/backend-fake';
import { fakeShellModule } from '@arbor/fake-shell';
import { composeBackend } from '@arbor/core';
import { describeGardenWire } from './describe-garden-wire.testkit';
import type { WireSetup } from './describe-garden-wire.testkit';
import { GardenHttpServer } from './garden-http-server';
import { listenGarden } from './listen-garden';
import type { GardenListenTarget } from './listen-garden';
import { attach, attachOutput, call, finishProcess, run } from './wire.testkit';

const UNATTACHED_WAIT_MS = 500;

async function startFake(kind: 'unix' | 'tcp'): Promise<WireSetup & { socketPath?: string }> {
  const { backend } = await composeBackend([fakeBackendModule, fakeShellModule], {});
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

describe('Garden HTTP front: lifecycle', () => {
  it('close detaches Run streams without killing the process: Attach on a new front gets its status', async () => {
    const { backend } = await composeBackend([fakeBackendModule, fakeShellModule], {});
    await backend.start();
    const dir = await mkdtemp(join(tmpdir(), 'garden-close-'));
    const open = async (name: string) => {
      const listener = await listenGarden(new GardenHttpServer(backend), { kind: 'unix', path: join(dir, name) });
      const path = listener.address.slice('unix://'.length);
      const target = {
        connect: () =>
          new Promise<ReturnType<typeof connect>>((resolve, reject) => {
            const socket = connect(path);
            socket.once('connect', () => resolve(socket));
            socket.once('error', reject);
          }),
      };
      return { listener, target };
    };
    try {
      const first = await open('one.sock');
      await call(first.target, 'POST', '/containers', { body: { handle: 'kept' } });
      const conn = await run(first.target, 'kept', { path: 'sh', args: ['-c', 'echo before; sleep 1; echo after; exit 3'] });
      const pid = String(conn.first['process_id']);
      const out = await attachOutput(first.target, 'kept', pid, String(conn.first['stream_id']), 'stdout');
      await out.reader.until('before\n');
      await first.listener.close(1000);
      expect(await conn.reader.line()).toBeNull();
      const second = await open('two.sock');
      const again = await attach(second.target, 'kept', pid);
      expect(again.response.status).toBe(200);
      const result = await finishProcess(second.target, 'kept', again);
      expect(result).toMatchObject({ stdout: 'after\n', exit: { process_id: pid, exit_status: 3 } });
      await second.listener.close(1000);
    } finally {
      await backend.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('cuts a connection that never finishes its request head', async () => {
    const { backend } = await composeBackend([fakeBackendModule, fakeShellModule], {});
    const dir = await mkdtemp(join(tmpdir(), 'garden-slow-'));
    const listener = await listenGarden(new GardenHttpServer(backend, { headTimeoutMs: 200 }), { kind: 'unix', path: join(dir, 'g.sock') });
    try {
      const socket = connect(listener.address.slice('unix://'.length));
      socket.write('GET /ping HTTP/1.1\r\nHost: api\r\n');
      const closed = await new Promise<boolean>((resolve) => {
        socket.once('close', () => resolve(true));
        setTimeout(() => resolve(false), 3000);
      });
      expect(closed).toBe(true);
    } finally {
      await listener.close(1000);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
