import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcClient } from '@arbor/client';
import { silentLogger } from '@arbor/core';
import { startArbord, type StartOptions } from '@arbor/server';
import { FAKE_POOLS, poolSettings, poolsOf } from './contract-setup';
import type { BackendOverrides, ContractServer } from './contract-setup';
import { freeTestNetwork, usernsPool } from './helpers/test-network';

/**
 * startArbordContractServer runs arbord with the named backend on a unix socket in a temp
 * dir and reaches it through GrpcClient: the whole path a user takes (client -> gRPC ->
 * server -> backend). Every backend's over-gRPC contract run uses it. arbord gets a tag of its
 * own, so it never sweeps the links, chains and cgroups of another test's or a running arbord.
 */
export async function startArbordContractServer(
  backend: string,
  overrides: BackendOverrides & { fakeShell?: boolean },
  options: StartOptions = {},
): Promise<ContractServer> {
  const dir = await mkdtemp(join(tmpdir(), `arbor-contract-${backend}-`));
  // searchable by others, as the dirs above a state dir must be for user-namespace containers on runc
  await chmod(dir, 0o711);
  const network = backend === 'fake' ? undefined : await freeTestNetwork();
  const pools = poolsOf(network ?? FAKE_POOLS, overrides);
  const server = await startArbord(
    {
      backend,
      listen: `unix://${join(dir, 'arbord.sock')}`,
      stateDir: join(dir, 'state'),
      ...(network && { tag: network.tag, userns: usernsPool(network) }),
      ...overrides,
      ...poolSettings(pools),
    },
    { logger: silentLogger, ...options },
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
    pools,
    connect: async () => {
      const other = await open();
      return { client: other, close: async () => other.close() };
    },
    close: async () => {
      const left = await client.containers().catch(() => []);
      await Promise.allSettled(left.map((c) => client.destroy(c.handle)));
      for (const c of opened) c.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
