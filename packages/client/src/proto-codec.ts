import type {
  BandwidthLimits,
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
  TtySpec,
} from '@arbor/core';
import * as pb from '@arbor/proto';

// The client's half of the wire codec: requests from core types to proto, responses from
// proto to core types (the server holds the other half).

const bindModes: Record<'ro' | 'rw', pb.BindMountMode> = {
  ro: pb.BindMountMode.BIND_MOUNT_MODE_RO,
  rw: pb.BindMountMode.BIND_MOUNT_MODE_RW,
};
const bindOrigins: Record<'host' | 'container', pb.BindMountOrigin> = {
  host: pb.BindMountOrigin.BIND_MOUNT_ORIGIN_HOST,
  container: pb.BindMountOrigin.BIND_MOUNT_ORIGIN_CONTAINER,
};
const scopes: Record<DiskLimits['scope'], pb.DiskLimitScope> = {
  total: pb.DiskLimitScope.DISK_LIMIT_SCOPE_TOTAL,
  exclusive: pb.DiskLimitScope.DISK_LIMIT_SCOPE_EXCLUSIVE,
};
const protocols: Record<NetOutProtocol, pb.NetOutProtocol> = {
  all: pb.NetOutProtocol.NET_OUT_PROTOCOL_ALL,
  tcp: pb.NetOutProtocol.NET_OUT_PROTOCOL_TCP,
  udp: pb.NetOutProtocol.NET_OUT_PROTOCOL_UDP,
  icmp: pb.NetOutProtocol.NET_OUT_PROTOCOL_ICMP,
};

export function bandwidthToProto(l: BandwidthLimits): pb.BandwidthLimits {
  return { rateInBytesPerSecond: l.rateInBytesPerSecond, burstRateInBytesPerSecond: l.burstRateInBytesPerSecond };
}

export function cpuToProto(l: CpuLimits): pb.CpuLimits {
  return { weight: l.weight };
}

export function diskToProto(l: DiskLimits): pb.DiskLimits {
  return { byteSoft: l.byteSoft, byteHard: l.byteHard, inodeSoft: l.inodeSoft, inodeHard: l.inodeHard, scope: scopes[l.scope] };
}

export function memoryToProto(l: MemoryLimits): pb.MemoryLimits {
  return { limitInBytes: l.limitInBytes };
}

export function pidToProto(l: PidLimits): pb.PidLimits {
  return { max: l.max };
}

export function limitsToProto(l: Limits): pb.Limits {
  const out: pb.Limits = {};
  if (l.bandwidth) out.bandwidth = bandwidthToProto(l.bandwidth);
  if (l.cpu) out.cpu = cpuToProto(l.cpu);
  if (l.disk) out.disk = diskToProto(l.disk);
  if (l.memory) out.memory = memoryToProto(l.memory);
  if (l.pid) out.pid = pidToProto(l.pid);
  return out;
}

export function netOutRuleToProto(rule: NetOutRule): pb.NetOutRule {
  return {
    protocol: protocols[rule.protocol],
    networks: (rule.networks ?? []).map((n) => ({ start: n.start, end: n.end })),
    ports: (rule.ports ?? []).map((p) => ({ start: p.start, end: p.end })),
    ...(rule.icmps && { icmps: { type: rule.icmps.type, ...(rule.icmps.code !== undefined && { code: rule.icmps.code }) } }),
    log: rule.log ?? false,
  };
}

export function containerSpecToProto(spec: ContainerSpec): pb.ContainerSpec {
  return {
    handle: spec.handle ?? '',
    ...(spec.graceTimeMs !== undefined && { graceTimeMs: spec.graceTimeMs }),
    image: spec.image
      ? { uri: spec.image.uri, username: spec.image.username ?? '', password: spec.image.password ?? '' }
      : undefined,
    bindMounts: (spec.bindMounts ?? []).map((m) => ({
      srcPath: m.srcPath,
      dstPath: m.dstPath,
      mode: bindModes[m.mode],
      origin: bindOrigins[m.origin],
    })),
    network: spec.network ?? '',
    properties: { ...spec.properties },
    env: [...(spec.env ?? [])],
    privileged: spec.privileged ?? false,
    limits: spec.limits ? limitsToProto(spec.limits) : undefined,
    netIn: (spec.netIn ?? []).map((m) => ({ hostPort: m.hostPort, containerPort: m.containerPort })),
    netOut: (spec.netOut ?? []).map(netOutRuleToProto),
  };
}

