import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcClient } from '@arbor/client';
import { silentLogger } from '@arbor/core';
import { startArbord } from '@arbor/server';
import { describeBackendContract } from './describe-backend-contract';
import type { BackendOverrides, ContractServer } from './contract-setup';

// arbord with the fake backend on a unix socket in a temp dir, reached through GrpcClient:
// the whole path a user takes (client -> gRPC -> server -> backend).
async function startFakeArbord(overrides: BackendOverrides): Promise<ContractServer> {
  const dir = await mkdtemp(join(tmpdir(), 'arbor-contract-'));
  const server = await startArbord(
    { backend: 'fake', listen: `unix://${join(dir, 'arbord.sock')}`, stateDir: join(dir, 'state'), ...overrides },
    { logger: silentLogger },
  );
  const opened: GrpcClient[] = [];
  const open = async (): Promise<GrpcClient> => {
    const client = await GrpcClient.connect(server.address);
    opened.push(client);
    return client;
  };
  const client = await open();
  return {
    client,
    stopTimeoutMs: server.config.stopTimeoutMs,
    connect: async () => {
      const other = await open();
      return { client: other, close: async () => other.close() };
    },
    close: async () => {
      const left = await client.containers().catch(() => []);
      await Promise.allSettled(left.map((c) => client.destroy(c.handle)));
      for (const c of opened) await c.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describeBackendContract(
  'fake over gRPC',
  { makeClient: startFakeArbord },
  { enforcesLimits: false, realNetwork: false, isolation: false, survivesRestart: false, images: [] },
);
