import type { Readable } from 'node:stream';
import type { CallContext } from './call-context';
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
//
// Errors: each method lists with @throws the ArborErrors (core's errors.ts) it may throw.
// Beyond them any method may throw ArborError 'internal' (the host refused a step, like a
// mount or a netlink request, with the reason) and HostPreconditionError (failedPrecondition:
// the host lacks a tool or setup, like mkfs.btrfs or iptables, and an operator must add it).
// Anything else, a plain Error, is a bug: it reaches clients as INTERNAL.
//
// ctx: methods that serve a client call take its CallContext last, optional, and log with
// ctx.logger (the call's logger, naming its request) rather than their own.

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
  /** idmappedFor, when set, says the mount at path already shows the image's layers through these user-namespace ids (create was given them). */
  idmappedFor?: UserIds;
}

/**
 * UserIds are the host ids of a container's user namespace: its uid and gid N are host id
 * hostId + N, for N below size, like { hostId: 1000065536, size: 65536 }.
 */
export interface UserIds {
  hostId: number;
  size: number;
}

/** Volumizer makes root filesystems from images. */
export interface Volumizer {
  /**
   * create makes the container's root filesystem from image (pulling it when needed),
   * with its writes capped at disk.byteHard when that is above 0.
   * @throws InvalidArgumentError ('image.uri') for a bad URI, a missing rootfs directory or
   * an image with too many layers; ('limits.disk.byteHard') for a 'total' cap the image fills
   * @throws ArborError failedPrecondition when byteHard > 0 and this host cannot enforce it
   * @throws what pull throws, for an image not yet pulled
   * @throws ArborError alreadyExists when handle already has a root filesystem (fake)
   * With userIds (reserved by Containerizer.reserveUserIds) a volumizer that can mounts the
   * root filesystem for that user namespace at once (layers idmapped, writes owned by
   * hostId) and says so in Rootfs.idmappedFor; one that cannot leaves it to the containerizer.
   * @throws ArborError failedPrecondition for userIds on a kernel without idmapped overlay layers
   */
  create(handle: string, image: ImageRef, disk: DiskLimits | undefined, ctx?: CallContext, userIds?: UserIds): Promise<Rootfs>;
  /** destroy removes the root filesystem and drops its image references; idempotent. */
  destroy(handle: string, ctx?: CallContext): Promise<void>;
  /**
   * limitDisk changes a live container's cap (byteHard 0 removes it).
   * @throws InvalidArgumentError ('limits.disk.byteHard') for a 'total' cap the image fills
   * @throws ArborError failedPrecondition when byteHard > 0 and this host cannot enforce it
   */
  limitDisk(handle: string, disk: DiskLimits, ctx?: CallContext): Promise<void>;
  /** metrics counts the container's disk use. @throws ContainerNotFoundError (fake) for a handle it never made */
  metrics(handle: string, ctx?: CallContext): Promise<DiskStat>;
  capacity(): Promise<{ diskInBytes: number; schedulableDiskInBytes: number }>;
  /**
   * pull fetches an image into the volumizer's store ahead of create, reporting progress
   * (its 'done' event, if any, is replaced by the Gardener's). Absent on volumizers that
   * keep no images.
   * @throws InvalidArgumentError or ArborError invalidArgument for a bad URI or manifest
   * @throws ArborError notFound for an image the source does not have
   * @throws PermissionDeniedError when the registry refuses
   * @throws ArborError unavailable when the registry or Docker engine cannot be reached
   * @throws InvalidTarError or DigestMismatchError (invalidArgument) for layers that are not what the image claims
   * @throws ResourceExhaustedError ('disk') for an image over the unpack limit
   */
  pull?(image: ImageRef, onProgress: (progress: ImagePullProgress) => void, ctx?: CallContext): Promise<PulledImageInfo>;
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

/**
 * Containerizer makes and runs containers: namespaces and cgroups, runc, or memory. Every
 * method but create, destroy, handles and capacity throws ContainerNotFoundError for a
 * handle it does not hold.
 */
export interface Containerizer {
  /**
   * reserveUserIds, for a backend that puts unprivileged containers in user namespaces, takes
   * the host ids handle's container will get before anything of it is made (so the volumizer
   * can mount its rootfs for them); create then uses them, destroy frees them. Undefined for
   * a privileged container or a backend without user namespaces.
   * @throws ArborError resourceExhausted when every range of ids is taken
   */
  reserveUserIds?(handle: string, privileged: boolean): Promise<UserIds | undefined>;
  /**
   * create starts the container's init in its namespaces and cgroup.
   * @throws InvalidArgumentError ('image') for a rootfs this backend cannot use, like none on disk
   * @throws ArborError alreadyExists for a handle it already holds (fake)
   */
  create(desired: DesiredContainer, ctx?: CallContext): Promise<CreatedContainer>;
  /** destroy kills every process and removes the container; idempotent. */
  destroy(handle: string, ctx?: CallContext): Promise<void>;
  /** stop sends TERM to every process (KILL after a grace period), or KILL at once when kill is true. */
  stop(handle: string, kill: boolean, ctx?: CallContext): Promise<void>;
  /**
   * run starts a process.
   * @throws ContainerStoppedError, ProcessAlreadyExistsError (an id already running),
   * ExecutableNotFoundError, InvalidArgumentError (a bad user or working directory),
   * PermissionDeniedError (a working directory the user cannot make or enter),
   * ResourceExhaustedError ('pids') when the pid limit is reached
   */
  run(handle: string, spec: RunRequest, io: ProcessIO, ctx?: CallContext): Promise<Process>;
  /** attach connects io to a process, running or exited and not yet collected. @throws ProcessNotFoundError */
  attach(handle: string, processId: string, io: ProcessIO, ctx?: CallContext): Promise<Process>;
  /**
   * streamIn extracts an untrusted tar into the container.
   * @throws InvalidTarError for a truncated tar or an entry that would leave the container
   * @throws PermissionDeniedError when spec.user may not write there
   * @throws ResourceExhaustedError when the container's disk limit is reached
   * @throws InvalidArgumentError ('user', 'path') for a bad user or path
   * @throws ArborError failedPrecondition when the container was stopped or ran out of memory meanwhile
   */
  streamIn(handle: string, spec: StreamInSpec, ctx?: CallContext): Promise<void>;
  /** streamOut returns a tar of spec.path. @throws InvalidArgumentError when the path does not exist or the user is bad */
  streamOut(handle: string, spec: StreamOutSpec, ctx?: CallContext): Promise<Readable>;
  info(handle: string, ctx?: CallContext): Promise<ContainerizerInfo>;
  metrics(handle: string, ctx?: CallContext): Promise<ContainerizerMetrics>;
  /** limit applies the cpu, memory and pid fields present in limits to a live container. */
  limit(handle: string, limits: Pick<Limits, 'cpu' | 'memory' | 'pid'>, ctx?: CallContext): Promise<void>;
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

/**
 * Networker gives containers addresses, port mappings, egress rules and bandwidth limits.
 * netIn, netOut, limitBandwidth and metrics throw ContainerNotFoundError for a handle it has
 * not set up.
 */
export interface Networker {
  /**
   * setup wires the container's network namespace and gives it an address.
   * @throws InvalidArgumentError ('network') for a malformed request or a reserved address
   * @throws ArborError alreadyExists for an address already taken, or a handle already wired
   * @throws ResourceExhaustedError ('ips') when the pool or the requested subnet is full
   * @throws ArborError failedPrecondition for a netnsPath that is not a network namespace,
   * or a shared subnet on a host without br_netfilter
   */
  setup(handle: string, config: NetworkConfig, ctx?: CallContext): Promise<NetworkInfo>;
  /**
   * netIn: hostPort 0 takes one from the pool; containerPort 0 means the host port.
   * @throws PortInUseError, ResourceExhaustedError ('ports'), InvalidArgumentError ('hostPort')
   */
  netIn(handle: string, hostPort: number, containerPort: number, ctx?: CallContext): Promise<PortMapping>;
  /** netOut appends rules to the container's egress allow list: all or none. @throws InvalidArgumentError naming the rule's field */
  netOut(handle: string, rules: NetOutRule[], ctx?: CallContext): Promise<void>;
  /** limitBandwidth shapes the container's traffic both ways. @throws InvalidArgumentError naming the field */
  limitBandwidth(handle: string, limits: BandwidthLimits, ctx?: CallContext): Promise<void>;
  metrics(handle: string, ctx?: CallContext): Promise<NetworkStat>;
  /**
   * destroy removes what setup, netIn and netOut made and frees the address and ports;
   * idempotent. A part left behind fails it (an AggregateError naming each), to be retried.
   */
  destroy(handle: string, ctx?: CallContext): Promise<void>;
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

/**
 * Depot stores container records; save is durable (atomic, synced) before it resolves.
 * Its methods throw only ArborError 'internal' (the disk failed, or a record is not JSON,
 * naming the handle): a record is never the caller's fault.
 */
export interface Depot {
  save(record: ContainerRecord): Promise<void>;
  /** load returns the record, or undefined when there is none. */
  load(handle: string): Promise<ContainerRecord | undefined>;
  /** remove deletes the record; idempotent. */
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
