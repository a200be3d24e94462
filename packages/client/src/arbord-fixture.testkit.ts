// Test support: a real arbord on a temporary unix socket, and a client connected to it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@arbor/core';
import { startArbord } from '@arbor/server';
import type { ArborConfigInput, RunningArbord, StartOptions } from '@arbor/server';
import { GrpcClient } from './grpc-client';

export interface ArbordFixture {
  arbord: RunningArbord;
  client: GrpcClient;
  dir: string;
  stop(): Promise<void>;
}

export async function startFixture(config: ArborConfigInput = {}, options: StartOptions = {}): Promise<ArbordFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'arbor-client-'));
  const arbord = await startArbord(
    { backend: 'fake', listen: `unix://${dir}/arbord.sock`, stateDir: join(dir, 'state'), ...config },
    { logger: silentLogger, shutdownTimeoutMs: 500, ...options },
  );
  const client = await GrpcClient.connect(arbord.address);
  return {
    arbord,
    client,
    dir,
    stop: async () => {
      client.close();
      await arbord.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
