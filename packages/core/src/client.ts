import type { Readable } from 'node:stream';
import type { CallContext } from './call-context';
import type {
  ArborEvent,
  BandwidthLimits,
  BulkResult,
  Capacity,
  ContainerInfo,
  ContainerMetrics,
  ContainerSpec,
  CpuLimits,
  DiskLimits,
  EventFilter,
  ImageRef,
  Limits,
  MemoryLimits,
  NetOutRule,
  PidLimits,
  PortMapping,
  ProcessIO,
  ProcessSpec,
  Properties,
  Signal,
  StreamInSpec,
  StreamOutSpec,
  TtySpec,
} from './types';

/**
 * PullPhase says what an image pull is doing: 'resolving' its manifest and config; per
 * layer 'waiting' to download, 'exists' (stored already), 'downloading' (verified and
 * unpacked as bytes arrive), 'unpacked' (not yet durable); 'committing' the new layers to
 * disk; 'done', always the last event.
 */
export type PullPhase = 'resolving' | 'waiting' | 'exists' | 'downloading' | 'unpacked' | 'committing' | 'done';

/** PulledImageInfo is what an image brings to the containers made from it (its config's defaults). */
export interface PulledImageInfo {
  /** id is the image's config digest, like 'sha256:<hex>'; '' when the backend keeps no images. */
  id: string;
  layers: number;
  /** env entries are 'KEY=VALUE'. */
  env: string[];
  /** user is like 'nobody' or '1000:1000'; '' means root. */
  user: string;
  workingDir: string;
  /** entrypoint and cmd: the image's program is entrypoint followed by cmd. */
  entrypoint: string[];
  cmd: string[];
}

/** ImagePullProgress is one progress report of Client.pullImage. */
export interface ImagePullProgress {
  phase: PullPhase;
  /** layer is a diff id like 'sha256:<hex>'; '' for 'resolving', 'committing' and 'done'. */
  layer: string;
  /** bytesDone and bytesTotal count the layer's blob as fetched (maybe gzip); bytesTotal is -1 when unknown. */
  bytesDone: number;
  bytesTotal: number;
  /** image is set on the last event, phase 'done'. */
  image?: PulledImageInfo;
}

/** Process is a process running in a container, from Run or Attach. */
export interface Process {
  readonly id: string;
  /**
   * wait resolves with the exit status once every byte of stdout and stderr has been
   * written to the ProcessIO streams: N for exit(N), 128+N when killed by signal N.
   */
  wait(): Promise<number>;
  /** setTty changes the terminal's window size. @throws ProcessNotFoundError after exit */
  setTty(spec: TtySpec): Promise<void>;
  /** signal sends a POSIX signal. @throws ProcessNotFoundError after exit */
  signal(signal: Signal): Promise<void>;
}

/** Container is one container; every method throws ContainerNotFoundError once it is destroyed. */
export interface Container {
  readonly handle: string;

  /** stop sends TERM to every process (KILL after 10 s), or KILL at once when kill is true. */
  stop(kill: boolean): Promise<void>;
  info(): Promise<ContainerInfo>;
  /**
   * streamIn extracts an untrusted tar at spec.path as spec.user.
   * @throws InvalidTarError for a truncated tar or an entry that would leave the container
   * @throws PermissionDeniedError when the user may not write there
   */
  streamIn(spec: StreamInSpec): Promise<void>;
  /** streamOut returns a tar of spec.path. @throws InvalidArgumentError when it does not exist */
  streamOut(spec: StreamOutSpec): Promise<Readable>;

  limitBandwidth(limits: BandwidthLimits): Promise<void>;
  limitCpu(limits: CpuLimits): Promise<void>;
  limitDisk(limits: DiskLimits): Promise<void>;
  limitMemory(limits: MemoryLimits): Promise<void>;
  limitPids(limits: PidLimits): Promise<void>;
  /** currentLimits returns the limits in force; an absent field is unlimited. */
  currentLimits(): Promise<Limits>;
  currentBandwidthLimits(): Promise<BandwidthLimits>;
  currentCpuLimits(): Promise<CpuLimits>;
  currentDiskLimits(): Promise<DiskLimits>;
  currentMemoryLimits(): Promise<MemoryLimits>;
  currentPidLimits(): Promise<PidLimits>;

