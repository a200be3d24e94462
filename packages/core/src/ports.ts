import type { Readable } from 'node:stream';
import type { ImagePullProgress, Process, PulledImageInfo } from './client';
import type {
  BandwidthLimits,
  BindMount,
  ContainerState,
  CpuStat,
  DiskLimits,
  DiskStat,
  ImageRef,
  Limits,
  MemoryStat,
  NetOutRule,
  NetworkStat,
  PidStat,
  PortMapping,
  PortRange,
  ProcessIO,
  ProcessSpec,
  Properties,
  Signal,
  StreamInSpec,
  StreamOutSpec,
  TtySpec,
} from './types';

// The ports below are what the Gardener composes. Every destroy-like call is idempotent:
// destroying what is not there succeeds, so a failed create or a crash can be cleaned up by
// running destroy again.

/** Rootfs is a container's root filesystem and the defaults its image brings. */
export interface Rootfs {
  /** path is like /var/lib/arbor/images/rootfs/<handle>, or '' for a backend without files on disk. */
  path: string;
  /** env entries are 'KEY=VALUE', from the image config. */
  env: string[];
  /** user is the image's default user, like 'nobody' or '1000:1000'; '' means root. */
  user: string;
  /** workingDir is the image's default working directory; '' means the user's home. */
  workingDir: string;
  /** entrypoint and cmd from the image config, for clients that run the image's program. */
  entrypoint: string[];
  cmd: string[];
}

/** Volumizer makes root filesystems from images. */
export interface Volumizer {
  create(handle: string, image: ImageRef, disk: DiskLimits | undefined): Promise<Rootfs>;
  destroy(handle: string): Promise<void>;
  limitDisk(handle: string, disk: DiskLimits): Promise<void>;
  metrics(handle: string): Promise<DiskStat>;
  capacity(): Promise<{ diskInBytes: number; schedulableDiskInBytes: number }>;
  /**
   * pull fetches an image into the volumizer's store ahead of create, reporting progress
   * (its 'done' event, if any, is replaced by the Gardener's). Absent on volumizers that
   * keep no images.
   */
  pull?(image: ImageRef, onProgress: (progress: ImagePullProgress) => void): Promise<PulledImageInfo>;
  /** close releases arbord's own host resources (a loop mount) when no container holds them; containers keep theirs. */
  close?(): Promise<void>;
}

/** DesiredContainer is what the Gardener asks a Containerizer to make. */
export interface DesiredContainer {
  handle: string;
  /** hostname is the last 49 characters of the handle. */
  hostname: string;
  rootfs: Rootfs;
  /** env is the image env overlaid with the spec env, 'KEY=VALUE'. */
  env: string[];
  bindMounts: BindMount[];
  privileged: boolean;
  limits: Limits;
}

/** CreatedContainer tells the Networker where to wire the container. */
export interface CreatedContainer {
  /** netnsPath is like /proc/1234/ns/net, or '' for a backend without namespaces. */
  netnsPath: string;
}

export interface ContainerizerInfo {
  state: ContainerState;
  events: string[];
  processIds: string[];
  /** containerPath is like /var/lib/arbor/depot/<handle>. */
  containerPath: string;
}

export interface ContainerizerMetrics {
  memory: MemoryStat;
  cpu: CpuStat;
  pid: PidStat;
}

/** RunRequest is a process spec after the Gardener has validated it and given it an id. */
export type RunRequest = ProcessSpec & { id: string };

/** Containerizer makes and runs containers: namespaces and cgroups, runc, or memory. */
export interface Containerizer {
  create(desired: DesiredContainer): Promise<CreatedContainer>;
  destroy(handle: string): Promise<void>;
  stop(handle: string, kill: boolean): Promise<void>;
  run(handle: string, spec: RunRequest, io: ProcessIO): Promise<Process>;
  attach(handle: string, processId: string, io: ProcessIO): Promise<Process>;
  streamIn(handle: string, spec: StreamInSpec): Promise<void>;
  streamOut(handle: string, spec: StreamOutSpec): Promise<Readable>;
  info(handle: string): Promise<ContainerizerInfo>;
  metrics(handle: string): Promise<ContainerizerMetrics>;
  /** limit applies the cpu, memory and pid fields present in limits to a live container. */
  limit(handle: string, limits: Pick<Limits, 'cpu' | 'memory' | 'pid'>): Promise<void>;
  /** handles lists every container the containerizer holds, for the sweep at start. */
  handles(): Promise<string[]>;
  capacity(): Promise<{ memoryInBytes: number; maxContainers: number }>;
  /** close releases arbord's own resources (open FIFOs, coprocesses); containers keep running. */
  close?(): Promise<void>;
}

export interface NetworkConfig {
  /** network is the spec's request: '' (from the pool), a subnet, or an exact address. */
  network: string;
  netnsPath: string;
  /** rootfsPath is where /etc/hosts and /etc/resolv.conf go; '' for a backend without files on disk. */
  rootfsPath: string;
  /** hostname is the container's hostname, for its /etc/hosts. */
  hostname: string;
}

