import { ContainerNotFoundError } from '@arbor/core';
import type { Client, Container, ContainerSpec } from '@arbor/core';
import type { BackendOverrides, ContractServer, ContractSetup, ServerPools } from './contract-setup';

/**
 * MAIN_OVERRIDES configure the server most tests share: nothing is reaped unless a test asks,
 * and Stop(false) waits only briefly before KILL. Its pools are its setup's (ctx.pools).
 */
export const MAIN_OVERRIDES = {
  defaultGraceTimeMs: 0,
  maxContainers: 0,
  stopTimeoutMs: 1000,
  defaultPidLimit: 0,
} as const satisfies BackendOverrides;

interface Tracked {
  client: Client;
  handle: string;
}

/**
 * ContractContext is what every area of the suite shares: the main server, extra servers a
 * test starts, and every container a test made, so that afterEach leaves nothing behind and
 * no test depends on another's leftovers.
 */
export class ContractContext {
  private main: ContractServer | undefined;
  private readonly tracked: Tracked[] = [];
  private readonly extraServers: ContractServer[] = [];
  private seq = 0;

  constructor(private readonly setup: ContractSetup) {}

  async start(): Promise<void> {
    this.main = await this.setup.makeClient({ ...MAIN_OVERRIDES });
  }

  async close(): Promise<void> {
    await this.cleanup();
    await this.main?.close();
    this.main = undefined;
  }

  get server(): ContractServer {
    if (!this.main) throw new Error('contract: the main server is not started (beforeAll failed?)');
    return this.main;
  }

  get client(): Client {
    return this.server.client;
  }

  /** pools are the main server's address and port pools. */
  get pools(): ServerPools {
    return this.server.pools;
  }

  /** staticNet is the first three octets of the i-th (0-3) /24 of the main server's static block, like '10.251.5'. */
  staticNet(i: number): string {
    const [a, b, c] = this.pools.staticBlock.split('.');
    return `${a}.${b}.${Number(c) + i}`;
  }

  /** unique returns a name no other test uses, like 'ct-create-17-x8k2'. */
  unique(prefix: string): string {
    this.seq += 1;
    return `ct-${prefix}-${this.seq}-${Math.random().toString(36).slice(2, 6)}`;
  }

  /** create makes a container that afterEach destroys. */
  async create(spec: ContainerSpec = {}, client: Client = this.client): Promise<Container> {
    const container = await client.create(spec);
    this.track(container.handle, client);
    return container;
  }

  /**
   * track marks a handle for destruction after the test, for containers made another way;
   * tracking a handle again moves it to the given client (after a server restart).
   */
  track(handle: string, client: Client = this.client): void {
    const known = this.tracked.find((t) => t.handle === handle);
    if (known) known.client = client;
    else this.tracked.push({ client, handle });
  }

  /** extraServer starts a server of its own for one test; afterEach closes it. */
  async extraServer(overrides: BackendOverrides): Promise<ContractServer> {
    const server = await this.setup.makeClient({ ...MAIN_OVERRIDES, ...overrides });
    this.extraServers.push(server);
    return server;
  }

  /** cleanup destroys every tracked container (already gone is fine) and closes extra servers. */
  async cleanup(): Promise<void> {
    const tracked = this.tracked.splice(0);
    const failures: unknown[] = [];
    await Promise.all(
      tracked.map(async ({ client, handle }) => {
        try {
          await client.destroy(handle);
        } catch (err) {
          if (!(err instanceof ContainerNotFoundError)) failures.push(err);
        }
      }),
    );
    const servers = this.extraServers.splice(0);
    await Promise.all(servers.map((s) => s.close().catch((err: unknown) => failures.push(err))));
    if (failures.length > 0) {
      throw new AggregateError(failures, `contract cleanup failed: ${failures.map(String).join('; ')}`);
    }
  }
}
