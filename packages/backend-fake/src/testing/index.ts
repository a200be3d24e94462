// @arbor/backend-fake/testing: test helpers for this package's specs and @arbor/fake-shell's: a
// containerizer with one container, and ways to run a process in it and collect what it prints.
import { Writable } from 'node:stream';
import type { DiskLimits, ImageRef, Limits, Process, ProcessIO, RunRequest } from '@arbor/core';
import { probeCommand, type ProbeStep } from '@arbor/probes';
import type { FakeContainer } from '../fake-container';
import { FakeContainerizer } from '../fake-containerizer';
import { FakeVolumizer } from '../fake-volumizer';
import type { FakeFilesystem } from '../fs/fake-filesystem';
import type { ProgramRunner } from '../process/program-runner';

export interface Harness {
  containerizer: FakeContainerizer;
  volumizer: FakeVolumizer;
  handle: string;
  container: FakeContainer;
  fs: FakeFilesystem;
}

let counter = 0;

/** HarnessOptions: programs is what the container's exec runs (the fake's probes by default). */
export interface HarnessOptions {
  limits?: Limits;
  image?: ImageRef;
  stopTimeoutMs?: number;
  handle?: string;
  programs?: ProgramRunner;
}

export async function makeHarness(options: HarnessOptions = {}): Promise<Harness> {
  const volumizer = new FakeVolumizer();
  const containerizer = new FakeContainerizer(volumizer, {
    ...(options.stopTimeoutMs !== undefined && { stopTimeoutMs: options.stopTimeoutMs }),
    ...(options.programs && { programs: options.programs }),
  });
  const handle = options.handle ?? `c${++counter}`;
  const limits = options.limits ?? {};
  await volumizer.create(handle, options.image ?? { uri: '' }, limits.disk as DiskLimits | undefined);
  await containerizer.create({
    handle,
    hostname: handle,
    rootfs: { path: '', env: [], user: '', workingDir: '', entrypoint: [], cmd: [] },
    env: [],
    bindMounts: [],
    privileged: false,
    limits,
  });
  return { containerizer, volumizer, handle, container: containerizer.container(handle), fs: volumizer.filesystem(handle) };
}

/** Collector is a Writable that keeps what it is given; highWaterMark 0 slows the writer to each chunk. */
export class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  constructor(options: { highWaterMark?: number } = {}) {
    super({ highWaterMark: options.highWaterMark ?? 16 * 1024 });
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    callback();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
  get bytes(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }
}

export function request(spec: Partial<RunRequest> & { path: string }): RunRequest {
  return { id: `p${++counter}`, ...spec };
}

/** probe is a request that runs steps (see @arbor/probes), with the probe's own args. */
export function probe(steps: ProbeStep[], extra: Partial<RunRequest> & { probeArgs?: string[] } = {}): RunRequest {
  const { probeArgs, ...rest } = extra;
  return request({ ...probeCommand(steps, probeArgs), ...rest });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function start(h: Harness, spec: RunRequest, io: ProcessIO = {}): Promise<Process> {
  return h.containerizer.run(h.handle, spec, io);
}

/** runToEnd runs spec and returns its exit code and output. */
export async function runToEnd(h: Harness, spec: RunRequest, io: Omit<ProcessIO, 'stdout' | 'stderr'> = {}): Promise<RunResult> {
  const stdout = new Collector();
  const stderr = new Collector();
  const process = await h.containerizer.run(h.handle, spec, { ...io, stdout, stderr });
  const code = await process.wait();
  return { code, stdout: stdout.text, stderr: stderr.text };
}
