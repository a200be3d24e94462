import type { Readable } from 'node:stream';
import type { CallContext } from './call-context';
import type { Backend, Container, Process } from './client';
import { pullImage } from './image-pull';
import { ArborError, ContainerNotFoundError, HandleAlreadyExistsError, InvalidArgumentError, PropertyNotFoundError, ResourceExhaustedError } from './errors';
import { GraceReaper } from './grace-reaper';
import { GardenerEvents, OOM_INFO_EVENT } from './events';
import { mergeEnv } from './environment';
import type { Logger } from './logger';
import type {
  Clock,
  ContainerRecord,
  Containerizer,
  Depot,
  ContainerPhase,
  GardenerConfig,
  GardenerObserver,
  HandleGenerator,
  Networker,
  Volumizer,
} from './ports';
import type {
  ArborEvent,
  BandwidthLimits,
  BulkResult,
  Capacity,
  ContainerInfo,
  ContainerMetrics,
  ContainerSpec,
  ContainerState,
  CpuLimits,
  DiskLimits,
  EventFilter,
  Limits,
  MemoryLimits,
  NetOutRule,
  NetworkStat,
  PidLimits,
  PortMapping,
  ProcessIO,
  ProcessSpec,
  Properties,
  StreamInSpec,
  StreamOutSpec,
} from './types';
import {
  validateBandwidthLimits,
  validateContainerSpec,
  validateCpuLimits,
  validateDiskLimits,
  validateHandle,
  validateMemoryLimits,
  validateNetOutRule,
  validatePidLimits,
  validatePortMapping,
  validateProcessId,
  validateProcessSpec,
  validateStreamSpec,
} from './validation';

export interface GardenerPorts {
  containerizer: Containerizer;
  networker: Networker;
  volumizer: Volumizer;
  depot: Depot;
  handleGenerator: HandleGenerator;
  clock: Clock;
  logger: Logger;
  config: GardenerConfig;
  /** events is where the Gardener publishes what happens (Client.events); absent: its own. */
  events?: GardenerEvents;
  /** observer hears step durations for metrics; absent: nobody listens. */
  observer?: GardenerObserver;
}

/** NO_OBSERVER is the observer of a Gardener nobody measures. */
const NO_OBSERVER: GardenerObserver = { phase: () => undefined, imagePull: () => undefined };

/**
 * ContainerSample is one container as a metrics scrape sees it (Gardener.sample): its state,
 * how many processes it runs, and its metrics.
 */
export interface ContainerSample {
  handle: string;
  state: ContainerState;
  processes: number;
  metrics: ContainerMetrics;
}

/** HOSTNAME_LENGTH: a container's hostname is the last 49 characters of its handle. */
const HOSTNAME_LENGTH = 49;

/**
 * Gardener is the one Backend: it validates input, runs create as ordered steps over the
 * ports, rolls a failed create back with the same idempotent destroy, keeps every record in
 * the Depot before a call returns, and reaps containers whose grace time has passed.
 * A call given a CallContext logs with its logger and hands the ports a child of it with
 * { handle }; work of its own (start, the reaper) leaves the ports their own loggers.
 */
export class Gardener implements Backend {
  // records caches the Depot; every change is saved before the call that made it returns.
  private readonly records = new Map<string, ContainerRecord>();
  private readonly destroying = new Map<string, Promise<void>>();
  private readonly reaper: GraceReaper;
  private readonly eventHub: GardenerEvents;
  private readonly observer: GardenerObserver;
  // exitWatched holds '<handle>\0<process id>' of processes whose exit is to be published, so a run and its attaches publish it once.
  private readonly exitWatched = new Set<string>();
  // oomReported holds the handles whose 'oom' event went out: Info's OOM event stays once the kernel has killed.
  private readonly oomReported = new Set<string>();

  constructor(private readonly ports: GardenerPorts) {
    this.eventHub = ports.events ?? new GardenerEvents();
    this.observer = ports.observer ?? NO_OBSERVER;
    this.reaper = new GraceReaper(ports.clock, (handle) => {
      ports.logger.info('grace-time-expired', { handle });
      this.destroyAs(handle, 'reaped').catch((err: unknown) => ports.logger.error('reap-failed', { handle, error: String(err) }));
    });
  }