  /**
   * netIn maps a host port to a container port; 0 as host port takes one from the pool,
   * 0 as container port means the host port. @throws PortInUseError, ResourceExhaustedError
   */
  netIn(hostPort: number, containerPort: number): Promise<PortMapping>;
  /** netOut allows egress matching the rule. @throws InvalidArgumentError naming the field */
  netOut(rule: NetOutRule): Promise<void>;
  /** bulkNetOut applies every rule or none. */
  bulkNetOut(rules: NetOutRule[]): Promise<void>;

  /**
   * run starts a process. @throws ExecutableNotFoundError, ProcessAlreadyExistsError,
   * ContainerStoppedError
   */
  run(spec: ProcessSpec, io: ProcessIO): Promise<Process>;
  /** attach connects to a running (or exited, not yet collected) process. @throws ProcessNotFoundError */
  attach(processId: string, io: ProcessIO): Promise<Process>;

  metrics(): Promise<ContainerMetrics>;
  /** setGraceTime re-arms the reaper with a new grace time; 0 means never. */
  setGraceTime(graceTimeMs: number): Promise<void>;

  properties(): Promise<Properties>;
  /** property returns one value. @throws PropertyNotFoundError */
  property(name: string): Promise<string>;
  setProperty(name: string, value: string): Promise<void>;
  /** removeProperty deletes one property. @throws PropertyNotFoundError */
  removeProperty(name: string): Promise<void>;
}

/**
 * Client is what a user of Arbor talks to, in-process (the Gardener) or over gRPC. The
 * methods that reach containers take an optional CallContext last: a server passes each
 * call's own logger, which the Gardener hands to its ports (a Container from create, lookup
 * or containers keeps it); a remote Client ignores it.
 */
export interface Client {
  /** ping resolves when the server is healthy. @throws UnrecoverableError */
  ping(): Promise<void>;
  capacity(): Promise<Capacity>;
  /**
   * create makes a container; a failed create leaves nothing behind.
   * @throws HandleAlreadyExistsError, InvalidArgumentError, ResourceExhaustedError
   */
  create(spec: ContainerSpec, ctx?: CallContext): Promise<Container>;
  /** destroy removes the container and all it holds; retryable. @throws ContainerNotFoundError */
  destroy(handle: string, ctx?: CallContext): Promise<void>;
  /** containers lists the containers whose properties match every pair of the filter. */
  containers(filter?: Properties, ctx?: CallContext): Promise<Container[]>;
  bulkInfo(handles: string[], ctx?: CallContext): Promise<Record<string, BulkResult<ContainerInfo>>>;
  bulkMetrics(handles: string[], ctx?: CallContext): Promise<Record<string, BulkResult<ContainerMetrics>>>;
  /** lookup returns a container by handle. @throws ContainerNotFoundError */
  lookup(handle: string, ctx?: CallContext): Promise<Container>;
  /**
   * pullImage fetches an image into the server's store ahead of create, calling onProgress
   * as it goes and last with phase 'done'; it resolves with what the image brings (its
   * entrypoint, cmd, env ...). A backend that keeps no images reports only 'done'.
   * @throws InvalidArgumentError for a bad URI, PermissionDeniedError when the registry
   * refuses, DigestMismatchError-like ArborErrors when the image is not what it claims
   */
  pullImage(image: ImageRef, onProgress?: (progress: ImagePullProgress) => void, ctx?: CallContext): Promise<PulledImageInfo>;
  /**
   * events follows what happens to containers (beyond Garden): it resolves once subscribed,
   * so every event after that is seen (there is no history), then yields each event that
   * matches filter until signal aborts, the loop breaks, or the server stops. A subscriber
   * that lets too many events wait (1024 on the Gardener) is dropped rather than slowing the
   * server: its iteration throws ResourceExhaustedError ('events: subscriber fell behind by N events').
   * @throws InvalidArgumentError for a bad handle in filter
   */
  events(filter?: EventFilter, signal?: AbortSignal): Promise<AsyncIterableIterator<ArborEvent>>;
}

/** Backend is the server side: a Client that can start, stop and report grace times. */
export interface Backend extends Client {
  /** start restores what was on disk and cleans up what was half made. */
  start(): Promise<void>;
  /** stop ends timers and background work; containers and processes keep running. */
  stop(): Promise<void>;
  /** graceTime is the container's grace time in ms (0 = never reaped). */
  graceTime(container: Container): Promise<number>;
}
