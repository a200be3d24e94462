import { access, readFile, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  ArborError,
  ContainerNotFoundError,
  HostPreconditionError,
  InvalidArgumentError,
  formatIPv4,
  parseCidr,
  parseIPv4,
  silentLogger,
  validateBandwidthLimits,
  validateNetOutRule,
  type BandwidthLimits,
  type CallContext,
  type ContainerRecord,
  type Logger,
  type NetOutRule,
  type NetworkConfig,
  type NetworkInfo,
  type NetworkStat,
  type Networker,
  type PortMapping,
} from '@arbor/core';
import { writeContainerNetworkFiles } from './container-network-files';
import { detectExternalIp } from './external-ip';
import { Iptables, type IptablesOptions } from './iptables';
import { IptablesRuleset, asDeletes, asInserts, mergeLines, type IptablesSnapshot, type TableLines } from './iptables-ruleset';
import { NetlinkError, NetlinkHelper } from './netlink-helper';
import { NetworkNames, prefixForTag } from './network-names';
import type { PoolRegistry } from './pool-registry';
import { PortPool } from './port-pool';
import { DEFAULT_SUBNET_POOL, SubnetPool, type SubnetAllocation } from './subnet-pool';

export interface LinuxNetworkerOptions {
  /** networkPool is the CIDR containers get a /30 from, like '10.254.0.0/22' (the default). */
  networkPool?: string;
  /** portPoolStart and portPoolSize bound the host ports NetIn hands out: 61001 and 4534 by default. */
  portPoolStart?: number;
  portPoolSize?: number;
  /**
   * denyNetworks are CIDRs containers may not reach unless a NetOut rule allows it; the
   * default ['0.0.0.0/0'] denies all egress but what rules allow. The host itself and
   * 169.254.0.0/16 are always denied unless a rule allows them.
   */
  denyNetworks?: readonly string[];
  /** externalIp is what Info shows as the host's address, like '192.0.2.2'; by default the default route's source. */
  externalIp?: string;
  /** mtu of the veth pairs and bridges, 1500 by default. */
  mtu?: number;
  /**
   * tag names this networker's links and chains apart from another arbord's on the host: ''
   * (the default) gives the 'arb' prefix, 'x' gives 'arbx' (see TAGS, prefixForTag).
   */
  tag?: string;
  /** prefix of every link and chain made, overriding tag's, like 'arbt' for @arbor/network's own tests (see NetworkNames). */
  prefix?: string;
  /**
   * poolRegistry, when given, records the tag and pools at first use (start) and refuses them
   * while another live arbord holds the tag or overlapping pools; close() releases them.
   */
  poolRegistry?: PoolRegistry;
  /** userIds are the host ids the containers' user namespaces take, recorded beside the pools in poolRegistry (see PoolClaim). */
  userIds?: { base: number; size: number };
  /** helperPath is the arbor-net binary, like /opt/arbor/native/arbor-net/arbor-net. */
  helperPath?: string;
  iptables?: IptablesOptions;
  /** ipForwardPath is written '1' at first use: containers' traffic is routed by the host. */
  ipForwardPath?: string;
  /** nameservers, when given, go into containers' /etc/resolv.conf instead of the host's. */
  nameservers?: readonly string[];
  /** sysClassNet is where link statistics and bridge ports are read, '/sys/class/net'. */
  sysClassNet?: string;
  /** procSysNet is where per-link IPv4 settings (rp_filter) and br_netfilter's settings are, '/proc/sys/net'. */
  procSysNet?: string;
  /**
   * linkDeletion 'background' (the default) lets destroy resolve once the container's links
   * are queued for deletion and cut off (no chain leads to or from them): the kernel takes
   * 15-25 ms per batch of deletions. 'wait' resolves only when they are gone. Either way a later setup
   * that reuses the address waits for them, and settle() waits for all.
   */
  linkDeletion?: 'background' | 'wait';
  logger?: Logger;
}

