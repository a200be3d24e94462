// Garden's JSON (the tags of garden/client.go, container.go, net_out_rule.go) mapped onto
// @arbor/core's types and back. Decoders check every type they read and name the field at
// fault in Garden's spelling (like 'limits.memory_limits.limit_in_bytes'); what is valid
// beyond its type (paths, ports, users) is the backend's to check, as for gRPC.
import { InvalidArgumentError, RESOURCE_LIMIT_NAMES } from '@arbor/core';
import type {
  BandwidthLimits,
  BindMount,
  Capacity,
  ContainerInfo,
  ContainerMetrics,
  ContainerSpec,
  CpuLimits,
  DiskLimits,
  IpRange,
  Limits,
  MemoryLimits,
  NetOutProtocol,
  NetOutRule,
  PortMapping,
  PortRange,
  ProcessSpec,
  Properties,
  ResourceLimits,
  TtySpec,
} from '@arbor/core';

type Obj = Record<string, unknown>;

function object(value: unknown, field: string): Obj | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidArgumentError(field, 'must be a JSON object');
  return value as Obj;
}

function string(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidArgumentError(field, 'must be a string');
  return value;
}

function bool(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(field, 'must be true or false');
  return value;
}

/** uint reads a Go unsigned integer (uint8 ... uint64, as a JSON number) of at most max. */
function uint(value: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(field, `must be a whole number from 0 to ${max}`);
  }
  return value;
}

function array<T>(value: unknown, field: string, each: (item: unknown, field: string) => T): T[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new InvalidArgumentError(field, 'must be a JSON array');
  return value.map((item, i) => each(item, `${field}[${i}]`));
}

function stringArray(value: unknown, field: string): string[] | undefined {
  return array(value, field, (item, f) => string(item, f) ?? '');
}

function properties(value: unknown, field: string): Properties | undefined {
  const o = object(value, field);
  if (!o) return undefined;
  const out: Properties = {};
  for (const [k, v] of Object.entries(o)) out[k] = string(v, `${field}.${k}`) ?? '';
  return out;
}

/** imageUri maps Garden's image.uri or rootfs: a bare absolute path is a directory used as it is (raw://). */
function imageUri(uri: string): string {
  return uri.startsWith('/') ? `raw://${uri}` : uri;
}

function limitsFromGarden(value: unknown, field: string): Limits | undefined {
  const o = object(value, field);
  if (!o) return undefined;
  const limits: Limits = {};
  const bw = object(o['bandwidth_limits'], `${field}.bandwidth_limits`);
  const rate = uint(bw?.['rate'], `${field}.bandwidth_limits.rate`) ?? 0;
  const burst = uint(bw?.['burst'], `${field}.bandwidth_limits.burst`) ?? 0;
  if (rate || burst) limits.bandwidth = { rateInBytesPerSecond: rate, burstRateInBytesPerSecond: burst };
  const cpu = object(o['cpu_limits'], `${field}.cpu_limits`);
  const weight = uint(cpu?.['weight'], `${field}.cpu_limits.weight`) ?? 0;
  const shares = uint(cpu?.['limit_in_shares'], `${field}.cpu_limits.limit_in_shares`) ?? 0;
  // limit_in_shares is Garden's deprecated name for weight
  if (weight || shares) limits.cpu = { weight: weight || shares };
  const disk = object(o['disk_limits'], `${field}.disk_limits`);
  if (disk) {
    const d = {
      inodeSoft: uint(disk['inode_soft'], `${field}.disk_limits.inode_soft`) ?? 0,
      inodeHard: uint(disk['inode_hard'], `${field}.disk_limits.inode_hard`) ?? 0,
      byteSoft: uint(disk['byte_soft'], `${field}.disk_limits.byte_soft`) ?? 0,
      byteHard: uint(disk['byte_hard'], `${field}.disk_limits.byte_hard`) ?? 0,
    };
    const scope = uint(disk['scope'], `${field}.disk_limits.scope`, 1) ?? 0;
    if (d.inodeSoft || d.inodeHard || d.byteSoft || d.byteHard) limits.disk = { ...d, scope: scope === 1 ? 'exclusive' : 'total' };
  }
  const memory = uint(object(o['memory_limits'], `${field}.memory_limits`)?.['limit_in_bytes'], `${field}.memory_limits.limit_in_bytes`) ?? 0;
  if (memory) limits.memory = { limitInBytes: memory };
  const pid = uint(object(o['pid_limits'], `${field}.pid_limits`)?.['max'], `${field}.pid_limits.max`) ?? 0;
  if (pid) limits.pid = { max: pid };
  return Object.keys(limits).length > 0 ? limits : undefined;
}

