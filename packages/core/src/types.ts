import type { Readable, Writable } from 'node:stream';

/** Properties are a container's string key/value labels, like { app: 'web' }. */
export type Properties = Record<string, string>;

export interface ImageRef {
  /** uri is like 'raw:///var/lib/rootfs' or 'docker://127.0.0.1:5000/busybox#latest'; empty: the server's default. */
  uri: string;
  username?: string;
  password?: string;
}

export interface BindMount {
  srcPath: string;
  dstPath: string;
  mode: 'ro' | 'rw';
  origin: 'host' | 'container';
  /**
   * idmap mounts a host source idmapped into an unprivileged container's id range: the
   * host's uid N (0 too) is the container's uid N, and a file the container's uid N writes
   * is owned by the host's N. Without it, host-owned files show as the overflow id (65534).
   * Only for origin 'host'; ignored for a privileged container (no user namespace).
   */
  idmap?: boolean;
}

export interface BandwidthLimits {
  rateInBytesPerSecond: number;
  burstRateInBytesPerSecond: number;
}

export interface CpuLimits {
  /** weight is the relative share: cpu.shares on cgroup v1, cpu.weight on v2. */
  weight: number;
}

export interface DiskLimits {
  byteSoft: number;
  byteHard: number;
  inodeSoft: number;
  inodeHard: number;
  /** scope 'exclusive' counts only the container's own writes; 'total' counts the image too. */
  scope: 'total' | 'exclusive';
}

export interface MemoryLimits {
  limitInBytes: number;
}

export interface PidLimits {
  /** max is the most processes the container may hold; 0 means unlimited. */
  max: number;
}

/** Limits: an absent field leaves that resource unlimited; 0 in a field means unlimited too. */
export interface Limits {
  bandwidth?: BandwidthLimits;
  cpu?: CpuLimits;
  disk?: DiskLimits;
  memory?: MemoryLimits;
  pid?: PidLimits;
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
}

/** IpRange is inclusive, like { start: '10.0.0.1', end: '10.0.0.255' }. */
export interface IpRange {
  start: string;
  end: string;
}

/** PortRange is inclusive, like { start: 8000, end: 8080 }. */
export interface PortRange {
  start: number;
  end: number;
}

export interface IcmpControl {
  type: number;
  code?: number;
}

export type NetOutProtocol = 'all' | 'tcp' | 'udp' | 'icmp';

/** NetOutRule allows egress that matches every field given; an empty list matches anything. */
export interface NetOutRule {
  protocol: NetOutProtocol;
  networks?: IpRange[];
  ports?: PortRange[];
  icmps?: IcmpControl;
  log?: boolean;
}

export interface ContainerSpec {
  /** handle: absent or empty means the server generates one. */
  handle?: string;
  /** graceTimeMs: absent means the server's default; 0 means never reaped. */
  graceTimeMs?: number;
  image?: ImageRef;
  bindMounts?: BindMount[];
  /** network is like '10.254.0.8/30' (allocate in that subnet) or '10.254.0.10/30' (that address). */
  network?: string;
  properties?: Properties;
  /** env entries are 'KEY=VALUE'. */
  env?: string[];
  privileged?: boolean;
  limits?: Limits;
  netIn?: PortMapping[];
  netOut?: NetOutRule[];
}

export type ContainerState = 'active' | 'stopped';

export interface ContainerInfo {
  state: ContainerState;
  events: string[];
  hostIp: string;
  containerIp: string;
  externalIp: string;
  /** containerPath is like /var/lib/arbor/depot/<handle>. */
  containerPath: string;
  processIds: string[];
  properties: Properties;
  mappedPorts: PortMapping[];
}

export interface MemoryStat {
  usageInBytes: number;
  limitInBytes: number;
  rss: number;
  cache: number;
  swap: number;
  totalUsageTowardLimit: number;
}

/** CpuStat values are nanoseconds of CPU time. */
export interface CpuStat {
  usage: number;
  user: number;
  system: number;
}

