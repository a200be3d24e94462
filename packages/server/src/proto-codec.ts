import { InvalidArgumentError } from '@arbor/core';
import type {
  BandwidthLimits,
  BindMount,
  Capacity,
  ContainerInfo,
  ContainerMetrics,
  ContainerSpec,
  CpuLimits,
  DiskLimits,
  Limits,
  MemoryLimits,
  NetOutProtocol,
  NetOutRule,
  PidLimits,
  ProcessSpec,
  ResourceLimitName,
  ResourceLimits,
  TtySpec,
} from '@arbor/core';
import * as pb from '@arbor/proto';

// The server's half of the wire codec: requests from proto to core types (rejecting what
// core types cannot say, like an unknown enum number), responses from core types to proto.

/** required rejects an absent message field, like a LimitCpuRequest without limits. */
export function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new InvalidArgumentError(field, 'is required');
  return value;
}

function enumValue<T>(table: ReadonlyMap<number, T>, value: number, field: string, names: string): T {
  const found = table.get(value);
  if (found === undefined) throw new InvalidArgumentError(field, `unknown value ${value}: use one of ${names}`);
  return found;
}

const bindModes = new Map<number, BindMount['mode']>([
  [pb.BindMountMode.BIND_MOUNT_MODE_RO, 'ro'],
  [pb.BindMountMode.BIND_MOUNT_MODE_RW, 'rw'],
]);
const bindOrigins = new Map<number, BindMount['origin']>([
  [pb.BindMountOrigin.BIND_MOUNT_ORIGIN_HOST, 'host'],
  [pb.BindMountOrigin.BIND_MOUNT_ORIGIN_CONTAINER, 'container'],
]);
const diskScopes = new Map<number, DiskLimits['scope']>([
  [pb.DiskLimitScope.DISK_LIMIT_SCOPE_TOTAL, 'total'],
  [pb.DiskLimitScope.DISK_LIMIT_SCOPE_EXCLUSIVE, 'exclusive'],
]);
const protocols = new Map<number, NetOutProtocol>([
  [pb.NetOutProtocol.NET_OUT_PROTOCOL_ALL, 'all'],
  [pb.NetOutProtocol.NET_OUT_PROTOCOL_TCP, 'tcp'],
  [pb.NetOutProtocol.NET_OUT_PROTOCOL_UDP, 'udp'],
  [pb.NetOutProtocol.NET_OUT_PROTOCOL_ICMP, 'icmp'],
]);

export function bandwidthFromProto(p: pb.BandwidthLimits): BandwidthLimits {
  return { rateInBytesPerSecond: p.rateInBytesPerSecond, burstRateInBytesPerSecond: p.burstRateInBytesPerSecond };
}

export function cpuFromProto(p: pb.CpuLimits): CpuLimits {
  return { weight: p.weight };
}

export function diskFromProto(p: pb.DiskLimits, field = 'limits.disk'): DiskLimits {
  return {
    byteSoft: p.byteSoft,
    byteHard: p.byteHard,
    inodeSoft: p.inodeSoft,
    inodeHard: p.inodeHard,
    scope: enumValue(diskScopes, p.scope, `${field}.scope`, 'DISK_LIMIT_SCOPE_TOTAL, DISK_LIMIT_SCOPE_EXCLUSIVE'),
  };
}

export function memoryFromProto(p: pb.MemoryLimits): MemoryLimits {
  return { limitInBytes: p.limitInBytes };
}

export function pidFromProto(p: pb.PidLimits): PidLimits {
  return { max: p.max };
}

export function limitsFromProto(p: pb.Limits | undefined, field = 'limits'): Limits {
  const limits: Limits = {};
  if (!p) return limits;
  if (p.bandwidth) limits.bandwidth = bandwidthFromProto(p.bandwidth);
  if (p.cpu) limits.cpu = cpuFromProto(p.cpu);
  if (p.disk) limits.disk = diskFromProto(p.disk, `${field}.disk`);
  if (p.memory) limits.memory = memoryFromProto(p.memory);
  if (p.pid) limits.pid = pidFromProto(p.pid);
  return limits;
}

export function netOutRuleFromProto(p: pb.NetOutRule | undefined, field = 'rule'): NetOutRule {
  const rule = required(p, field);
  const out: NetOutRule = {
    protocol: enumValue(protocols, rule.protocol, `${field}.protocol`, 'NET_OUT_PROTOCOL_ALL, _TCP, _UDP, _ICMP'),
  };
  if (rule.networks.length) out.networks = rule.networks.map((n) => ({ start: n.start, end: n.end }));
  if (rule.ports.length) out.ports = rule.ports.map((r) => ({ start: r.start, end: r.end }));
  if (rule.icmps) out.icmps = { type: rule.icmps.type, ...(rule.icmps.code !== undefined && { code: rule.icmps.code }) };
  if (rule.log) out.log = true;
  return out;
}

