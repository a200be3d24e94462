import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GrpcClient } from '@arbor/client';
import { freeTestNetwork, networkArgs, type TestNetwork } from '../helpers/test-network';

const ARBORD = resolve(__dirname, '..', '..', '..', 'server', 'dist', 'main.js');

/** HOST_BACKENDS are the real backends this host can run: linux, and runc where runc is installed. */
export const HOST_BACKENDS: string[] = ['linux', ...(spawnSync('runc', ['--version']).status === 0 ? ['runc'] : [])];

/** describeRoot runs a block only as root (namespaces, cgroups); elsewhere it is skipped. */
export const describeRoot: jest.Describe = process.getuid?.() === 0 ? describe : describe.skip;

/**
 * RealArbord is the real arbord binary (packages/server/dist/main.js) running as a child
 * process over a fresh state dir: what a hostile request must not end or wedge.
 */
export interface RealArbord {
  client: GrpcClient;
  /** dir is like /tmp/arbor-hostile-linux-XXXX; the socket and state dir live in it. */
  dir: string;
  stateDir: string;
  /** alive says the arbord process has not exited. */
  alive(): boolean;
  /** pid is arbord's host pid. */
  pid: number;
  /** network is its tag and pools, like tag 'x' and 10.252.76.0/22: its own, apart from any running arbord's. */
  network: TestNetwork;
  /** terminate ends arbord with TERM, as systemd stops it, and keeps dir: containers stay for the next start over it. */
  terminate(): Promise<void>;
  /** stop destroys every container left, ends arbord with TERM and removes dir. */
  stop(): Promise<void>;
}

export interface RealArbordOptions {
  /** network is the tag and pools to start with; by default a free one (freeTestNetwork). */
  network?: TestNetwork;
  /** dir is the dir of an arbord that ran before (RealArbord.dir): its socket and state dir are reused. */
  dir?: string;
}

/**
 * startRealArbord starts arbord on a unix socket in a temp dir and waits until it answers a
 * Ping. extraArgs go to arbord as they are (like ['--default-grace-time', '0']), after the
 * flags of its own tag and pools, so that it never touches the links, chains and cgroups of
 * another test's arbord or of one running on this host.
 */
export async function startRealArbord(backend: string, extraArgs: string[] = [], options: RealArbordOptions = {}): Promise<RealArbord> {
  if (!existsSync(ARBORD)) throw new Error(`${ARBORD} is missing: build @arbor/server first`);
  const network = options.network ?? (await freeTestNetwork());
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `arbor-hostile-${backend}-`)));
  const socket = join(dir, 'arbord.sock');
  const stateDir = join(dir, 'state');
  const child: ChildProcess = spawn(
    process.execPath,
    [ARBORD, '--backend', backend, '--listen', `unix://${socket}`, '--state-dir', stateDir, '--log-level', 'error', ...networkArgs(network), ...extraArgs],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + 20_000;
  let client: GrpcClient;
  for (;;) {
    try {
      client = await GrpcClient.connect(`unix://${socket}`);
      await client.ping();
      break;
    } catch (err) {
      if (Date.now() > deadline || exited) {
        child.kill('SIGKILL');
        throw err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const connected = client;
  const terminate = async (): Promise<void> => {
    if (exited) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  return {
    client: connected,
    dir,
    stateDir,
    pid: child.pid ?? 0,
    network,
    alive: () => !exited,
    terminate: async () => {
      await terminate();
      connected.close();
    },
    stop: async () => {
      if (!exited) {
        const left = await connected.containers().catch(() => []);
        await Promise.allSettled(left.map((c) => connected.destroy(c.handle)));
        await terminate();
      }
      connected.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** expectAlive checks that arbord still runs and still answers a Ping: what every hostile test ends with. */
export async function expectAlive(arbord: RealArbord): Promise<void> {
  expect(arbord.alive()).toBe(true);
  await expect(arbord.client.ping()).resolves.not.toThrow();
}