/**
 * LinuxNetworkConfig is NetworkConfig plus the owner of /etc/hosts and /etc/resolv.conf:
 * given a rootfsPath, setup writes both files there (see writeContainerNetworkFiles).
 */
export interface LinuxNetworkConfig extends Omit<NetworkConfig, 'rootfsPath' | 'hostname'> {
  /** rootfsPath is like /var/lib/arbor/images/rootfs/<handle>; '' or absent writes no files. */
  rootfsPath?: string;
  /** hostname is the container's, for /etc/hosts, like the last 49 characters of the handle. */
  hostname?: string;
  /** owner is the host uid and gid of the container's root, for the files. */
  owner?: { uid: number; gid: number };
}

/** Wired is what the networker made for one container. */
interface Wired {
  handle: string;
  containerIp: string;
  allocation: SubnetAllocation;
  /** bridge serves a subnet wider than /30, shared by containers; a /30 has none. */
  bridge: string | undefined;
  hostVeth: string;
  ifb: string;
  netIn: PortMapping[];
  netOut: NetOutRule[];
  /** firewall says the container's chains and jumps were committed. */
  firewall: boolean;
}

/** EEXIST is the errno of a link name already taken. */
const EEXIST = 17;

/** ETHERNET_HEADER: a token bucket smaller than one frame would pass nothing. */
const ETHERNET_HEADER = 14;

/**
 * LinuxNetworker wires containers' network namespaces on a Linux host: one veth pair per
 * container (eth0 inside, with the address and a default route via the gateway); the host veth
 * holds the gateway address of a /30, or joins the bridge holding it for a shared subnet; NetIn as DNAT, NetOut as a per-container filter chain,
 * egress MASQUERADE, and bandwidth limits as token bucket filters on the host side.
 * Links and tc state go through the arbor-net coprocess (rtnetlink, microseconds per change);
 * each firewall change set is one iptables-restore. Calls that change state run one at a time.
 */