export function containerSpecFromProto(p: pb.ContainerSpec | undefined): ContainerSpec {
  const spec = required(p, 'spec');
  const out: ContainerSpec = {};
  if (spec.handle) out.handle = spec.handle;
  if (spec.graceTimeMs !== undefined) out.graceTimeMs = spec.graceTimeMs;
  if (spec.image && (spec.image.uri || spec.image.username || spec.image.password)) {
    out.image = {
      uri: spec.image.uri,
      ...(spec.image.username && { username: spec.image.username }),
      ...(spec.image.password && { password: spec.image.password }),
    };
  }
  if (spec.bindMounts.length) {
    out.bindMounts = spec.bindMounts.map((m, i) => ({
      srcPath: m.srcPath,
      dstPath: m.dstPath,
      mode: enumValue(bindModes, m.mode, `bindMounts[${i}].mode`, 'BIND_MOUNT_MODE_RO, BIND_MOUNT_MODE_RW'),
      origin: enumValue(bindOrigins, m.origin, `bindMounts[${i}].origin`, 'BIND_MOUNT_ORIGIN_HOST, _CONTAINER'),
    }));
  }
  if (spec.network) out.network = spec.network;
  if (Object.keys(spec.properties).length) out.properties = { ...spec.properties };
  if (spec.env.length) out.env = [...spec.env];
  if (spec.privileged) out.privileged = true;
  if (spec.limits) out.limits = limitsFromProto(spec.limits);
  if (spec.netIn.length) out.netIn = spec.netIn.map((m) => ({ hostPort: m.hostPort, containerPort: m.containerPort }));
  if (spec.netOut.length) out.netOut = spec.netOut.map((r, i) => netOutRuleFromProto(r, `netOut[${i}]`));
  return out;
}

const rlimitNames: readonly ResourceLimitName[] = [
  'as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue',
  'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'sigpending', 'stack',
];

export function ttyFromProto(p: pb.TtySpec): TtySpec {
  return p.windowSize ? { windowSize: { columns: p.windowSize.columns, rows: p.windowSize.rows } } : {};
}

export function processSpecFromProto(p: pb.ProcessSpec | undefined): ProcessSpec {
  const spec = required(p, 'spec');
  const out: ProcessSpec = { path: spec.path };
  if (spec.id) out.id = spec.id;
  if (spec.args.length) out.args = [...spec.args];
  if (spec.env.length) out.env = [...spec.env];
  if (spec.dir) out.dir = spec.dir;
  if (spec.user) out.user = spec.user;
  if (spec.rlimits) {
    const rlimits: ResourceLimits = {};
    for (const name of rlimitNames) {
      const value = spec.rlimits[name];
      if (value !== undefined) rlimits[name] = value;
    }
    if (Object.keys(rlimits).length) out.rlimits = rlimits;
  }
  if (spec.tty) out.tty = ttyFromProto(spec.tty);
  return out;
}

// ------------------------------------------------------------ responses

const scopeToProto: Record<DiskLimits['scope'], pb.DiskLimitScope> = {
  total: pb.DiskLimitScope.DISK_LIMIT_SCOPE_TOTAL,
  exclusive: pb.DiskLimitScope.DISK_LIMIT_SCOPE_EXCLUSIVE,
};

export function limitsToProto(limits: Limits): pb.Limits {
  const out: pb.Limits = {};
  if (limits.bandwidth) out.bandwidth = { ...limits.bandwidth };
  if (limits.cpu) out.cpu = { weight: limits.cpu.weight };
  if (limits.disk) out.disk = { ...limits.disk, scope: scopeToProto[limits.disk.scope] };
  if (limits.memory) out.memory = { limitInBytes: limits.memory.limitInBytes };
  if (limits.pid) out.pid = { max: limits.pid.max };
  return out;
}

export function containerInfoToProto(info: ContainerInfo): pb.ContainerInfo {
  return {
    state: info.state,
    events: [...info.events],
    hostIp: info.hostIp,
    containerIp: info.containerIp,
    externalIp: info.externalIp,
    containerPath: info.containerPath,
    processIds: [...info.processIds],
    properties: { ...info.properties },
    mappedPorts: info.mappedPorts.map((m) => ({ hostPort: m.hostPort, containerPort: m.containerPort })),
  };
}

export function containerMetricsToProto(m: ContainerMetrics): pb.ContainerMetrics {
  return {
    memory: { ...m.memory },
    cpu: { ...m.cpu },
    disk: { ...m.disk },
    network: { ...m.network },
    pid: { ...m.pid },
    ageMs: m.ageMs,
  };
}

export function capacityToProto(c: Capacity): pb.CapacityResponse {
  return {
    memoryInBytes: c.memoryInBytes,
    diskInBytes: c.diskInBytes,
    schedulableDiskInBytes: c.schedulableDiskInBytes,
    maxContainers: c.maxContainers,
  };
}