export interface DiskStat {
  totalBytesUsed: number;
  totalInodesUsed: number;
  exclusiveBytesUsed: number;
  exclusiveInodesUsed: number;
}

export interface NetworkStat {
  rxBytes: number;
  txBytes: number;
}

export interface PidStat {
  current: number;
  max: number;
}

export interface ContainerMetrics {
  memory: MemoryStat;
  cpu: CpuStat;
  disk: DiskStat;
  /**
   * network is absent when its counters could not be read (like a host veth that is gone):
   * Metrics still reports everything else rather than failing whole.
   */
  network?: NetworkStat;
  pid: PidStat;
  ageMs: number;
}

export interface Capacity {
  memoryInBytes: number;
  diskInBytes: number;
  schedulableDiskInBytes: number;
  maxContainers: number;
}

/** BulkResult holds either the value or the error for one handle of a bulk call. */
export type BulkResult<T> = { value: T; error?: undefined } | { value?: undefined; error: Error };

/** RESOURCE_LIMIT_NAMES are the setrlimit resources a process spec may set, named as Garden does (RLIMIT_ without the prefix, lower case). */
export const RESOURCE_LIMIT_NAMES = [
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'sigpending',
  'stack',
] as const;

export type ResourceLimitName = (typeof RESOURCE_LIMIT_NAMES)[number];

/** ResourceLimits are setrlimit values (soft = hard) applied to a process. */
export type ResourceLimits = Partial<Record<ResourceLimitName, number>>;

export interface WindowSize {
  columns: number;
  rows: number;
}

export interface TtySpec {
  /** windowSize: absent means 80x24. */
  windowSize?: WindowSize;
}

export interface ProcessSpec {
  /** id: absent or empty means generated; a running process with the same id is an error. */
  id?: string;
  path: string;
  args?: string[];
  env?: string[];
  /** dir: absent means the user's home directory, created if missing. */
  dir?: string;
  /** user is 'name' or 'uid:gid'; absent means root. */
  user?: string;
  rlimits?: ResourceLimits;
  /** tty: present means allocate a terminal. */
  tty?: TtySpec;
}

/**
 * ProcessIO connects a process to the caller. Output is written with back-pressure: a slow
 * writer slows the process down; nothing is dropped. Aborting `detach` detaches the caller
 * (the process keeps running, and the streams are no longer used).
 */
export interface ProcessIO {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  detach?: AbortSignal;
}

/** Signal is a POSIX signal name; every backend supports at least SIGTERM and SIGKILL. */
export type Signal = NodeJS.Signals;

export interface StreamInSpec {
  /** path is where the tar is extracted; relative paths are relative to the user's home. */
  path: string;
  /** user: absent means root. */
  user?: string;
  /** tar is an uncompressed, untrusted tar stream. */
  tar: Readable;
}

export interface StreamOutSpec {
  /** path 'a/b' yields entries 'b/...'; 'a/b/' yields the directory's contents './...'. */
  path: string;
  user?: string;
}

/**
 * ArborEventKind names what happened: 'created' (a create succeeded), 'stopped' (a stop
 * finished), 'destroyed' (an explicit destroy finished), 'reaped' (destroyed by the server
 * when the grace time passed), 'oom' (the kernel killed a process for the memory limit;
 * once per container), 'process-exited' (a process ended, with its exit code).
 */
export type ArborEventKind = 'created' | 'stopped' | 'destroyed' | 'reaped' | 'oom' | 'process-exited';

/** ArborEvent is one thing that happened to a container, from Client.events. */
export interface ArborEvent {
  kind: ArborEventKind;
  handle: string;
  /** processId is set for 'process-exited'. */
  processId?: string;
  /** exitCode is set for 'process-exited': N for exit(N), 128+N when killed by signal N. */
  exitCode?: number;
  /** timeMs is when the server saw it, in unix milliseconds. */
  timeMs: number;
  /** message says it in words, like 'process p1 exited with 3'. */
  message: string;
}

/** EventFilter picks events; handles, when not empty, limits them to these containers. */
export interface EventFilter {
  handles?: string[];
}