export interface NetworkInfo {
  hostIp: string;
  containerIp: string;
  externalIp: string;
  /** subnet is the container's subnet, like '10.254.0.0/30', kept so a restart re-reserves it exactly. */
  subnet: string;
}

/** Networker gives containers addresses, port mappings, egress rules and bandwidth limits. */
export interface Networker {
  setup(handle: string, config: NetworkConfig): Promise<NetworkInfo>;
  /** netIn: hostPort 0 takes one from the pool; containerPort 0 means the host port. */
  netIn(handle: string, hostPort: number, containerPort: number): Promise<PortMapping>;
  /** netOut appends rules to the container's egress allow list: all or none. */
  netOut(handle: string, rules: NetOutRule[]): Promise<void>;
  limitBandwidth(handle: string, limits: BandwidthLimits): Promise<void>;
  metrics(handle: string): Promise<NetworkStat>;
  destroy(handle: string): Promise<void>;
  /** restore re-reserves what the given containers held before a restart, and sweeps the rest. */
  restore(records: readonly ContainerRecord[]): Promise<void>;
  /**
   * capacity says how many containers the networker can address: the /30s its pool hands out,
   * like 256 for 10.254.0.0/22. Absent on a networker without a pool (no cap of its own).
   */
  capacity?(): Promise<{ maxContainers: number }>;
  /** close releases arbord's own resources (helper coprocesses); container networks stay. */
  close?(): Promise<void>;
}

/**
 * ContainerRecord is what the Depot keeps for a container. 'creating' and 'destroying'
 * records found at start belong to a create or destroy that did not finish: they are destroyed.
 */
export interface ContainerRecord {
  handle: string;
  phase: 'creating' | 'created' | 'destroying';
  createdAtMs: number;
  graceTimeMs: number;
  /** properties are the client's own; internal state never goes here. */
  properties: Properties;
  limits: Limits;
  network: NetworkInfo;
  mappedPorts: PortMapping[];
  netOut: NetOutRule[];
  /** rootfs is the Volumizer's answer, kept so processes get the image defaults after a restart. */
  rootfs: Rootfs;
  /** env is the container env (image env + spec env). */
  env: string[];
}

/** Depot stores container records; save is durable (atomic, synced) before it resolves. */
export interface Depot {
  save(record: ContainerRecord): Promise<void>;
  load(handle: string): Promise<ContainerRecord | undefined>;
  remove(handle: string): Promise<void>;
  list(): Promise<ContainerRecord[]>;
}

export interface HandleGenerator {
  /** generate returns a new handle, like 'c5a1e8d0-3b0f-4e4f-9b1e-6f2d7f1f3a9c'. */
  generate(): string;
}

/** Timer is a cancellable scheduled call. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  setTimer(ms: number, fn: () => void): Timer;
}

export interface GardenerConfig {
  /** defaultGraceTimeMs applies when a spec has none; 0 means never reaped. */
  defaultGraceTimeMs: number;
  /**
   * maxContainers caps the containers; 0 means the ports decide: the smaller of the
   * Containerizer's capacity and the Networker's (the /30s its pool holds, like 256 for a /22).
   * A cap above the Networker's is lowered to it: a container needs an address.
   */
  maxContainers: number;
  /**
   * defaultPidLimit is the pid limit, like 4096, of containers created without one, so that a
   * fork bomb in one cannot take every pid of the host; a spec's own limit, 0 (unlimited)
   * included, wins. 0 or absent means no default.
   */
  defaultPidLimit?: number;
  /**
   * netInHostPorts, when given, bounds the host ports a NetIn may name (a NetIn DNATs every
   * connection to its host port, so one on 22 would take the host's ssh): allowed ranges,
   * like 1024-65535, less reserved ports, like arbord's own 7777. Host port 0 (one from the
   * networker's pool) always passes. Absent allows every port, as Garden does.
   */
  netInHostPorts?: { allowed: readonly PortRange[]; reserved: readonly number[] };
}

/** ContainerPhase is a step of create and destroy, each done by one port: 'volume' by the Volumizer. */
export type ContainerPhase = 'volume' | 'containerizer' | 'network';

/**
 * GardenerObserver hears how long the Gardener's steps take, for arbord's /metrics. It is
 * called on the request path: it must neither throw nor wait. Optional in GardenerPorts.
 */
export interface GardenerObserver {
  /** phase: one step of a create or destroy took seconds, like 0.012; ok is false when it threw. */
  phase(op: 'create' | 'destroy', phase: ContainerPhase, seconds: number, ok: boolean): void;
  /** imagePull: one pullImage (ahead of a create) took seconds; ok is false when it threw. */
  imagePull(seconds: number, ok: boolean): void;
}

/** Re-exported so backends can name these without reaching into types. */
export type { Signal, TtySpec, Properties };
