import { InvalidArgumentError, RESOURCE_LIMIT_NAMES } from '@arbor/core';
import type {
  ArborEvent,
  ArborEventKind,
  BandwidthLimits,
  BindMount,
  Capacity,
  ContainerInfo,
  ContainerMetrics,
  ContainerSpec,
  CpuLimits,
  DiskLimits,
  ImagePullProgress,
  ImageRef,
  Limits,
  MemoryLimits,
  NetOutProtocol,
  NetOutRule,
  PidLimits,
  ProcessSpec,
  PulledImageInfo,
  PullPhase,
  ResourceLimits,
  TtySpec,
} from '@arbor/core';
import * as pb from './gen/arbor/v1/arbor';

// codec translates between the generated proto messages and @arbor/core's types, both ways:
// the server decodes requests and encodes responses, the client the reverse. Decoding
// rejects what core types cannot say, like an unknown enum number.

// ------------------------------------------------------------ proto to core

/** required rejects an absent message field, like a LimitCpuRequest without limits. */
export function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new InvalidArgumentError(field, 'is required');
  return value;
}

/** EnumCodec maps a proto enum to core's string union both ways. */
class EnumCodec<T extends string> {
  private readonly toCore: ReadonlyMap<number, T>;
  private readonly fromCore: ReadonlyMap<T, number>;

  constructor(
    pairs: ReadonlyArray<readonly [number, T]>,
    private readonly names: string,
  ) {
    this.toCore = new Map(pairs);
    this.fromCore = new Map(pairs.map(([n, t]) => [t, n]));
  }

  /** fromProto rejects a number core cannot say, like an enum value from a newer client. */
  fromProto(value: number, field: string): T {
    const found = this.toCore.get(value);
    if (found === undefined) throw new InvalidArgumentError(field, `unknown value ${value}: use one of ${this.names}`);
    return found;
  }

  toProto(value: T): number {
    const found = this.fromCore.get(value);
    if (found === undefined) throw new InvalidArgumentError('enum', `unknown value '${value}'`);
    return found;
  }
}

const bindModes = new EnumCodec<BindMount['mode']>(
  [
    [pb.BindMountMode.BIND_MOUNT_MODE_RO, 'ro'],
    [pb.BindMountMode.BIND_MOUNT_MODE_RW, 'rw'],
  ],
  'BIND_MOUNT_MODE_RO, BIND_MOUNT_MODE_RW',
);
const bindOrigins = new EnumCodec<BindMount['origin']>(
  [
    [pb.BindMountOrigin.BIND_MOUNT_ORIGIN_HOST, 'host'],
    [pb.BindMountOrigin.BIND_MOUNT_ORIGIN_CONTAINER, 'container'],
  ],
  'BIND_MOUNT_ORIGIN_HOST, BIND_MOUNT_ORIGIN_CONTAINER',
);
const diskScopes = new EnumCodec<DiskLimits['scope']>(
  [
    [pb.DiskLimitScope.DISK_LIMIT_SCOPE_TOTAL, 'total'],
    [pb.DiskLimitScope.DISK_LIMIT_SCOPE_EXCLUSIVE, 'exclusive'],
  ],
  'DISK_LIMIT_SCOPE_TOTAL, DISK_LIMIT_SCOPE_EXCLUSIVE',
);
const protocols = new EnumCodec<NetOutProtocol>(
  [
    [pb.NetOutProtocol.NET_OUT_PROTOCOL_ALL, 'all'],
    [pb.NetOutProtocol.NET_OUT_PROTOCOL_TCP, 'tcp'],
    [pb.NetOutProtocol.NET_OUT_PROTOCOL_UDP, 'udp'],
    [pb.NetOutProtocol.NET_OUT_PROTOCOL_ICMP, 'icmp'],
  ],
  'NET_OUT_PROTOCOL_ALL, _TCP, _UDP, _ICMP',
);