  async start(): Promise<void> {
    const { depot, networker, containerizer, logger } = this.ports;
    const records = await depot.list();
    const live = records.filter((r) => r.phase === 'created');
    await networker.restore(live);
    for (const record of records) this.records.set(record.handle, record);
    for (const record of records) {
      if (record.phase === 'created') {
        this.reaper.track(record.handle, record.graceTimeMs);
        continue;
      }
      logger.info('start-cleaning-up-half-made', { handle: record.handle, phase: record.phase });
      await this.destroyRecord(record).catch((err: unknown) => logger.error('start-cleanup-failed', { handle: record.handle, error: String(err) }));
    }
    const known = new Set(records.map((r) => r.handle));
    for (const handle of await containerizer.handles()) {
      if (known.has(handle)) continue;
      logger.info('start-sweeping-unknown-container', { handle });
      await containerizer.destroy(handle).catch((err: unknown) => logger.error('start-sweep-failed', { handle, error: String(err) }));
    }
  }

  /** endEvents ends every Events subscription, as stop() does: a server calls it first, so open Events calls let it drain. */
  endEvents(): void {
    this.eventHub.close();
  }

  async stop(): Promise<void> {
    this.reaper.stopAll();
    this.eventHub.close();
    await Promise.allSettled([...this.destroying.values()]);
    await Promise.allSettled([this.ports.containerizer.close?.(), this.ports.networker.close?.(), this.ports.volumizer.close?.()]);
  }

  async graceTime(container: Container): Promise<number> {
    return this.record(container.handle).graceTimeMs;
  }

  async ping(): Promise<void> {}

  async capacity(): Promise<Capacity> {
    const [c, v, max] = await Promise.all([this.ports.containerizer.capacity(), this.ports.volumizer.capacity(), this.maxContainers()]);
    return {
      memoryInBytes: c.memoryInBytes,
      diskInBytes: v.diskInBytes,
      schedulableDiskInBytes: v.schedulableDiskInBytes,
      maxContainers: max,
    };
  }

  async create(spec: ContainerSpec, ctx?: CallContext): Promise<Container> {
    validateContainerSpec(spec);
    (spec.netIn ?? []).forEach((m, i) => this.checkHostPort(m.hostPort, `netIn[${i}].hostPort`));
    const { containerizer, networker, volumizer, depot, logger, clock } = this.ports;
    const handle = spec.handle || this.ports.handleGenerator.generate();
    if (this.records.has(handle)) throw new HandleAlreadyExistsError(handle);
    const max = await this.maxContainers();
    if (this.records.has(handle)) throw new HandleAlreadyExistsError(handle);
    if (this.records.size >= max) {
      throw new ResourceExhaustedError('containers', `max containers reached (${max}): destroy one before creating another`);
    }
    const log = (ctx?.logger ?? logger).child({ handle });
    const portCtx = ctx && { logger: log };
    const record: ContainerRecord = {
      handle,
      phase: 'creating',
      createdAtMs: clock.now(),
      graceTimeMs: spec.graceTimeMs ?? this.ports.config.defaultGraceTimeMs,
      properties: { ...spec.properties },
      limits: this.limitsWithDefaults(spec.limits),
      network: { hostIp: '', containerIp: '', externalIp: '', subnet: '' },
      mappedPorts: [],
      netOut: [],
      rootfs: { path: '', env: [], user: '', workingDir: '', entrypoint: [], cmd: [] },
      env: [],
    };
    // Reserve the handle before the first await so a concurrent create of it fails.
    this.records.set(handle, record);
    log.info('create-started');
    const steps = new StepTimer(this.observer, 'create');
    try {
      await depot.save(record);
      steps.begin('volume');
      // a user-namespace container's ids come first: its rootfs is mounted for them at once
      const userIds = await containerizer.reserveUserIds?.(handle, spec.privileged ?? false);
      record.rootfs = await volumizer.create(handle, spec.image ?? { uri: '' }, spec.limits?.disk, portCtx, userIds);
      record.env = mergeEnv(record.rootfs.env, spec.env ?? []);
      const hostname = handle.slice(-HOSTNAME_LENGTH);
      steps.begin('containerizer');
      const created = await containerizer.create(
        {
          handle,
          hostname,
          rootfs: record.rootfs,
          env: record.env,
          bindMounts: spec.bindMounts ?? [],
          privileged: spec.privileged ?? false,
          limits: record.limits,
        },
        portCtx,
      );
      steps.begin('network');
      record.network = await networker.setup(
        handle,
        {
          network: spec.network ?? '',
          netnsPath: created.netnsPath,
          rootfsPath: record.rootfs.path,
          hostname,
        },
        portCtx,
      );
      for (const m of spec.netIn ?? []) {
        record.mappedPorts.push(await networker.netIn(handle, m.hostPort, m.containerPort, portCtx));
      }
      if (spec.netOut?.length) {
        await networker.netOut(handle, spec.netOut, portCtx);
        record.netOut.push(...spec.netOut);
      }
      if (spec.limits?.bandwidth) await networker.limitBandwidth(handle, spec.limits.bandwidth, portCtx);
      steps.end(true);
      record.phase = 'created';
      await depot.save(record);
    } catch (err) {
      steps.end(false);
      log.error('create-failed-cleaning-up', { error: String(err) });
      await this.destroyRecord(record, undefined, ctx).catch((cleanupErr: unknown) => log.error('create-cleanup-failed', { error: String(cleanupErr) }));
      throw err;
    }
    this.reaper.track(handle, record.graceTimeMs);
    log.info('create-finished');
    this.emit({ kind: 'created', handle, message: `container ${handle} created` });
    return new GardenerContainer(this, handle, ctx);
  }

