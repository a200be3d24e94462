import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendCapabilities } from '@arbor/core';
import type { BackendCapabilities as ReportedCapabilities, BackendModules, Client, ContainerSpec } from '@arbor/core';

/**
 * BackendOverrides are server settings a test needs to be small or fast. A harness passes
 * each one it is given to the backend it starts; the suite always sets them explicitly, so
 * a harness never has to guess.
 */
export interface BackendOverrides {
  /** defaultGraceTimeMs applies to containers created without one; 0 means never reaped. */
  defaultGraceTimeMs?: number;
  /** maxContainers caps the number of containers; 0 means the host decides. */
  maxContainers?: number;
  /** portPoolStart and portPoolSize: NetIn with host port 0 takes ports from [start, start+size). */
  portPoolStart?: number;
  portPoolSize?: number;
  /** networkPool is the subnet containers get a /30 from, like '10.254.0.0/22'. */
  networkPool?: string;
  /** stopTimeoutMs is how long Stop(false) waits after TERM before KILL (Garden: 10 s). */
  stopTimeoutMs?: number;
  /** defaultPidLimit is the pid limit of containers created without one; 0 means none. */
  defaultPidLimit?: number;
}

/**
 * ServerPools are what a server hands out: its own, so that servers of suites running side by
 * side (jest workers) never share an address or a port.
 */
export interface ServerPools {
  networkPool: string;
  portPoolStart: number;
  portPoolSize: number;
  /** staticBlock is a /22 outside networkPool for the tests that ask for static addresses, like '10.251.4.0/22'. */
  staticBlock: string;
}

/** FAKE_POOLS are the fake's: it holds no host address or port, so every fake server may share them. */
export const FAKE_POOLS: ServerPools = { networkPool: '10.253.0.0/22', portPoolStart: 61000, portPoolSize: 500, staticBlock: '10.254.100.0/22' };

/** poolsOf are the pools of a server started on base (a test network, or FAKE_POOLS), with any overrides applied. */
export function poolsOf(base: ServerPools, overrides: BackendOverrides): ServerPools {
  return {
    networkPool: overrides.networkPool ?? base.networkPool,
    portPoolStart: overrides.portPoolStart ?? base.portPoolStart,
    portPoolSize: overrides.portPoolSize ?? base.portPoolSize,
    staticBlock: base.staticBlock,
  };
}

/** poolSettings are the pool settings a server is started with: pools without staticBlock, which only tests use. */
export function poolSettings(pools: ServerPools): Pick<BackendOverrides, 'networkPool' | 'portPoolStart' | 'portPoolSize'> {
  return { networkPool: pools.networkPool, portPoolStart: pools.portPoolStart, portPoolSize: pools.portPoolSize };
}

/** ContractConnection is one more client of a running server, like a second user. */
export interface ContractConnection {
  client: Client;
  /** close disconnects; processes started through this client keep running. */
  close(): Promise<void>;
}

/** ContractServer is a backend started by a harness, with its first client. */
export interface ContractServer extends ContractConnection {
  /** connect opens another client to the same server (in-process: the same backend). */
  connect(): Promise<ContractConnection>;
  /**
   * stopTimeoutMs is the TERM-to-KILL wait this server really uses: the override when the
   * harness could apply it, else the server's default (10000).
   */
  readonly stopTimeoutMs: number;
  /** pools are the address and port pools this server really uses. */
  readonly pools: ServerPools;
  /**
   * restart stops the server without touching its containers and starts it again on the same
   * state, returning a client of the new server. Only for backends with survivesRestart.
   */
  restart?(): Promise<Client>;
}

/**
 * ContractSetup starts backends for the suite. The suite starts one server for most tests
 * and a few more with their own overrides (a small port pool, a short default grace time);
 * it closes every server it started.
 */
export interface ContractSetup {
  makeClient(overrides: BackendOverrides): Promise<ContractServer>;
}

/**
 * BackendCapabilities turn off the tests a backend cannot pass for a real reason: what the
 * backend reports of itself (core's BackendCapabilities, see capabilitiesOf) and the images
 * this test run serves. Everything else in the contract applies to every backend.
 */
export interface BackendCapabilities extends ReportedCapabilities {
  /**
   * images are image URIs besides the default rootfs that this backend serves with busybox
   * in them, like 'raw:///var/lib/arbor-test/busybox' or 'docker:///busybox#latest'.
   */
  images: string[];
}

/**
 * capabilitiesOf reads what a backend does on this host from its modules (core's
 * backendCapabilities, over a fresh state dir, as every harness gives one), at load time,
 * when the suite decides what to skip; images are the test data.
 */
export function capabilitiesOf(modules: BackendModules, images: string[]): BackendCapabilities {
  const stateDir = mkdtempSync(join(tmpdir(), 'arbor-contract-capabilities-'));
  try {
    return { ...backendCapabilities(modules, { stateDir, defaultRootfs: '' }), images };
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** privilegedClient is client with every create made privileged: true. */
function privilegedClient(client: Client): Client {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'create') return (spec: ContainerSpec = {}) => target.create({ ...spec, privileged: true });
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** privilegedSetup is setup whose servers' clients (the first, connect()'s and restart()'s) create privileged containers only. */
export function privilegedSetup(setup: ContractSetup): ContractSetup {
  return {
    makeClient: async (overrides) => {
      const server = await setup.makeClient(overrides);
      const restart = server.restart?.bind(server);
      return {
        get client() {
          return privilegedClient(server.client);
        },
        stopTimeoutMs: server.stopTimeoutMs,
        pools: server.pools,
        connect: async () => {
          const other = await server.connect();
          return { client: privilegedClient(other.client), close: () => other.close() };
        },
        close: () => server.close(),
        ...(restart && { restart: async () => privilegedClient(await restart()) }),
      };
    },
  };
}