const pullPhases = new EnumCodec<PullPhase>(
  [
    [pb.PullPhase.PULL_PHASE_RESOLVING, 'resolving'],
    [pb.PullPhase.PULL_PHASE_WAITING, 'waiting'],
    [pb.PullPhase.PULL_PHASE_EXISTS, 'exists'],
    [pb.PullPhase.PULL_PHASE_DOWNLOADING, 'downloading'],
    [pb.PullPhase.PULL_PHASE_UNPACKED, 'unpacked'],
    [pb.PullPhase.PULL_PHASE_COMMITTING, 'committing'],
    [pb.PullPhase.PULL_PHASE_DONE, 'done'],
  ],
  'PULL_PHASE_RESOLVING ... PULL_PHASE_DONE',
);

const eventKinds = new EnumCodec<ArborEventKind>(
  [
    [pb.EventKind.EVENT_KIND_CREATED, 'created'],
    [pb.EventKind.EVENT_KIND_STOPPED, 'stopped'],
    [pb.EventKind.EVENT_KIND_DESTROYED, 'destroyed'],
    [pb.EventKind.EVENT_KIND_REAPED, 'reaped'],
    [pb.EventKind.EVENT_KIND_OOM, 'oom'],
    [pb.EventKind.EVENT_KIND_PROCESS_EXITED, 'process-exited'],
  ],
  'EVENT_KIND_CREATED ... EVENT_KIND_PROCESS_EXITED',
);

/** eventFromProto rejects an unknown kind; processId and exitCode come only with 'process-exited'. */
export function eventFromProto(p: pb.Event): ArborEvent {
  const kind = eventKinds.fromProto(p.kind, 'kind');
  const event: ArborEvent = { kind, handle: p.handle, timeMs: p.timeMs, message: p.message };
  if (kind === 'process-exited') {
    event.processId = p.processId;
    event.exitCode = p.exitCode;
  }
  return event;
}

/** imageRefFromProto: an absent image is the server's default (uri ''); empty credentials are none. */
export function imageRefFromProto(p: pb.ImageRef | undefined): ImageRef {
  return {
    uri: p?.uri ?? '',
    ...(p?.username && { username: p.username }),
    ...(p?.password && { password: p.password }),
  };
}

export function pulledImageFromProto(p: pb.PulledImage): PulledImageInfo {
  return {
    id: p.id,
    layers: p.layers,
    env: [...p.env],
    user: p.user,
    workingDir: p.workingDir,
    entrypoint: [...p.entrypoint],
    cmd: [...p.cmd],
  };
}

/** pullProgressFromProto rejects an unknown phase, and a 'done' without its image. */
export function pullProgressFromProto(p: pb.PullImageProgress): ImagePullProgress {
  const phase = pullPhases.fromProto(p.phase, 'phase');
  const out: ImagePullProgress = { phase, layer: p.layer, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal };
  if (phase === 'done') out.image = pulledImageFromProto(required(p.image, 'image'));
  else if (p.image) out.image = pulledImageFromProto(p.image);
  return out;
}

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
    scope: diskScopes.fromProto(p.scope, `${field}.scope`),
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
    protocol: protocols.fromProto(rule.protocol, `${field}.protocol`),
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
      mode: bindModes.fromProto(m.mode, `bindMounts[${i}].mode`),
      origin: bindOrigins.fromProto(m.origin, `bindMounts[${i}].origin`),
      ...(m.idmap && { idmap: true }),
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
    for (const name of RESOURCE_LIMIT_NAMES) {
      const value = spec.rlimits[name];
      if (value !== undefined) rlimits[name] = value;
    }
    if (Object.keys(rlimits).length) out.rlimits = rlimits;
  }
  if (spec.tty) out.tty = ttyFromProto(spec.tty);
  return out;
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
  const network = m.network;
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
    // absent: the server could not read the counters (ContainerMetrics.network)
    ...(network && { network: { rxBytes: network.rxBytes, txBytes: network.txBytes } }),
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