function portMapping(value: unknown, field: string): PortMapping {
  const o = object(value, field) ?? {};
  return {
    hostPort: uint(o['host_port'], `${field}.host_port`, 65535) ?? 0,
    containerPort: uint(o['container_port'], `${field}.container_port`, 65535) ?? 0,
  };
}

const PROTOCOLS: readonly NetOutProtocol[] = ['all', 'tcp', 'udp', 'icmp'];

/** netOutRuleFromGarden reads Garden's NetOutRule: protocol 0 all, 1 tcp, 2 udp, 3 icmp; a range without end is one value. */
export function netOutRuleFromGarden(value: unknown, field: string): NetOutRule {
  const o = object(value, field) ?? {};
  const rule: NetOutRule = { protocol: PROTOCOLS[uint(o['protocol'], `${field}.protocol`, 3) ?? 0] ?? 'all' };
  const networks = array(o['networks'], `${field}.networks`, (item, f): IpRange => {
    const r = object(item, f) ?? {};
    const start = string(r['start'], `${f}.start`) ?? '';
    return { start, end: string(r['end'], `${f}.end`) || start };
  });
  if (networks) rule.networks = networks;
  const ports = array(o['ports'], `${field}.ports`, (item, f): PortRange => {
    const r = object(item, f) ?? {};
    const start = uint(r['start'], `${f}.start`, 65535) ?? 0;
    return { start, end: uint(r['end'], `${f}.end`, 65535) || start };
  });
  if (ports) rule.ports = ports;
  const icmps = object(o['icmps'], `${field}.icmps`);
  if (icmps) {
    const code = uint(icmps['code'], `${field}.icmps.code`, 255);
    rule.icmps = { type: uint(icmps['type'], `${field}.icmps.type`, 255) ?? 0, ...(code !== undefined && { code }) };
  }
  const log = bool(o['log'], `${field}.log`);
  if (log) rule.log = true;
  return rule;
}

/** graceTimeMs turns Go nanoseconds into ms; a positive grace time never rounds down to 0 (never reaped). */
export function graceTimeMsFromNs(ns: number): number {
  return ns === 0 ? 0 : Math.max(1, Math.round(ns / 1e6));
}

/**
 * containerSpecFromGarden reads Garden's ContainerSpec. grace_time 0 means the server's
 * default, as in Garden; rootfs is the older spelling of image.uri (both is an error, as in
 * guardian).
 */
export function containerSpecFromGarden(value: unknown): ContainerSpec {
  const o = object(value, 'spec') ?? {};
  const spec: ContainerSpec = {};
  const handle = string(o['handle'], 'handle');
  if (handle) spec.handle = handle;
  const graceNs = uint(o['grace_time'], 'grace_time');
  if (graceNs) spec.graceTimeMs = graceTimeMsFromNs(graceNs);
  const rootfs = string(o['rootfs'], 'rootfs') ?? '';
  const image = object(o['image'], 'image');
  const uri = string(image?.['uri'], 'image.uri') ?? '';
  if (rootfs && uri) throw new InvalidArgumentError('image.uri', 'Cannot provide both Image.URI and RootFSPath');
  const username = string(image?.['username'], 'image.username');
  const password = string(image?.['password'], 'image.password');
  if (rootfs || uri) spec.image = { uri: imageUri(uri || rootfs), ...(username && { username }), ...(password && { password }) };
  const bindMounts = array(o['bind_mounts'], 'bind_mounts', (item, f): BindMount => {
    const b = object(item, f) ?? {};
    return {
      srcPath: string(b['src_path'], `${f}.src_path`) ?? '',
      dstPath: string(b['dst_path'], `${f}.dst_path`) ?? '',
      mode: uint(b['mode'], `${f}.mode`, 1) === 1 ? 'rw' : 'ro',
      origin: uint(b['origin'], `${f}.origin`, 1) === 1 ? 'container' : 'host',
    };
  });
  if (bindMounts?.length) spec.bindMounts = bindMounts;
  const network = string(o['network'], 'network');
  if (network) spec.network = network;
  const props = properties(o['properties'], 'properties');
  if (props) spec.properties = props;
  const env = stringArray(o['env'], 'env');
  if (env?.length) spec.env = env;
  const privileged = bool(o['privileged'], 'privileged');
  if (privileged) spec.privileged = true;
  const limits = limitsFromGarden(o['limits'], 'limits');
  if (limits) spec.limits = limits;
  const netIn = array(o['netin'], 'netin', portMapping);
  if (netIn?.length) spec.netIn = netIn;
  const netOut = array(o['netout_rules'], 'netout_rules', netOutRuleFromGarden);
  if (netOut?.length) spec.netOut = netOut;
  return spec;
}

