import { totalmem } from 'node:os';
import type { Readable } from 'node:stream';
import { ArborError, ContainerNotFoundError, PermissionDeniedError, quoteInput } from '@arbor/core';
import type {
  Containerizer,
  ContainerizerInfo,
  ContainerizerMetrics,
  CreatedContainer,
  DesiredContainer,
  Limits,
  Process,
  ProcessIO,
  RunRequest,
  StreamInSpec,
  StreamOutSpec,
} from '@arbor/core';
import { FakeBindMounts } from './fake-bind-mounts';
import { FakeContainer } from './fake-container';
import type { FakeVolumizer } from './fake-volumizer';
import { HostResolvConf, writeEtcFiles } from './fs/etc-files';
import { resolveUser } from './fs/users';
import { PROBE_PROGRAMS } from './process/probe-program';
import type { ProgramRunner } from './process/program-runner';
import { streamIn } from './tar/stream-in';
import { streamOut } from './tar/stream-out';

export interface FakeContainerizerOptions {
  /** maxContainers is what capacity reports (and the Gardener enforces); 0 or absent: 1024. */
  maxContainers?: number | undefined;
  /** stopTimeoutMs is how long stop waits after TERM before KILL; default 10 s. */
  stopTimeoutMs?: number | undefined;
  /** programs are what exec runs in every container; default PROBE_PROGRAMS, probes only. */
  programs?: ProgramRunner | undefined;
}

/**
 * FakeContainerizer runs containers in memory: each has the filesystem its FakeVolumizer
 * made and runs the programs of its ProgramRunner as processes, with real signals, exit codes, pid
 * limits, terminals and back-pressured output. Nothing leaves the Node process.
 */
export class FakeContainerizer implements Containerizer {
  private readonly containers = new Map<string, FakeContainer>();
  private readonly maxContainers: number;
  private readonly stopTimeoutMs: number;
  private readonly programs: ProgramRunner;
  private readonly resolvConf = new HostResolvConf();
  // memoryInBytes is the host's memory, read once: capacity runs at every create (Gardener.maxContainers)
  private readonly memoryInBytes = totalmem();

  constructor(
    private readonly volumizer: FakeVolumizer,
    options: FakeContainerizerOptions = {},
  ) {
    this.maxContainers = options.maxContainers || 1024;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.programs = options.programs ?? PROBE_PROGRAMS;
  }

  async create(desired: DesiredContainer): Promise<CreatedContainer> {
    if (this.containers.has(desired.handle)) {
      throw new ArborError('alreadyExists', `fake containerizer: '${desired.handle}' already exists`);
    }
    const volume = this.volumizer.filesystem(desired.handle);
    const binds = await FakeBindMounts.mount(volume, desired.bindMounts);
    // the container's processes and stream-ins see its filesystem through its read-only binds
    const fs = binds.guard(volume);
    writeEtcFiles(fs, desired.hostname, await this.resolvConf.text());
    this.containers.set(desired.handle, new FakeContainer(desired.handle, desired.hostname, fs, desired.env, desired.limits, binds, this.programs));
    return { netnsPath: '' };
  }

  async destroy(handle: string): Promise<void> {
    const container = this.containers.get(handle);
    if (!container) return;
    container.destroy();
    this.containers.delete(handle);
  }

  async stop(handle: string, kill: boolean): Promise<void> {
    await this.container(handle).stop(kill, this.stopTimeoutMs);
  }

  async run(handle: string, spec: RunRequest, io: ProcessIO): Promise<Process> {
    const container = this.container(handle);
    return container.binds.afterExit(container.run(spec, io));
  }

  async attach(handle: string, processId: string, io: ProcessIO): Promise<Process> {
    const container = this.container(handle);
    return container.binds.afterExit(container.attach(processId, io));
  }

  async streamIn(handle: string, spec: StreamInSpec): Promise<void> {
    const container = this.container(handle);
    const user = resolveUser(container.fs, spec.user ?? '');
    const maxBytes = container.fs.byteLimit() ?? Number.MAX_SAFE_INTEGER;
    const binds = container.binds;
    // a path that cannot be looked up fails in the stream-in, with its own error
    const dest = container.fs.find(spec.path, { cwd: user.home })?.path;
    if (dest !== undefined && binds.isReadOnly(dest)) {
      throw new PermissionDeniedError(`stream in to ${quoteInput(spec.path)} as ${user.name}: ${dest}: Read-only file system (a read-only bind mount)`);
    }
    await streamIn(container.fs, user, spec.path, spec.tar, maxBytes);
    await binds.writeBack();
  }

  async streamOut(handle: string, spec: StreamOutSpec): Promise<Readable> {
    const container = this.container(handle);
    const user = resolveUser(container.fs, spec.user ?? '');
    return streamOut(container.fs, user, spec.path);
  }

  async info(handle: string): Promise<ContainerizerInfo> {
    const container = this.container(handle);
    return {
      state: container.state,
      events: [],
      processIds: container.runningProcessIds(),
      containerPath: `/arbor-fake/containers/${handle}`,
    };
  }

  /** metrics: the fake has no memory or CPU accounting, so those are 0; pids are exact. */
  async metrics(handle: string): Promise<ContainerizerMetrics> {
    const container = this.container(handle);
    const limit = container.limits.memory?.limitInBytes ?? 0;
    return {
      memory: { usageInBytes: 0, limitInBytes: limit, rss: 0, cache: 0, swap: 0, totalUsageTowardLimit: 0 },
      cpu: { usage: 0, user: 0, system: 0 },
      pid: { current: container.liveTasks().length, max: container.limits.pid?.max ?? 0 },
    };
  }

  async limit(handle: string, limits: Pick<Limits, 'cpu' | 'memory' | 'pid'>): Promise<void> {
    const container = this.container(handle);
    container.limits = { ...container.limits, ...structuredClone(limits) };
  }

  async handles(): Promise<string[]> {
    return [...this.containers.keys()];
  }

  async capacity(): Promise<{ memoryInBytes: number; maxContainers: number }> {
    return { memoryInBytes: this.memoryInBytes, maxContainers: this.maxContainers };
  }

  /** container returns the FakeContainer for handle, for tests. @throws ContainerNotFoundError */
  container(handle: string): FakeContainer {
    const container = this.containers.get(handle);
    if (!container) throw new ContainerNotFoundError(handle);
    return container;
  }
}