  async destroy(handle: string, ctx?: CallContext): Promise<void> {
    return this.destroyAs(handle, 'destroyed', ctx);
  }

  /**
   * events: see Client.events. Published: 'created' when create returns, 'stopped' when stop
   * returns, 'destroyed' or 'reaped' once a destroy finished (not for a failed create's
   * rollback), 'process-exited' when a process run or attached through this Gardener ends,
   * 'oom' when Info shows OOM_INFO_EVENT, checked once after each process exit while anyone
   * subscribes (no polling: an OOM kill that ends no watched process shows at the next exit).
   */
  async events(filter: EventFilter = {}, signal?: AbortSignal): Promise<AsyncIterableIterator<ArborEvent>> {
    (filter.handles ?? []).forEach((h) => validateHandle(h));
    return this.eventHub.subscribe(filter, signal);
  }

  /** destroyAs is destroy, publishing kind ('destroyed', or 'reaped' for the grace-time reaper) when done. */
  private async destroyAs(handle: string, kind: 'destroyed' | 'reaped', ctx?: CallContext): Promise<void> {
    validateHandle(handle);
    const inFlight = this.destroying.get(handle);
    if (inFlight) return inFlight;
    const record = this.records.get(handle);
    // a record still 'creating' belongs to a create in progress: it is not there yet
    if (!record || record.phase === 'creating') throw new ContainerNotFoundError(handle);
    return this.destroyRecord(record, kind, ctx);
  }

  async containers(filter: Properties = {}, ctx?: CallContext): Promise<Container[]> {
    const pairs = Object.entries(filter);
    return [...this.records.values()]
      .filter((r) => r.phase === 'created' && pairs.every(([k, v]) => r.properties[k] === v))
      .map((r) => new GardenerContainer(this, r.handle, ctx));
  }

  async lookup(handle: string, ctx?: CallContext): Promise<Container> {
    validateHandle(handle);
    this.record(handle);
    return new GardenerContainer(this, handle, ctx);
  }

  /** pullImage: see Client.pullImage; the work is in image-pull.ts. */
  async pullImage(...[image, onProgress, ctx]: Parameters<Backend['pullImage']>): ReturnType<Backend['pullImage']> {
    const started = performance.now();
    try {
      const pulled = await pullImage(this.ports, image, onProgress, ctx);
      this.observer.imagePull((performance.now() - started) / 1000, true);
      return pulled;
    } catch (err) {
      this.observer.imagePull((performance.now() - started) / 1000, false);
      throw err;
    }
  }

  async bulkInfo(handles: string[], ctx?: CallContext): Promise<Record<string, BulkResult<ContainerInfo>>> {
    return this.bulk(handles, (h) => this.info(h, ctx));
  }

