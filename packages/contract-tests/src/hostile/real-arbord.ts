import type { StdioOptions } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcClient } from '@arbor/client';
import { startArbordProcess } from '@arbor/testkit';
import { freeTestNetwork, networkArgs, type TestNetwork } from '../helpers/test-network';

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
  /** ping is a Ping over gRPC (for expectAlive of @arbor/testkit). */
  ping(): Promise<void>;
  /** pid is arbord's host pid. */
  pid: number;
  /** network is its tag and pools, like tag 'x' and 10.252.76.0/22: its own, apart from any running arbord's. */
  network: TestNetwork;
  /** terminate ends arbord with TERM, as systemd stops it, and keeps dir: containers stay for the next start over it. */
  terminate(): Promise<void>;
  /** kill ends arbord with KILL, as a crash would, and keeps dir, like terminate. */
  kill(): Promise<void>;
  /** stop destroys every container left, ends arbord with TERM and removes dir. */
  stop(): Promise<void>;
}

export interface RealArbordOptions {
  /** network is the tag and pools to start with; by default a free one (freeTestNetwork). */
  network?: TestNetwork;
  /** dir is the dir of an arbord that ran before (RealArbord.dir): its socket and state dir are reused. */
  dir?: string;
  /** stdio is arbord's (see startArbordProcess), like one with a pipe on fd 9 that a careless parent leaks to it. */
  stdio?: StdioOptions;
  /**
   * userns sets userns.enabled (through a config file in dir: the flag can only turn it on);
   * absent, arbord's default holds.
   */
  userns?: boolean;
}

/**
 * startRealArbord starts arbord on a unix socket in a temp dir and waits until it answers a
 * Ping. extraArgs go to arbord as they are (like ['--default-grace-time', '0']), after the
 * flags of its own tag and pools, so that it never touches the links, chains and cgroups of
 * another test's arbord or of one running on this host.
 */
export async function startRealArbord(backend: string, extraArgs: string[] = [], options: RealArbordOptions = {}): Promise<RealArbord> {
  const network = options.network ?? (await freeTestNetwork());
  let dir = options.dir;
  if (dir === undefined) {
    dir = await mkdtemp(join(tmpdir(), `arbor-hostile-${backend}-`));
    // the state dir is under it: a container's root in a user namespace must search it to reach its rootfs
    await chmod(dir, 0o711);
  }
  const socket = join(dir, 'arbord.sock');
  const stateDir = join(dir, 'state');
  const configArgs: string[] = [];
  if (options.userns !== undefined) {
    const config = join(dir, 'arbord.yaml');
    await writeFile(config, `userns:\n  enabled: ${options.userns}\n`);
    configArgs.push('--config', config);
  }
  const { arbord, ready: client } = await startArbordProcess({
    args: [
      '--backend',
      backend,
      '--listen',
      `unix://${socket}`,
      '--state-dir',
      stateDir,
      '--log-level',
      'error',
      ...networkArgs(network),
      ...configArgs,
      ...extraArgs,
    ],
    ...(options.stdio === undefined ? {} : { stdio: options.stdio }),
    ready: async () => {
      const client = await GrpcClient.connect(`unix://${socket}`);
      try {
        await client.ping();
        return client;
      } catch (err) {
        client.close();
        throw err;
      }
    },
  });
  return {
    client,
    dir,
    stateDir,
    pid: arbord.pid,
    network,
    alive: () => arbord.alive(),
    ping: () => client.ping(),
    terminate: async () => {
      await arbord.terminate();
      client.close();
    },
    kill: async () => {
      await arbord.kill();
      client.close();
    },
    stop: async () => {
      if (arbord.alive()) {
        const left = await client.containers().catch(() => []);
        await Promise.allSettled(left.map((c) => client.destroy(c.handle)));
        await arbord.terminate();
      }
      client.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