/** ttyFromGarden reads Garden's TTYSpec {window_size: {columns, rows}}. */
export function ttyFromGarden(value: unknown, field: string): TtySpec | undefined {
  const o = object(value, field);
  if (!o) return undefined;
  const ws = object(o['window_size'], `${field}.window_size`);
  if (!ws) return {};
  return {
    windowSize: {
      columns: uint(ws['columns'], `${field}.window_size.columns`, 65535) ?? 0,
      rows: uint(ws['rows'], `${field}.window_size.rows`, 65535) ?? 0,
    },
  };
}

/**
 * processSpecFromGarden reads Garden's ProcessSpec. A process image ("pea"), its bind mounts
 * and per-process limits are refused: Arbor runs every process in its container's rootfs
 * and cgroup.
 */
export function processSpecFromGarden(value: unknown): ProcessSpec {
  const o = object(value, 'spec') ?? {};
  const spec: ProcessSpec = { path: string(o['path'], 'path') ?? '' };
  const id = string(o['id'], 'id');
  if (id) spec.id = id;
  const args = stringArray(o['args'], 'args');
  if (args) spec.args = args;
  const env = stringArray(o['env'], 'env');
  if (env) spec.env = env;
  const dir = string(o['dir'], 'dir');
  if (dir) spec.dir = dir;
  const user = string(o['user'], 'user');
  if (user) spec.user = user;
  const rl = object(o['rlimits'], 'rlimits');
  if (rl) {
    const rlimits: ResourceLimits = {};
    for (const name of RESOURCE_LIMIT_NAMES) {
      const v = uint(rl[name], `rlimits.${name}`);
      if (v !== undefined) rlimits[name] = v;
    }
    if (Object.keys(rlimits).length > 0) spec.rlimits = rlimits;
  }
  const tty = ttyFromGarden(o['tty'], 'tty');
  if (tty) spec.tty = tty;
  if (string(object(o['image'], 'image')?.['uri'], 'image.uri')) {
    throw new InvalidArgumentError('image', "process images (peas) are not supported: a process runs in its container's rootfs");
  }
  if (array(o['bind_mounts'], 'bind_mounts', (x) => x)?.length) {
    throw new InvalidArgumentError('bind_mounts', 'process bind mounts need a process image (peas), which Arbor does not support');
  }
  const override = limitsFromGarden(o['limits'], 'limits');
  if (override) throw new InvalidArgumentError('limits', 'per-process limits are not supported: set limits on the container');
  return spec;
}

/** omitZero drops the fields that Go's omitempty would leave out. */
function omitZero(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0));
}

export function capacityToGarden(c: Capacity): Record<string, number> {
  return omitZero({
    memory_in_bytes: c.memoryInBytes,
    disk_in_bytes: c.diskInBytes,
    schedulable_disk_in_bytes: c.schedulableDiskInBytes,
    max_containers: c.maxContainers,
  });
}

/** GardenContainerInfo is garden.ContainerInfo, untagged: Go's field names as they are. */
export interface GardenContainerInfo {
  State: string;
  Events: string[] | null;
  HostIP: string;
  ContainerIP: string;
  ExternalIP: string;
  ContainerPath: string;
  ProcessIDs: string[] | null;
  Properties: Properties | null;
  MappedPorts: { HostPort: number; ContainerPort: number }[] | null;
}

export function containerInfoToGarden(info: ContainerInfo): GardenContainerInfo {
  return {
    State: info.state,
    Events: info.events,
    HostIP: info.hostIp,
    ContainerIP: info.containerIp,
    ExternalIP: info.externalIp,
    ContainerPath: info.containerPath,
    ProcessIDs: info.processIds,
    Properties: info.properties,
    MappedPorts: info.mappedPorts.map((m) => ({ HostPort: m.hostPort, ContainerPort: m.containerPort })),
  };
}