  async bulkMetrics(handles: string[], ctx?: CallContext): Promise<Record<string, BulkResult<ContainerMetrics>>> {
    return this.bulk(handles, (h) => this.metrics(h, ctx));
  }

  // ------------------------------------------------------------ per-container operations

  // Each takes the call's ctx last (GardenerContainer passes its own); see portContext.

  async stopContainer(handle: string, kill: boolean, ctx?: CallContext): Promise<void> {
    await this.touch(handle, () => this.ports.containerizer.stop(handle, kill, portContext(handle, ctx)));
    this.emit({ kind: 'stopped', handle, message: `container ${handle} stopped${kill ? ' (killed)' : ''}` });
  }

  async info(handle: string, ctx?: CallContext): Promise<ContainerInfo> {
    return this.touch(handle, async (record) => {
      const info = await this.ports.containerizer.info(handle, portContext(handle, ctx));
      const { hostIp, containerIp, externalIp } = record.network;
      return {
        ...info,
        hostIp,
        containerIp,
        externalIp,
        properties: { ...record.properties },
        mappedPorts: record.mappedPorts.map((m) => ({ ...m })),
      };
    });
  }

  /**
   * sample reads a created container's state, process count and metrics for a metrics scrape,
   * without touching it: Info and Metrics restart its grace timer, so a scrape every 15 s
   * would keep every container from being reaped.
   * @throws ContainerNotFoundError; what the ports' info and metrics throw
   */
  async sample(handle: string): Promise<ContainerSample> {
    const record = this.record(handle);
    const [info, c, disk, network] = await Promise.all([
      this.ports.containerizer.info(handle),
      this.ports.containerizer.metrics(handle),
      this.ports.volumizer.metrics(handle),
      this.networkMetrics(handle),
    ]);
    const metrics = { ...c, disk, ...(network && { network }), ageMs: Math.max(0, this.ports.clock.now() - record.createdAtMs) };
    return { handle, state: info.state, processes: info.processIds.length, metrics };
  }

  async metrics(handle: string, ctx?: CallContext): Promise<ContainerMetrics> {
    return this.touch(handle, async (record) => {
      const portCtx = portContext(handle, ctx);
      const [c, disk, network] = await Promise.all([
        this.ports.containerizer.metrics(handle, portCtx),
        this.ports.volumizer.metrics(handle, portCtx),
        this.networkMetrics(handle, portCtx),
      ]);
      return { ...c, disk, ...(network && { network }), ageMs: Math.max(0, this.ports.clock.now() - record.createdAtMs) };
    });
  }

