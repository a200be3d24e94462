// A real arbord (packages/server/dist/main.js) with --garden-listen, as a child process over
// a fresh state dir (started by @arbor/testkit's startArbordProcess), with Garden's HTTP
// front beside gRPC.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { ContainerSpec, GardenClient } from '@arbor/proto';
import type { GetPropertiesResponse, ListResponse } from '@arbor/proto';
import { ARBORD_MAIN, startArbordProcess } from '@arbor/testkit';
import type { WireTarget } from './wire.testkit';
import { call } from './wire.testkit';

/**
 * OWN_NETWORK keeps these arbords' links, chains, addresses and ports apart from other
 * arbords on the host (other suites run theirs at the same time): --tag where this arbord
 * has it, and a pool of addresses and ports of their own.
 */
function ownNetwork(): string[] {
  const help = existsSync(ARBORD_MAIN) ? spawnSync(process.execPath, [ARBORD_MAIN, '--help']).stdout.toString() : '';
  return [
    ...(help.includes('--tag') ? ['--tag', 'g'] : []),
    ...['--network-pool', '10.251.0.0/22', '--port-pool-start', '51001', '--port-pool-size', '1000'],
    // user-namespace ids of their own, apart from arbord's default pool and the contract suite's
    ...(help.includes('--userns-base') ? ['--userns-base', '3800000000', '--userns-size', String(256 * 65536)] : []),
  ];
}

export interface RealArbord {
  /** garden dials Garden's HTTP front. */
  garden: WireTarget;
  /** grpc is the generated client of the same arbord over gRPC (not @arbor/client, which builds after this package). */
  grpc: GrpcCalls;
  /** gardenListen is what --garden-listen was, like unix:///tmp/arbor-garden-linux-XXXX/garden.sock. */
  gardenListen: string;
  alive(): boolean;
  /** ping is Garden's GET /ping (for expectAlive of @arbor/testkit); it rejects unless the answer is 200. */
  ping(): Promise<void>;
  stop(): Promise<void>;
}

/** freePort asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function dial(open: () => Socket): Promise<Socket> {
  return new Promise((resolveSocket, reject) => {
    const socket = open();
    socket.once('connect', () => resolveSocket(socket));
    socket.once('error', reject);
  });
}

/**
 * startRealArbord starts arbord for backend with Garden's HTTP on a unix socket, or on TCP
 * (plaintext on 127.0.0.1, with --insecure-tcp) when transport is 'tcp', and waits until
 * GET /ping answers.
 */
export async function startRealArbord(backend: string, transport: 'unix' | 'tcp' = 'unix', extraArgs: string[] = []): Promise<RealArbord> {
  const dir = await mkdtemp(join(tmpdir(), `arbor-garden-${backend}-`));
  // searchable by others, as the dirs above a state dir must be for user-namespace containers on runc
  await chmod(dir, 0o711);
  const socket = join(dir, 'arbord.sock');
  const port = transport === 'tcp' ? await freePort() : 0;
  const gardenListen = transport === 'tcp' ? `tcp://127.0.0.1:${port}` : `unix://${join(dir, 'garden.sock')}`;
  const garden: WireTarget = {
    connect: () => dial(() => (transport === 'tcp' ? connect(port, '127.0.0.1') : connect(gardenListen.slice('unix://'.length)))),
  };
  const ping = async (): Promise<void> => {
    const { status } = await call(garden, 'GET', '/ping');
    if (status !== 200) throw new Error(`GET /ping answered ${status}`);
  };
  const { arbord } = await startArbordProcess({
    args: [
      '--backend',
      backend,
      '--listen',
      `unix://${socket}`,
      '--garden-listen',
      gardenListen,
      ...(transport === 'tcp' ? ['--insecure-tcp'] : []),
      '--state-dir',
      join(dir, 'state'),
      '--log-level',
      'error',
      ...(backend === 'fake' ? [] : ownNetwork()),
      ...extraArgs,
    ],
    ready: ping,
  });
  const grpc = grpcCalls(`unix://${socket}`);
  return {
    garden,
    grpc,
    gardenListen,
    alive: () => arbord.alive(),
    ping,
    stop: async () => {
      if (arbord.alive()) {
        const left = await grpc.list().catch(() => [] as string[]);
        await Promise.allSettled(left.map((handle) => grpc.destroy(handle)));
        await arbord.terminate();
      }
      grpc.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** GrpcCalls are the few gRPC calls the wire suite makes beside Garden's HTTP, as promises. */
export interface GrpcCalls {
  create(handle: string): Promise<void>;
  properties(handle: string): Promise<Record<string, string>>;
  list(): Promise<string[]>;
  destroy(handle: string): Promise<void>;
  close(): void;
}

function grpcCalls(address: string): GrpcCalls {
  const client = new GardenClient(address, credentials.createInsecure());
  const unary = <Req, Res>(method: (req: Req, done: (err: Error | null, res: Res) => void) => unknown, req: Req): Promise<Res> =>
    new Promise((resolve, reject) => {
      method.call(client, req, (err: Error | null, res: Res) => (err ? reject(err) : resolve(res)));
    });
  return {
    create: async (handle) => {
      await unary(client.create, { spec: ContainerSpec.fromPartial({ handle }) });
    },
    properties: async (handle) => (await unary<{ handle: string }, GetPropertiesResponse>(client.getProperties, { handle })).properties,
    list: async () => (await unary<{ properties: Record<string, string> }, ListResponse>(client.list, { properties: {} })).handles,
    destroy: async (handle) => {
      await unary(client.destroy, { handle });
    },
    close: () => client.close(),
  };
}