export function ttyToProto(tty: TtySpec): pb.TtySpec {
  return tty.windowSize ? { windowSize: { columns: tty.windowSize.columns, rows: tty.windowSize.rows } } : {};
}

export function processSpecToProto(spec: ProcessSpec): pb.ProcessSpec {
  return {
    id: spec.id ?? '',
    path: spec.path,
    args: [...(spec.args ?? [])],
    env: [...(spec.env ?? [])],
    dir: spec.dir ?? '',
    user: spec.user ?? '',
    rlimits: spec.rlimits ? { ...spec.rlimits } : undefined,
    ...(spec.tty && { tty: ttyToProto(spec.tty) }),
  };
}

// ------------------------------------------------------------ responses

const scopeNames = new Map<number, DiskLimits['scope']>([
  [pb.DiskLimitScope.DISK_LIMIT_SCOPE_TOTAL, 'total'],
  [pb.DiskLimitScope.DISK_LIMIT_SCOPE_EXCLUSIVE, 'exclusive'],
]);

export function limitsFromProto(p: pb.Limits | undefined): Limits {
  const out: Limits = {};
  if (!p) return out;
  if (p.bandwidth) out.bandwidth = bandwidthFromProto(p.bandwidth);
  if (p.cpu) out.cpu = { weight: p.cpu.weight };
  if (p.disk) {
    const d = p.disk;
    out.disk = {
      byteSoft: d.byteSoft,
      byteHard: d.byteHard,
      inodeSoft: d.inodeSoft,
      inodeHard: d.inodeHard,
      scope: scopeNames.get(d.scope) ?? 'total',
    };
  }
  if (p.memory) out.memory = { limitInBytes: p.memory.limitInBytes };
  if (p.pid) out.pid = { max: p.pid.max };
  return out;
}

function bandwidthFromProto(p: pb.BandwidthLimits): BandwidthLimits {
  return { rateInBytesPerSecond: p.rateInBytesPerSecond, burstRateInBytesPerSecond: p.burstRateInBytesPerSecond };
}

export function containerInfoFromProto(p: pb.ContainerInfo | undefined): ContainerInfo {
  const info = p ?? pb.ContainerInfo.create();
  return {
    state: info.state === 'stopped' ? 'stopped' : 'active',
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

export function containerMetricsFromProto(p: pb.ContainerMetrics | undefined): ContainerMetrics {
  const m = p ?? pb.ContainerMetrics.create();
  const memory = m.memory ?? pb.MemoryStat.create();
  const cpu = m.cpu ?? pb.CpuStat.create();
  const disk = m.disk ?? pb.DiskStat.create();
  const network = m.network ?? pb.NetworkStat.create();
  const pid = m.pid ?? pb.PidStat.create();
  return {
    memory: {
      usageInBytes: memory.usageInBytes,
      limitInBytes: memory.limitInBytes,
      rss: memory.rss,
      cache: memory.cache,
      swap: memory.swap,
      totalUsageTowardLimit: memory.totalUsageTowardLimit,
    },
    cpu: { usage: cpu.usage, user: cpu.user, system: cpu.system },
    disk: {
      totalBytesUsed: disk.totalBytesUsed,
      totalInodesUsed: disk.totalInodesUsed,
      exclusiveBytesUsed: disk.exclusiveBytesUsed,
      exclusiveInodesUsed: disk.exclusiveInodesUsed,
    },
    network: { rxBytes: network.rxBytes, txBytes: network.txBytes },
    pid: { current: pid.current, max: pid.max },
    ageMs: m.ageMs,
  };
}

export function capacityFromProto(p: pb.CapacityResponse): Capacity {
  return {
    memoryInBytes: p.memoryInBytes,
    diskInBytes: p.diskInBytes,
    schedulableDiskInBytes: p.schedulableDiskInBytes,
    maxContainers: p.maxContainers,
  };
}
