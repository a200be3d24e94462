import { ContainerNotFoundError, parseCidr, parseIPv4 } from '@arbor/core';
import type { BandwidthLimits, ContainerRecord, NetOutRule, NetworkConfig, NetworkInfo, Networker, NetworkStat, PortMapping } from '@arbor/core';
import { PortPool, SubnetPool } from '@arbor/network';
import type { SubnetAllocation } from '@arbor/network';
import type { FakeVolumizer } from './fake-volumizer';
import { hostnameOf, writeHostsFile } from './fs/etc-files';

export interface FakeNetworkerOptions {
  /** networkPool is the CIDR '' requests take a /30 from; default '10.254.0.0/22'. */
  networkPool?: string | undefined;
  /** portPoolStart and portPoolSize bound the host ports NetIn hands out: 61001 and 4534 by default. */
  portPoolStart?: number | undefined;
  portPoolSize?: number | undefined;
  /** externalIp is the host address containers are reached at; default '127.0.0.1'. */
  externalIp?: string | undefined;
}

interface Wiring {
  allocation: SubnetAllocation;
  ports: number[];
  netOut: NetOutRule[];
  bandwidth: BandwidthLimits | undefined;
}

/**
 * FakeNetworker does the bookkeeping of networking without touching the kernel: addresses
 * from a SubnetPool, host ports from a PortPool, egress rules and bandwidth limits kept as
 * given. Nothing is reachable: metrics are zeros.
 */
export class FakeNetworker implements Networker {
  private readonly subnets: SubnetPool;
  private readonly ports: PortPool;
  private readonly externalIp: string;
  private readonly wirings = new Map<string, Wiring>();

  /** volumizer, when given, lets setup write the container's address into its /etc/hosts. */
  constructor(
    options: FakeNetworkerOptions = {},
    private readonly volumizer?: FakeVolumizer,
  ) {
    this.subnets = new SubnetPool(options.networkPool === undefined ? {} : { pool: options.networkPool });
    this.ports = new PortPool({
      ...(options.portPoolStart !== undefined && { start: options.portPoolStart }),
      ...(options.portPoolSize !== undefined && { size: options.portPoolSize }),
    });
    this.externalIp = options.externalIp ?? '127.0.0.1';
    parseIPv4(this.externalIp, 'externalIp');
  }

  async setup(handle: string, config: NetworkConfig): Promise<NetworkInfo> {
    const allocation = this.subnets.allocate(handle, config.network);
    this.wirings.set(handle, { allocation, ports: [], netOut: [], bandwidth: undefined });
    const fs = this.volumizer?.hasFilesystem(handle) ? this.volumizer.filesystem(handle) : undefined;
    if (fs) writeHostsFile(fs, config.hostname || hostnameOf(handle), allocation.containerIp);
    return {
      hostIp: allocation.hostIp,
      containerIp: allocation.containerIp,
      externalIp: this.externalIp,
      subnet: allocation.subnet,
    };
  }

  async netIn(handle: string, hostPort: number, containerPort: number): Promise<PortMapping> {
    const wiring = this.wiring(handle);
    let port = hostPort;
    if (port === 0) port = this.ports.acquire();
    else this.ports.reserve(port);
    wiring.ports.push(port);
    return { hostPort: port, containerPort: containerPort === 0 ? port : containerPort };
  }

  async netOut(handle: string, rules: NetOutRule[]): Promise<void> {
    this.wiring(handle).netOut.push(...structuredClone(rules));
  }

  async limitBandwidth(handle: string, limits: BandwidthLimits): Promise<void> {
    this.wiring(handle).bandwidth = { ...limits };
  }

  async metrics(handle: string): Promise<NetworkStat> {
    this.wiring(handle);
    return { rxBytes: 0, txBytes: 0 };
  }

  async destroy(handle: string): Promise<void> {
    const wiring = this.wirings.get(handle);
    this.subnets.release(handle);
    for (const port of wiring?.ports ?? []) this.ports.release(port);
    this.wirings.delete(handle);
  }

  async restore(records: readonly ContainerRecord[]): Promise<void> {
    for (const handle of [...this.wirings.keys()]) await this.destroy(handle);
    for (const record of records) {
      const { hostIp, containerIp, subnet } = record.network;
      if (!subnet) continue;
      const allocation: SubnetAllocation = { hostIp, containerIp, subnet, prefixLength: parseCidr(subnet, 'network.subnet').prefixLength };
      this.subnets.reserve(record.handle, allocation);
      const wiring: Wiring = { allocation, ports: [], netOut: structuredClone(record.netOut), bandwidth: record.limits.bandwidth };
      this.wirings.set(record.handle, wiring);
      for (const m of record.mappedPorts) {
        this.ports.reserve(m.hostPort);
        wiring.ports.push(m.hostPort);
      }
    }
  }

  /** netOutRules returns the egress rules a container holds, for tests. */
  netOutRules(handle: string): NetOutRule[] {
    return structuredClone(this.wiring(handle).netOut);
  }

  /** bandwidth returns the bandwidth limits a container holds, for tests. */
  bandwidth(handle: string): BandwidthLimits | undefined {
    const b = this.wiring(handle).bandwidth;
    return b && { ...b };
  }

  private wiring(handle: string): Wiring {
    const wiring = this.wirings.get(handle);
    if (!wiring) throw new ContainerNotFoundError(handle);
    return wiring;
  }
}