export class LinuxNetworker implements Networker {
  private readonly names: NetworkNames;
  private readonly ruleset: IptablesRuleset;
  private readonly subnets: SubnetPool;
  private readonly ports: PortPool;
  private readonly helper: NetlinkHelper;
  private readonly iptables: Iptables;
  private readonly mtu: number;
  private readonly logger: Logger;
  private readonly wired = new Map<string, Wired>();
  /** bridgeUsers maps each bridge to the handles wired to it, so the last one out removes it. */
  private readonly bridgeUsers = new Map<string, Set<string>>();
  private externalIp: string | undefined;
  private initialized: Promise<void> | undefined;
  /** claimed holds the pools in options.poolRegistry from the first init until close. */
  private claimed: Promise<{ release(): Promise<void> }> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: LinuxNetworkerOptions = {}) {
    this.names = new NetworkNames(options.prefix ?? prefixForTag(options.tag ?? ''));
    this.ruleset = new IptablesRuleset(this.names, options.denyNetworks ?? ['0.0.0.0/0']);
    this.subnets = new SubnetPool({ ...(options.networkPool !== undefined && { pool: options.networkPool }) });
    this.ports = new PortPool({
      ...(options.portPoolStart !== undefined && { start: options.portPoolStart }),
      ...(options.portPoolSize !== undefined && { size: options.portPoolSize }),
    });
    this.mtu = options.mtu ?? 1500;
    if (!Number.isInteger(this.mtu) || this.mtu < 68 || this.mtu > 65535) {
      throw new InvalidArgumentError('mtu', `${this.mtu} must be a whole number from 68 to 65535`);
    }
    if (options.externalIp) parseIPv4(options.externalIp, 'externalIp');
    this.externalIp = options.externalIp;
    this.logger = options.logger ?? silentLogger;
    this.helper = new NetlinkHelper(options.helperPath, (line) => this.logger.error('arbor-net-log', { line }));
    this.iptables = new Iptables(options.iptables);
  }

  /** setup: see Networker.setup. @throws HostPreconditionError when iptables is not installed */
  setup(handle: string, config: LinuxNetworkConfig, ctx?: CallContext): Promise<NetworkInfo> {
    const log = ctx?.logger ?? this.logger;
    return this.serially(async () => {
      await this.init();
      if (this.wired.has(handle)) throw new ArborError('alreadyExists', `network: '${handle}' is already wired`);
      if (!config.netnsPath || /\s/.test(config.netnsPath)) {
        throw new ArborError('failedPrecondition', `network: '${config.netnsPath}' is not a network namespace path like /proc/1234/ns/net`);
      }
      const allocation = this.subnets.allocate(handle, config.network);
      const w: Wired = {
        handle,
        containerIp: allocation.containerIp,
        allocation,
        bridge: this.bridgeFor(allocation),
        hostVeth: this.names.hostVeth(allocation.containerIp),
        ifb: this.names.ifb(allocation.containerIp),
        netIn: [],
        netOut: [],
        firewall: false,
      };
      // Registered first, so that destroy cleans up whatever part of the wiring a failure leaves.
      this.wired.set(handle, w);
      this.useBridge(w);
      const { containerIp, hostIp, prefixLength } = allocation;
      // Links, firewall and the container's network files do not depend on each other: the
      // rules name addresses and link wildcards, the files only the address. All run at once,
      // and all finish before setup settles.
      const results = await Promise.allSettled([
        (async () => {
          if (w.bridge) await this.helper.request('bridge', w.bridge, hostIp, prefixLength, this.mtu);
          const veth = ['veth', w.hostVeth, w.bridge ?? '-', config.netnsPath, containerIp, prefixLength, hostIp, this.mtu, group(w)];
          await this.helper.request(...veth).catch(async (err: unknown) => {
            if (!(err instanceof NetlinkError && err.errno === EEXIST)) throw err;
            // A host veth named for this free address belongs to no container: a leftover.
            log.info('network-setup-replacing-stale-link', { handle, link: w.hostVeth });
            await this.helper.request('del', w.hostVeth);
            await this.helper.request('del', w.ifb);
            await this.helper.request(...veth);
          });
          await this.checkSources(w);
        })(),
        (async () => {
          await this.iptables
            .apply(mergeLines(this.ruleset.containerChains(w), this.ruleset.containerJumps(containerIp, w.bridge !== undefined)))
            .catch((err: unknown) => {
              throw iptablesMissing(err) ?? err;
            });
          w.firewall = true;
        })(),
        (async () => {
          if (!config.rootfsPath) return;
          await writeContainerNetworkFiles(config.rootfsPath, {
            hostname: config.hostname ?? handle.slice(-49),
            containerIp,
            ...(this.options.nameservers && { nameservers: this.options.nameservers }),
            ...(config.owner && { owner: config.owner }),
          });
        })(),
      ]);
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      // what the host lacks is the cause to report: the other parts may have failed only for it
      if (failures.length > 0) throw failures.find((e) => e instanceof HostPreconditionError) ?? failures[0];
      log.debug('network-setup', { handle, containerIp, bridge: w.bridge });
      return { hostIp, containerIp, externalIp: this.externalIp ?? '', subnet: w.allocation.subnet };
    });
  }

  netIn(handle: string, hostPort: number, containerPort: number): Promise<PortMapping> {
    return this.serially(async () => {
      const w = this.get(handle);
      let port = hostPort;
      if (port === 0) port = this.ports.acquire();
      else this.ports.reserve(port);
      const mapping = { hostPort: port, containerPort: containerPort === 0 ? port : containerPort };
      try {
        await this.iptables.apply({ filter: [], nat: this.ruleset.containerChains({ ...w, netIn: [...w.netIn, mapping] }).nat });
      } catch (err) {
        this.ports.release(port);
        throw err;
      }
      w.netIn.push(mapping);
      return { ...mapping };
    });
  }

  netOut(handle: string, rules: NetOutRule[]): Promise<void> {
    return this.serially(async () => {
      const w = this.get(handle);
      rules.forEach((r, i) => validateNetOutRule(r, rules.length === 1 ? 'rule' : `rules[${i}]`));
      const netOut = [...w.netOut, ...structuredClone(rules)];
      // One filter table commit: every rule applies, or none does.
      await this.iptables.apply({ filter: this.ruleset.containerChains({ ...w, netOut }).filter, nat: [] });
      w.netOut = netOut;
    });
  }

  limitBandwidth(handle: string, limits: BandwidthLimits): Promise<void> {
    return this.serially(async () => {
      const w = this.get(handle);
      validateBandwidthLimits(limits);
      const rate = limits.rateInBytesPerSecond;
      const burst = rate === 0 ? 0 : Math.max(limits.burstRateInBytesPerSecond, this.mtu + ETHERNET_HEADER);
      await this.helper.request('shape', w.hostVeth, w.ifb, rate, burst, group(w));
    });
  }

  /** metrics are from the container's side: rx is what it received, tx what it sent. */
  async metrics(handle: string): Promise<NetworkStat> {
    const w = this.get(handle);
    const stat = async (name: string): Promise<number> => {
      const file = path.join(this.sysClassNet(), w.hostVeth, 'statistics', name);
      const text = await readFile(file, 'utf8').catch((cause: unknown) => {
        throw new ArborError('internal', `network: no statistics for '${handle}' in ${file}: its host veth is gone`, { cause });
      });
      return Number(text.trim());
    };
    const [hostRx, hostTx] = await Promise.all([stat('rx_bytes'), stat('tx_bytes')]);
    return { rxBytes: hostTx, txBytes: hostRx };
  }

  destroy(handle: string, ctx?: CallContext): Promise<void> {
    const log = ctx?.logger ?? this.logger;
    return this.serially(async () => {
      const w = this.wired.get(handle);
      if (!w) return;
      const failures: unknown[] = [];
      const attempt = async (step: () => Promise<void>): Promise<void> => {
        await step().catch((err: unknown) => failures.push(err));
      };
      // The container's links (host veth, ifb, and its bridge when it is the last one on it)
      // are queued for deletion beside the firewall change; the host veth takes its peer,
      // qdiscs and ingress redirect with it. With the chains gone nothing reaches them.
      const users = w.bridge ? this.bridgeUsers.get(w.bridge) : undefined;
      users?.delete(handle);
      const lastOnBridge = w.bridge !== undefined && (!users || users.size === 0);
      await Promise.all([
        attempt(() => this.removeFirewall(w)),
        attempt(async () => {
          await this.helper.request('unwire', group(w), w.hostVeth, w.ifb, lastOnBridge ? (w.bridge ?? '-') : '-');
          if (lastOnBridge && w.bridge) this.bridgeUsers.delete(w.bridge);
          if (this.options.linkDeletion === 'wait') await this.helper.request('settle');
        }),
      ]);
      if (failures.length > 0) {
        log.error('network-destroy-failed', { handle, errors: failures.map(String) });
        throw new AggregateError(failures, `network: destroying '${handle}' left parts behind; destroy again to retry`);
      }
      for (const m of w.netIn) this.ports.release(m.hostPort);
      this.subnets.release(handle);
      this.wired.delete(handle);
    });
  }

  restore(records: readonly ContainerRecord[]): Promise<void> {
    return this.serially(async () => {
      await this.init();
      for (const record of records) {
        if (!record.network.containerIp || this.wired.has(record.handle)) continue;
        await this.rewire(record).catch((err: unknown) => this.logger.error('network-restore-failed', { handle: record.handle, error: String(err) }));
      }
      await this.resyncFirewall();
      await this.sweepLinks();
    });
  }

  /**
   * removeAll deletes every link and chain with this networker's prefix, including the shared
   * chains, and forgets every container: for tests and for taking Arbor off a host.
   */
  removeAll(): Promise<void> {
    return this.serially(async () => {
      const snapshot = await this.iptables.snapshot();
      const jumps = this.ruleset.builtinJumps();
      const shared = this.ruleset.sharedChainNames();
      const containerChains = (table: 'filter' | 'nat'): string[] => [...snapshot.chains[table]].filter((c) => this.names.parseContainerChain(c) !== undefined);
      await this.iptables.apply(
        mergeLines(
          {
            filter: asDeletes(jumps.filter.filter((l) => snapshot.rules.filter.has(l))),
            nat: asDeletes(jumps.nat.filter((l) => snapshot.rules.nat.has(l))),
          },
          this.ruleset.removeChains({
            filter: [...shared.filter.filter((c) => snapshot.chains.filter.has(c)), ...containerChains('filter')],
            nat: [...shared.nat.filter((c) => snapshot.chains.nat.has(c)), ...containerChains('nat')],
          }),
        ),
      );
      this.wired.clear();
      this.bridgeUsers.clear();
      await this.sweepLinks();
      this.initialized = undefined;
    });
  }

  /** settle resolves once every link queued for deletion by destroy is gone. */
  settle(): Promise<void> {
    return this.serially(() => this.helper.request('settle'));
  }

  /** capacity is the /30s networkPool holds, like 256 for 10.254.0.0/22: one per container. */
  async capacity(): Promise<{ maxContainers: number }> {
    return { maxContainers: this.subnets.size };
  }

  /** close stops the arbor-net and iptables-restore coprocesses (after queued link deletions) and releases its pools in the registry; what they made stays. */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await Promise.all([this.helper.close(), this.iptables.close()]);
    const claimed = this.claimed;
    this.claimed = undefined;
    await claimed?.then((c) => c.release()).catch(() => undefined);
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private get(handle: string): Wired {
    const w = this.wired.get(handle);
    if (!w) throw new ContainerNotFoundError(handle);
    return w;
  }

  private sysClassNet(): string {
    return this.options.sysClassNet ?? '/sys/class/net';
  }

  /**
   * checkSources has the kernel drop what a container sends with a source address that does
   * not route back through the link it came in on (rp_filter 1, strict), like another
   * container's address forged on a raw socket; the firewall enters a container's NetOut chain
   * only from its own host veth besides. Inside a shared subnet every address routes through
   * the bridge, so there the firewall tells the ports apart ('-m physdev'): the bridge hands
   * its traffic to iptables, which takes br_netfilter.
   * @throws ArborError failedPrecondition when a bridged container's traffic cannot be told apart by port
   */
  private async checkSources(w: Wired): Promise<void> {
    const procSysNet = this.options.procSysNet ?? '/proc/sys/net';
    const link = w.bridge ?? w.hostVeth;
    const rpFilter = path.join(procSysNet, 'ipv4', 'conf', link, 'rp_filter');
    await writeFile(rpFilter, '1').catch((cause: unknown) => {
      throw new ArborError('internal', `network: cannot turn on source checks of '${w.handle}' in ${rpFilter}`, { cause });
    });
    if (!w.bridge) return;
    await access(path.join(procSysNet, 'bridge')).catch((cause: unknown) => {
      throw new ArborError(
        'failedPrecondition',
        `network: '${w.handle}' asks for a shared subnet, whose containers the firewall tells apart only with br_netfilter: load it (modprobe br_netfilter)`,
        { cause },
      );
    });
    const callIptables = path.join(this.sysClassNet(), w.bridge, 'bridge', 'nf_call_iptables');
    await writeFile(callIptables, '1').catch((cause: unknown) => {
      throw new ArborError('internal', `network: cannot hand bridge traffic of '${w.handle}' to iptables in ${callIptables}`, { cause });
    });
  }

  private bridgeFor(allocation: { subnet: string; prefixLength: number }): string | undefined {
    if (allocation.prefixLength >= 30) return undefined;
    const network = parseIPv4(allocation.subnet.split('/')[0] ?? '', 'network');
    return this.names.bridge({ network, prefixLength: allocation.prefixLength });
  }

  private useBridge(w: Wired): void {
    if (!w.bridge) return;
    const users = this.bridgeUsers.get(w.bridge) ?? new Set<string>();
    users.add(w.handle);
    this.bridgeUsers.set(w.bridge, users);
  }

  /** init turns on forwarding and adds the shared chains and their hooks that are missing. */
  private init(): Promise<void> {
    this.initialized ??= (async () => {
      await this.claimPools();
      const ipForward = this.options.ipForwardPath ?? '/proc/sys/net/ipv4/ip_forward';
      await writeFile(ipForward, '1').catch((cause: unknown) => {
        throw new ArborError('failedPrecondition', `network: cannot turn on IP forwarding in ${ipForward}: run arbord as root on the host`, { cause });
      });
      this.externalIp ??= await detectExternalIp();
      const snapshot = await this.iptables.snapshot().catch((err: unknown) => {
        throw iptablesMissing(err) ?? err;
      });
      const shared = this.ruleset.sharedChains();
      const names = this.ruleset.sharedChainNames();
      const missing = (table: 'filter' | 'nat'): string[] => {
        const absent = names[table].filter((c) => !snapshot.chains[table].has(c));
        return shared[table].filter((l) => absent.some((c) => l === `:${c} - [0:0]` || l.startsWith(`-A ${c} `)));
      };
      await this.iptables.apply(mergeLines({ filter: missing('filter'), nat: missing('nat') }, this.missingBuiltinJumps(snapshot))).catch((err: unknown) => {
        throw iptablesMissing(err) ?? err;
      });
    })().catch((err: unknown) => {
      this.initialized = undefined;
      throw err;
    });
    return this.initialized;
  }

  /** claimPools records the tag and pools in options.poolRegistry, before anything on the host is touched. */
  private async claimPools(): Promise<void> {
    const registry = this.options.poolRegistry;
    if (!registry) return;
    this.claimed ??= registry
      .claim({
        tag: this.options.tag ?? '',
        networkPool: this.options.networkPool ?? DEFAULT_SUBNET_POOL,
        ports: { start: this.ports.start, size: this.ports.size },
        ...(this.options.userIds && { userIds: this.options.userIds }),
      })
      .catch((err: unknown) => {
        this.claimed = undefined;
        throw err;
      });
    await this.claimed;
  }

  private missingBuiltinJumps(snapshot: IptablesSnapshot): TableLines {
    const jumps = this.ruleset.builtinJumps();
    return {
      filter: asInserts(jumps.filter.filter((l) => !snapshot.rules.filter.has(l))),
      nat: asInserts(jumps.nat.filter((l) => !snapshot.rules.nat.has(l))),
    };
  }

  /** removeFirewall deletes a container's jumps and chains; when some are already gone, only what is left. */
  private async removeFirewall(w: Wired): Promise<void> {
    const ip = w.containerIp;
    const jumps = this.ruleset.containerJumps(ip, w.bridge !== undefined);
    const chains = { filter: [this.names.outChain(ip)], nat: [this.names.inChain(ip)] };
    if (w.firewall) {
      try {
        await this.iptables.apply(mergeLines({ filter: asDeletes(jumps.filter), nat: asDeletes(jumps.nat) }, this.ruleset.removeChains(chains)));
        w.firewall = false;
        return;
      } catch (err) {
        this.logger.info('network-firewall-removal-retrying', { handle: w.handle, error: String(err) });
      }
    }
    const snapshot = await this.iptables.snapshot();
    await this.iptables.apply(
      mergeLines(
        {
          filter: asDeletes(jumps.filter.filter((l) => snapshot.rules.filter.has(l))),
          nat: asDeletes(jumps.nat.filter((l) => snapshot.rules.nat.has(l))),
        },
        this.ruleset.removeChains({
          filter: chains.filter.filter((c) => snapshot.chains.filter.has(c)),
          nat: chains.nat.filter((c) => snapshot.chains.nat.has(c)),
        }),
      ),
    );
    w.firewall = false;
  }

  /** rewire takes a container from before a restart back into the books. */
  private async rewire(record: ContainerRecord): Promise<void> {
    const { containerIp, hostIp } = record.network;
    const hostVeth = this.names.hostVeth(containerIp);
    const subnet = parseCidr(record.network.subnet, 'network.subnet');
    const allocation: SubnetAllocation = {
      containerIp,
      hostIp,
      subnet: `${formatIPv4(subnet.network)}/${subnet.prefixLength}`,
      prefixLength: subnet.prefixLength,
    };
    this.subnets.reserve(record.handle, allocation);
    const netIn: PortMapping[] = [];
    for (const m of record.mappedPorts) {
      try {
        this.ports.reserve(m.hostPort);
        netIn.push({ ...m });
      } catch (err) {
        this.logger.error('network-restore-port-failed', { handle: record.handle, hostPort: m.hostPort, error: String(err) });
      }
    }
    const w: Wired = {
      handle: record.handle,
      containerIp,
      allocation,
      bridge: this.bridgeFor(allocation),
      hostVeth,
      ifb: this.names.ifb(containerIp),
      netIn,
      netOut: structuredClone(record.netOut),
      firewall: true,
    };
    this.wired.set(record.handle, w);
    this.useBridge(w);
    // Links wired by an older arbord lack the source checks.
    await this.checkSources(w).catch((err: unknown) =>
      this.logger.error('network-restore-source-checks-failed', { handle: record.handle, error: String(err) }),
    );
  }

  /** resyncFirewall rewrites every shared and known container chain, and deletes the chains of unknown containers. */
  private async resyncFirewall(): Promise<void> {
    const snapshot = await this.iptables.snapshot();
    const known = new Set([...this.wired.values()].map((w) => w.containerIp));
    const strays = (table: 'filter' | 'nat'): string[] =>
      [...snapshot.chains[table]].filter((c) => {
        const ip = this.names.parseContainerChain(c);
        return ip !== undefined && !known.has(ip);
      });
    const parts: TableLines[] = [this.ruleset.sharedChains()];
    for (const w of this.wired.values()) {
      parts.push(this.ruleset.containerChains(w), this.ruleset.containerJumps(w.containerIp, w.bridge !== undefined));
    }
    parts.push(this.ruleset.removeChains({ filter: strays('filter'), nat: strays('nat') }));
    parts.push(this.missingBuiltinJumps(snapshot));
    await this.iptables.apply(mergeLines(...parts));
  }

  /** sweepLinks deletes our veths, ifbs and bridges that belong to no known container. */
  private async sweepLinks(): Promise<void> {
    await this.helper.request('settle');
    const knownIps = new Set([...this.wired.values()].map((w) => w.containerIp));
    for (const name of await readdir(this.sysClassNet()).catch(() => [] as string[])) {
      const link = this.names.parseContainerLink(name);
      const stray = link ? !knownIps.has(link.containerIp) : this.names.parseBridge(name) !== undefined && !this.bridgeUsers.has(name);
      if (!stray) continue;
      this.logger.info('network-sweeping-link', { link: name });
      await this.helper.request('del', name).catch((err: unknown) => this.logger.error('network-sweep-failed', { link: name, error: String(err) }));
    }
  }
}

/** group is the link group of a container's host links, its address as a number (never 0). */
function group(w: Wired): number {
  return parseIPv4(w.containerIp, 'containerIp');
}

/**
 * iptablesMissing is a HostPreconditionError when err is the failure to start iptables-save
 * or iptables-restore because it is not there (its cause is spawn's ENOENT), else undefined.
 */
function iptablesMissing(err: unknown): HostPreconditionError | undefined {
  const cause = (err as { cause?: NodeJS.ErrnoException } | null)?.cause;
  if (cause?.code !== 'ENOENT') return undefined;
  return new HostPreconditionError(`network: ${cause.path ?? 'iptables'} not found: install iptables (apt-get install iptables)`, { cause: err });
}