/** ZERO_INFO is Go's zero ContainerInfo, what BulkInfo carries beside an Err. */
export const ZERO_INFO: GardenContainerInfo = {
  State: '',
  Events: null,
  HostIP: '',
  ContainerIP: '',
  ExternalIP: '',
  ContainerPath: '',
  ProcessIDs: null,
  Properties: null,
  MappedPorts: null,
};

const MEMORY_STAT_KEYS = [
  'active_anon',
  'active_file',
  'cache',
  'hierarchical_memory_limit',
  'inactive_anon',
  'inactive_file',
  'mapped_file',
  'pgfault',
  'pgmajfault',
  'pgpgin',
  'pgpgout',
  'rss',
  'total_active_anon',
  'total_active_file',
  'total_cache',
  'total_inactive_anon',
  'total_inactive_file',
  'total_mapped_file',
  'total_pgfault',
  'total_pgmajfault',
  'total_pgpgin',
  'total_pgpgout',
  'total_rss',
  'total_unevictable',
  'unevictable',
  'swap',
  'hierarchical_memsw_limit',
  'total_swap',
] as const;

/**
 * metricsToGarden renders garden.Metrics: the memory counters Arbor has (rss, cache, swap,
 * the limit, usage toward it) fill their Garden keys and the rest are 0; Age is in ns.
 */
export function metricsToGarden(m: ContainerMetrics): Record<string, unknown> {
  const memory: Record<string, number> = Object.fromEntries(MEMORY_STAT_KEYS.map((k) => [k, 0]));
  Object.assign(memory, {
    cache: m.memory.cache,
    total_cache: m.memory.cache,
    rss: m.memory.rss,
    total_rss: m.memory.rss,
    swap: m.memory.swap,
    total_swap: m.memory.swap,
    hierarchical_memory_limit: m.memory.limitInBytes,
    TotalUsageTowardLimit: m.memory.totalUsageTowardLimit,
  });
  return {
    MemoryStat: memory,
    CPUStat: { Usage: m.cpu.usage, User: m.cpu.user, System: m.cpu.system },
    DiskStat: {
      TotalBytesUsed: m.disk.totalBytesUsed,
      TotalInodesUsed: m.disk.totalInodesUsed,
      ExclusiveBytesUsed: m.disk.exclusiveBytesUsed,
      ExclusiveInodesUsed: m.disk.exclusiveInodesUsed,
    },
    // Garden's clients read an absent NetworkStat as zeros; absent here says the counters could not be read
    ...(m.network && { NetworkStat: { RxBytes: m.network.rxBytes, TxBytes: m.network.txBytes } }),
    PidStat: { Current: m.pid.current, Max: m.pid.max },
    Age: m.ageMs * 1e6,
    CPUEntitlement: 0,
  };
}

/** ZERO_METRICS is Go's zero Metrics, what BulkMetrics carries beside an Err. */
export const ZERO_METRICS = metricsToGarden({
  memory: { usageInBytes: 0, limitInBytes: 0, rss: 0, cache: 0, swap: 0, totalUsageTowardLimit: 0 },
  cpu: { usage: 0, user: 0, system: 0 },
  disk: { totalBytesUsed: 0, totalInodesUsed: 0, exclusiveBytesUsed: 0, exclusiveInodesUsed: 0 },
  network: { rxBytes: 0, txBytes: 0 },
  pid: { current: 0, max: 0 },
  ageMs: 0,
});

export function bandwidthToGarden(l: BandwidthLimits): Record<string, number> {
  return omitZero({ rate: l.rateInBytesPerSecond, burst: l.burstRateInBytesPerSecond });
}

/** cpuToGarden sends weight under both names: limit_in_shares for clients older than weight. */
export function cpuToGarden(l: CpuLimits): Record<string, number> {
  return omitZero({ weight: l.weight, limit_in_shares: l.weight });
}

export function diskToGarden(l: DiskLimits): Record<string, number> {
  return omitZero({
    inode_soft: l.inodeSoft,
    inode_hard: l.inodeHard,
    byte_soft: l.byteSoft,
    byte_hard: l.byteHard,
    scope: l.scope === 'exclusive' ? 1 : 0,
  });
}

export function memoryToGarden(l: MemoryLimits): Record<string, number> {
  return omitZero({ limit_in_bytes: l.limitInBytes });
}
