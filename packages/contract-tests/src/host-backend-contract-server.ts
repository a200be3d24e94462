import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeBackend } from '@arbor/core';
import type { BackendModules } from '@arbor/core';
import type { BackendOverrides, ContractServer } from './contract-setup';
import { poolSettings, poolsOf } from './contract-setup';
import { freeTestNetwork, usernsPool } from './helpers/test-network';

/**
 * startHostBackend runs a real backend (linux or runc) in-process over a fresh state dir in
 * /tmp, composed from its modules as arbord composes it (the real LinuxNetworker); restart() makes a new backend over the same state dir,
 * as a restart of arbord would, and close() destroys what is left and removes the dir. Each
 * server has a tag of its own (kept across restart), so it never sweeps the links, chains and
 * cgroups of another server, nor of an arbord running on this host; its pools are its test
 * network's unless overridden, recorded in /run/arbor/pools (refused where another arbord's overlap).
 */
export async function startHostBackend(name: string, modules: BackendModules, overrides: BackendOverrides): Promise<ContractServer> {
  const stateDir = await mkdtemp(join(tmpdir(), `arbor-contract-${name}-`));
  const network = await freeTestNetwork();
  const { tag } = network;
  const pools = poolsOf(network, overrides);
  // start makes a fresh backend over the same state dir: a restart of arbord
  const start = async () => {
    const { backend } = await composeBackend(modules, { stateDir, defaultRootfs: '', userns: usernsPool(network), ...overrides, ...poolSettings(pools), tag });
    await backend.start();
    return backend;
  };
  let backend = await start();
  return {
    get client() {
      return backend;
    },
    stopTimeoutMs: overrides.stopTimeoutMs ?? 10_000,
    pools,
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