// ------------------------------------------------------------ core to proto

export function limitsToProto(l: Limits): pb.Limits {
  const out: pb.Limits = {};
  if (l.bandwidth) out.bandwidth = bandwidthToProto(l.bandwidth);
  if (l.cpu) out.cpu = cpuToProto(l.cpu);
  if (l.disk) out.disk = diskToProto(l.disk);
  if (l.memory) out.memory = memoryToProto(l.memory);
  if (l.pid) out.pid = pidToProto(l.pid);
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
    // undefined: not sent, so the client reads it as absent too
    network: m.network && { ...m.network },
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

export function bandwidthToProto(l: BandwidthLimits): pb.BandwidthLimits {
  return { rateInBytesPerSecond: l.rateInBytesPerSecond, burstRateInBytesPerSecond: l.burstRateInBytesPerSecond };
}

export function cpuToProto(l: CpuLimits): pb.CpuLimits {
  return { weight: l.weight };
}

export function diskToProto(l: DiskLimits): pb.DiskLimits {
  return { byteSoft: l.byteSoft, byteHard: l.byteHard, inodeSoft: l.inodeSoft, inodeHard: l.inodeHard, scope: diskScopes.toProto(l.scope) };
}

export function memoryToProto(l: MemoryLimits): pb.MemoryLimits {
  return { limitInBytes: l.limitInBytes };
}

export function pidToProto(l: PidLimits): pb.PidLimits {
  return { max: l.max };
}

export function netOutRuleToProto(rule: NetOutRule): pb.NetOutRule {
  return {
    protocol: protocols.toProto(rule.protocol),
    networks: (rule.networks ?? []).map((n) => ({ start: n.start, end: n.end })),
    ports: (rule.ports ?? []).map((p) => ({ start: p.start, end: p.end })),
    ...(rule.icmps && { icmps: { type: rule.icmps.type, ...(rule.icmps.code !== undefined && { code: rule.icmps.code }) } }),
    log: rule.log ?? false,
  };
}

export function imageRefToProto(image: ImageRef): pb.ImageRef {
  return { uri: image.uri, username: image.username ?? '', password: image.password ?? '' };
}

export function pulledImageToProto(image: PulledImageInfo): pb.PulledImage {
  return {
    id: image.id,
    layers: image.layers,
    env: [...image.env],
    user: image.user,
    workingDir: image.workingDir,
    entrypoint: [...image.entrypoint],
    cmd: [...image.cmd],
  };
}

export function eventToProto(event: ArborEvent): pb.Event {
  return {
    kind: eventKinds.toProto(event.kind),
    handle: event.handle,
    processId: event.processId ?? '',
    exitCode: event.exitCode ?? 0,
    timeMs: event.timeMs,
    message: event.message,
  };
}

export function pullProgressToProto(progress: ImagePullProgress): pb.PullImageProgress {
  return {
    phase: pullPhases.toProto(progress.phase),
    layer: progress.layer,
    bytesDone: progress.bytesDone,
    bytesTotal: progress.bytesTotal,
    image: progress.image ? pulledImageToProto(progress.image) : undefined,
  };
}

export function containerSpecToProto(spec: ContainerSpec): pb.ContainerSpec {
  return {
    handle: spec.handle ?? '',
    ...(spec.graceTimeMs !== undefined && { graceTimeMs: spec.graceTimeMs }),
    image: spec.image ? { uri: spec.image.uri, username: spec.image.username ?? '', password: spec.image.password ?? '' } : undefined,
    bindMounts: (spec.bindMounts ?? []).map((m) => ({
      srcPath: m.srcPath,
      dstPath: m.dstPath,
      mode: bindModes.toProto(m.mode),
      origin: bindOrigins.toProto(m.origin),
      idmap: m.idmap ?? false,
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