  /**
   * networkMetrics are the container's network counters, or undefined when the Networker
   * cannot read them (a host veth gone): one missing part must not fail the whole Metrics.
   * The reason is logged (metrics-network-unavailable); a container that is gone still fails.
   */
  private async networkMetrics(handle: string, ctx?: CallContext): Promise<NetworkStat | undefined> {
    try {
      return await this.ports.networker.metrics(handle, ctx);
    } catch (err) {
      if (err instanceof ContainerNotFoundError) throw err;
      (ctx?.logger ?? this.ports.logger).info('metrics-network-unavailable', { handle, error: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  }

  async streamIn(handle: string, spec: StreamInSpec, ctx?: CallContext): Promise<void> {
    validateStreamSpec(spec);
    await this.touch(handle, () => this.ports.containerizer.streamIn(handle, spec, portContext(handle, ctx)));
  }

  async streamOut(handle: string, spec: StreamOutSpec, ctx?: CallContext): Promise<Readable> {
    validateStreamSpec(spec);
    return this.touch(handle, () => this.ports.containerizer.streamOut(handle, spec, portContext(handle, ctx)));
  }

  async run(handle: string, spec: ProcessSpec, io: ProcessIO, ctx?: CallContext): Promise<Process> {
    validateProcessSpec(spec);
    return this.holdWhileAttached(handle, io, () => {
      const record = this.record(handle);
      const id = spec.id || this.ports.handleGenerator.generate();
      const withDefaults: ProcessSpec & { id: string } = { ...spec, id };
      if (spec.user === undefined && record.rootfs.user) withDefaults.user = record.rootfs.user;
      if (spec.dir === undefined && record.rootfs.workingDir) withDefaults.dir = record.rootfs.workingDir;
      return this.ports.containerizer.run(handle, withDefaults, io, portContext(handle, ctx)).then((p) => this.watchExit(handle, p));
    });
  }

  async attach(handle: string, processId: string, io: ProcessIO, ctx?: CallContext): Promise<Process> {
    validateProcessId(processId);
    return this.holdWhileAttached(handle, io, () =>
      this.ports.containerizer.attach(handle, processId, io, portContext(handle, ctx)).then((p) => this.watchExit(handle, p)),
    );
  }

  async limit(handle: string, limits: Limits, ctx?: CallContext): Promise<void> {
    const { bandwidth, cpu, disk, memory, pid } = limits;
    if (bandwidth) validateBandwidthLimits(bandwidth);
    if (cpu) validateCpuLimits(cpu);
    if (disk) validateDiskLimits(disk);
    if (memory) validateMemoryLimits(memory);
    if (pid) validatePidLimits(pid);
    await this.touch(handle, async (record) => {
      const portCtx = portContext(handle, ctx);
      if (bandwidth) await this.ports.networker.limitBandwidth(handle, bandwidth, portCtx);
      if (disk) await this.ports.volumizer.limitDisk(handle, disk, portCtx);
      if (cpu || memory || pid) {
        await this.ports.containerizer.limit(handle, { ...(cpu && { cpu }), ...(memory && { memory }), ...(pid && { pid }) }, portCtx);
      }
      Object.assign(record.limits, structuredClone(limits));
      await this.ports.depot.save(record);
    });
  }

  /** limitsWithDefaults copies a spec's limits, adding config.defaultPidLimit when it names no pid limit. */
  private limitsWithDefaults(limits: Limits = {}): Limits {
    const copy = structuredClone(limits);
    const { defaultPidLimit = 0 } = this.ports.config;
    if (copy.pid === undefined && defaultPidLimit > 0) copy.pid = { max: defaultPidLimit };
    return copy;
  }

  async currentLimits(handle: string): Promise<Limits> {
    return this.touch(handle, async (record) => structuredClone(record.limits));
  }

  async netIn(handle: string, hostPort: number, containerPort: number, ctx?: CallContext): Promise<PortMapping> {
    validatePortMapping(hostPort, containerPort);
    this.checkHostPort(hostPort, 'netIn.hostPort');
    return this.touch(handle, async (record) => {
      const mapping = await this.ports.networker.netIn(handle, hostPort, containerPort, portContext(handle, ctx));
      record.mappedPorts.push(mapping);
      await this.ports.depot.save(record);
      return { ...mapping };
    });
  }

  /**
   * checkHostPort refuses an explicit NetIn host port the operator has not allowed
   * (GardenerConfig.netInHostPorts); field is like 'netIn.hostPort'.
   * @throws InvalidArgumentError saying which ports are allowed and how to widen them
   */
  private checkHostPort(hostPort: number, field: string): void {
    const policy = this.ports.config.netInHostPorts;
    if (!policy || hostPort === 0) return;
    if (policy.reserved.includes(hostPort)) {
      throw new InvalidArgumentError(field, `${hostPort} is reserved for the server itself: pick another, or 0 for one from the pool`);
    }
    if (!policy.allowed.some((r) => hostPort >= r.start && hostPort <= r.end)) {
      const allowed = policy.allowed.map((r) => (r.start === r.end ? `${r.start}` : `${r.start}-${r.end}`)).join(',');
      throw new InvalidArgumentError(
        field,
        `${hostPort} is outside the host ports NetIn may take (${allowed || 'none'}): pick one inside, or 0 for one from the pool; ` +
          `the operator can widen them with arbord's netInAllowedPorts, like '1-65535'`,
      );
    }
  }

  async netOut(handle: string, rules: NetOutRule[], ctx?: CallContext): Promise<void> {
    rules.forEach((r, i) => validateNetOutRule(r, rules.length === 1 ? 'rule' : `rules[${i}]`));
    await this.touch(handle, async (record) => {
      await this.ports.networker.netOut(handle, rules, portContext(handle, ctx));
      record.netOut.push(...structuredClone(rules));
      await this.ports.depot.save(record);
    });
  }

  async setGraceTime(handle: string, graceTimeMs: number): Promise<void> {
    if (!Number.isSafeInteger(graceTimeMs) || graceTimeMs < 0) {
      throw new InvalidArgumentError('graceTimeMs', `${graceTimeMs} must be a whole number of milliseconds, 0 or more`);
    }
    await this.touch(handle, async (record) => {
      record.graceTimeMs = graceTimeMs;
      await this.ports.depot.save(record);
    });
    // after the touch's own pause has ended, so the new time counts in full from now
    this.reaper.setGraceTime(handle, graceTimeMs);
  }

  async properties(handle: string): Promise<Properties> {
    return this.touch(handle, async (record) => ({ ...record.properties }));
  }

  async property(handle: string, name: string): Promise<string> {
    return this.touch(handle, async (record) => {
      const value = record.properties[name];
      if (value === undefined) throw new PropertyNotFoundError(handle, name);
      return value;
    });
  }

  async setProperty(handle: string, name: string, value: string): Promise<void> {
    if (name === '') throw new InvalidArgumentError('name', 'property names must not be empty');
    await this.touch(handle, async (record) => {
      record.properties[name] = value;
      await this.ports.depot.save(record);
    });
  }

  async removeProperty(handle: string, name: string): Promise<void> {
    await this.touch(handle, async (record) => {
      if (!(name in record.properties)) throw new PropertyNotFoundError(handle, name);
      delete record.properties[name];
      await this.ports.depot.save(record);
    });
  }

  // ------------------------------------------------------------ internals

  /**
   * maxContainers is the smallest of the configured cap (0: none), the Containerizer's and the
   * Networker's (the /30s of its pool, like 256 for 10.254.0.0/22), as guardian's Capacity
   * takes the network pool's size: a maxContainers of 1000 over a /22 pool still gives 256.
   */
  private async maxContainers(): Promise<number> {
    const [c, n] = await Promise.all([this.ports.containerizer.capacity(), this.ports.networker.capacity?.()]);
    const configured = this.ports.config.maxContainers;
    return Math.min(c.maxContainers, n?.maxContainers ?? Infinity, configured > 0 ? configured : Infinity);
  }

  /** record returns a created container's record. @throws ContainerNotFoundError */
  private record(handle: string): ContainerRecord {
    const record = this.records.get(handle);
    if (!record || record.phase !== 'created') throw new ContainerNotFoundError(handle);
    return record;
  }

  /** touch runs fn on a created container with its grace timer paused. */
  private async touch<T>(handle: string, fn: (record: ContainerRecord) => Promise<T>): Promise<T> {
    validateHandle(handle);
    const record = this.record(handle);
    const release = this.reaper.pause(handle);
    try {
      return await fn(record);
    } finally {
      release();
    }
  }

  /** holdWhileAttached keeps the grace timer paused until the process exits or the caller detaches. */
  private async holdWhileAttached(handle: string, io: ProcessIO, start: () => Promise<Process>): Promise<Process> {
    validateHandle(handle);
    this.record(handle);
    const release = this.reaper.pause(handle);
    try {
      const process = await start();
      process.wait().then(release, release);
      if (io.detach?.aborted) release();
      io.detach?.addEventListener('abort', release, { once: true });
      return process;
    } catch (err) {
      release();
      throw err;
    }
  }

  /** emit publishes an event stamped with the clock's time. */
  private emit(event: Omit<ArborEvent, 'timeMs'>): void {
    this.eventHub.publish({ ...event, timeMs: this.ports.clock.now() });
  }

  /**
   * watchExit publishes 'process-exited' when process ends, once per process, then (while
   * anyone subscribes) checks the container for an OOM kill: one Info per exit.
   */
  private watchExit(handle: string, process: Process): Process {
    const key = `${handle}\0${process.id}`;
    if (this.exitWatched.has(key)) return process;
    this.exitWatched.add(key);
    process.wait().then(
      (exitCode) => {
        this.exitWatched.delete(key);
        const message = `process ${process.id} exited with ${exitCode}`;
        this.emit({ kind: 'process-exited', handle, processId: process.id, exitCode, message });
        if (this.eventHub.subscribers > 0) this.checkOom(handle);
      },
      () => this.exitWatched.delete(key),
    );
    return process;
  }

  /** checkOom publishes 'oom' the first time the container's Info shows OOM_INFO_EVENT. */
  private checkOom(handle: string): void {
    if (this.oomReported.has(handle) || this.records.get(handle)?.phase !== 'created') return;
    this.ports.containerizer.info(handle).then(
      ({ events }) => {
        if (!events.includes(OOM_INFO_EVENT) || this.oomReported.has(handle)) return;
        this.oomReported.add(handle);
        this.emit({ kind: 'oom', handle, message: `container ${handle}: the kernel killed a process for the memory limit` });
      },
      (err: unknown) => this.ports.logger.debug('oom-check-failed', { handle, error: String(err) }),
    );
  }

  private async bulk<T>(handles: string[], fn: (handle: string) => Promise<T>): Promise<Record<string, BulkResult<T>>> {
    const entries = await Promise.all(
      handles.map(async (h): Promise<[string, BulkResult<T>]> => {
        try {
          return [h, { value: await fn(h) }];
        } catch (err) {
          return [h, { error: err instanceof Error ? err : new Error(String(err)) }];
        }
      }),
    );
    return Object.fromEntries(entries);
  }

  /**
   * destroyRecord tears down every part, trying each even when one fails. The record stays
   * (phase 'destroying') while anything failed, so that destroy can be retried.
   */
  private destroyRecord(record: ContainerRecord, kind?: 'destroyed' | 'reaped', ctx?: CallContext): Promise<void> {
    const { handle } = record;
    const portCtx = portContext(handle, ctx);
    const run = async (): Promise<void> => {
      const { containerizer, networker, volumizer, depot } = this.ports;
      this.reaper.untrack(handle);
      record.phase = 'destroying';
      await depot.save(record);
      const results = await Promise.allSettled([
        (async () => {
          await timed(this.observer, 'destroy', 'containerizer', () => containerizer.destroy(handle, portCtx));
          await timed(this.observer, 'destroy', 'volume', () => volumizer.destroy(handle, portCtx));
        })(),
        timed(this.observer, 'destroy', 'network', () => networker.destroy(handle, portCtx)),
      ]);
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      if (failures.length > 0) {
        throw new ArborError('internal', `destroy ${handle}: ${failures.map(String).join('; ')} (retry destroy to finish)`, {
          cause: new AggregateError(failures),
        });
      }
      await depot.remove(handle);
      this.records.delete(handle);
      this.oomReported.delete(handle);
      (portCtx?.logger ?? this.ports.logger.child({ handle })).info('destroy-finished');
      if (kind) this.emit({ kind, handle, message: `container ${handle} ${kind === 'reaped' ? 'reaped: its grace time passed' : 'destroyed'}` });
    };
    const promise = run().finally(() => this.destroying.delete(handle));
    this.destroying.set(handle, promise);
    return promise;
  }
}

/**
 * portContext is what the ports get for a call on handle: the call's logger with { handle },
 * or nothing for a call without a context, so that the ports log with their own loggers.
 */
function portContext(handle: string, ctx: CallContext | undefined): CallContext | undefined {
  return ctx && { logger: ctx.logger.child({ handle }) };
}

/** timed runs one step of op and tells observer how long it took and whether it threw. */
async function timed<T>(observer: GardenerObserver, op: 'create' | 'destroy', phase: ContainerPhase, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  let ok = false;
  try {
    const result = await fn();
    ok = true;
    return result;
  } finally {
    observer.phase(op, phase, (performance.now() - started) / 1000, ok);
  }
}

/**
 * StepTimer times the steps of a create that run one after another: begin() ends the step
 * before it (as done) and starts the next; end() reports the step running, if any, once.
 */
class StepTimer {
  private phase: ContainerPhase | undefined;
  private started = 0;

  constructor(
    private readonly observer: GardenerObserver,
    private readonly op: 'create' | 'destroy',
  ) {}

  begin(phase: ContainerPhase): void {
    this.end(true);
    this.phase = phase;
    this.started = performance.now();
  }

  end(ok: boolean): void {
    if (this.phase === undefined) return;
    this.observer.phase(this.op, this.phase, (performance.now() - this.started) / 1000, ok);
    this.phase = undefined;
  }
}

/** GardenerContainer is a handle-bound view of the Gardener; ctx is the call's that made it (lookup, create, containers). */
class GardenerContainer implements Container {
  constructor(
    private readonly gardener: Gardener,
    readonly handle: string,
    private readonly ctx?: CallContext,
  ) {}

  stop(kill: boolean): Promise<void> {
    return this.gardener.stopContainer(this.handle, kill, this.ctx);
  }
  info(): Promise<ContainerInfo> {
    return this.gardener.info(this.handle, this.ctx);
  }
  streamIn(spec: StreamInSpec): Promise<void> {
    return this.gardener.streamIn(this.handle, spec, this.ctx);
  }
  streamOut(spec: StreamOutSpec): Promise<Readable> {
    return this.gardener.streamOut(this.handle, spec, this.ctx);
  }
  limitBandwidth(limits: BandwidthLimits): Promise<void> {
    return this.gardener.limit(this.handle, { bandwidth: limits }, this.ctx);
  }
  limitCpu(limits: CpuLimits): Promise<void> {
    return this.gardener.limit(this.handle, { cpu: limits }, this.ctx);
  }
  limitDisk(limits: DiskLimits): Promise<void> {
    return this.gardener.limit(this.handle, { disk: limits }, this.ctx);
  }
  limitMemory(limits: MemoryLimits): Promise<void> {
    return this.gardener.limit(this.handle, { memory: limits }, this.ctx);
  }
  limitPids(limits: PidLimits): Promise<void> {
    return this.gardener.limit(this.handle, { pid: limits }, this.ctx);
  }
  currentLimits(): Promise<Limits> {
    return this.gardener.currentLimits(this.handle);
  }
  async currentBandwidthLimits(): Promise<BandwidthLimits> {
    return (await this.currentLimits()).bandwidth ?? { rateInBytesPerSecond: 0, burstRateInBytesPerSecond: 0 };
  }
  async currentCpuLimits(): Promise<CpuLimits> {
    return (await this.currentLimits()).cpu ?? { weight: 0 };
  }
  async currentDiskLimits(): Promise<DiskLimits> {
    return (await this.currentLimits()).disk ?? { byteSoft: 0, byteHard: 0, inodeSoft: 0, inodeHard: 0, scope: 'total' };
  }
  async currentMemoryLimits(): Promise<MemoryLimits> {
    return (await this.currentLimits()).memory ?? { limitInBytes: 0 };
  }
  async currentPidLimits(): Promise<PidLimits> {
    return (await this.currentLimits()).pid ?? { max: 0 };
  }
  netIn(hostPort: number, containerPort: number): Promise<PortMapping> {
    return this.gardener.netIn(this.handle, hostPort, containerPort, this.ctx);
  }
  netOut(rule: NetOutRule): Promise<void> {
    return this.gardener.netOut(this.handle, [rule], this.ctx);
  }
  bulkNetOut(rules: NetOutRule[]): Promise<void> {
    return this.gardener.netOut(this.handle, rules, this.ctx);
  }
  run(spec: ProcessSpec, io: ProcessIO): Promise<Process> {
    return this.gardener.run(this.handle, spec, io, this.ctx);
  }
  attach(processId: string, io: ProcessIO): Promise<Process> {
    return this.gardener.attach(this.handle, processId, io, this.ctx);
  }
  metrics(): Promise<ContainerMetrics> {
    return this.gardener.metrics(this.handle, this.ctx);
  }
  setGraceTime(graceTimeMs: number): Promise<void> {
    return this.gardener.setGraceTime(this.handle, graceTimeMs);
  }
  properties(): Promise<Properties> {
    return this.gardener.properties(this.handle);
  }
  property(name: string): Promise<string> {
    return this.gardener.property(this.handle, name);
  }
  setProperty(name: string, value: string): Promise<void> {
    return this.gardener.setProperty(this.handle, name, value);
  }
  removeProperty(name: string): Promise<void> {
    return this.gardener.removeProperty(this.handle, name);
  }
}
