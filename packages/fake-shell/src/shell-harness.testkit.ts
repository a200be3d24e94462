// Test helpers for this package's specs: a fake containerizer running SHELL_PROGRAMS with
// one container, and ways to run a process in it and collect what it prints.
import { Writable } from 'node:stream';
import { FakeContainerizer, FakeVolumizer, type FakeFilesystem } from '@arbor/backend-fake';
import type { DiskLimits, Limits, Process, ProcessIO, RunRequest } from '@arbor/core';
import { SHELL_PROGRAMS } from './shell-programs';

export interface Harness {
  containerizer: FakeContainerizer;
  handle: string;
  fs: FakeFilesystem;
}

let counter = 0;

export async function makeHarness(options: { limits?: Limits; stopTimeoutMs?: number } = {}): Promise<Harness> {
  const volumizer = new FakeVolumizer();
  const containerizer = new FakeContainerizer(volumizer, {
    programs: SHELL_PROGRAMS,
    ...(options.stopTimeoutMs !== undefined && { stopTimeoutMs: options.stopTimeoutMs }),
  });
  const handle = `s${++counter}`;
  const limits = options.limits ?? {};
  await volumizer.create(handle, { uri: '' }, limits.disk as DiskLimits | undefined);
  await containerizer.create({
    handle,
    hostname: handle,
    rootfs: { path: '', env: [], user: '', workingDir: '', entrypoint: [], cmd: [] },
    env: [],
    bindMounts: [],
    privileged: false,
    limits,
  });
  return { containerizer, handle, fs: volumizer.filesystem(handle) };
}

/** Collector is a Writable that keeps what it is given. */
export class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    callback();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export function request(spec: Partial<RunRequest> & { path: string }): RunRequest {
  return { id: `p${++counter}`, ...spec };
}

export function sh(script: string, extra: Partial<RunRequest> = {}): RunRequest {
  return request({ path: 'sh', args: ['-c', script], ...extra });
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

/** shell runs a script with sh -c and returns what it did. */
export function shell(h: Harness, script: string, extra: Partial<RunRequest> = {}): Promise<RunResult> {
  return runToEnd(h, sh(script, extra));
}
