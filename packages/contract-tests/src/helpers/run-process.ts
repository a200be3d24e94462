import { Readable } from 'node:stream';
import type { Container, Process, ProcessIO, ProcessSpec } from '@arbor/core';
import { probeCommand, type ProbeStep } from '@arbor/probes';
import { OutputCollector } from './output-collector';

/** RunningProcess is a started process with its output collected and a way to detach. */
export interface RunningProcess {
  process: Process;
  stdout: OutputCollector;
  stderr: OutputCollector;
  /** detach stops listening; the process keeps running. */
  detach(): void;
}

export interface ProcessResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

function stdinStream(stdin: Buffer | string | Readable | undefined): Readable | undefined {
  if (stdin === undefined) return undefined;
  if (stdin instanceof Readable) return stdin;
  return Readable.from([Buffer.from(stdin)]);
}

/** withCollectors starts or attaches a process with fresh collectors on stdout and stderr. */
async function withCollectors(stdin: Buffer | string | Readable | undefined, begin: (io: ProcessIO) => Promise<Process>): Promise<RunningProcess> {
  const stdout = new OutputCollector();
  const stderr = new OutputCollector();
  const detacher = new AbortController();
  const input = stdinStream(stdin);
  const process = await begin({ stdout, stderr, detach: detacher.signal, ...(input && { stdin: input }) });
  return { process, stdout, stderr, detach: () => detacher.abort() };
}

/** startProcess runs spec with collectors on stdout and stderr and returns at once. */
export function startProcess(container: Container, spec: ProcessSpec, stdin?: Buffer | string | Readable): Promise<RunningProcess> {
  return withCollectors(stdin, (io) => container.run(spec, io));
}

/** attachProcess attaches to processId with fresh collectors. */
export function attachProcess(container: Container, processId: string, stdin?: Buffer | string | Readable): Promise<RunningProcess> {
  return withCollectors(stdin, (io) => container.attach(processId, io));
}

/** finish waits for the exit status and returns it with the output that had arrived by then. */
export async function finish(running: RunningProcess): Promise<ProcessResult> {
  const exitCode = await running.process.wait();
  // read the collectors in the same tick: output must be complete when the status arrives
  const stdoutBytes = running.stdout.bytes();
  return { exitCode, stdout: stdoutBytes.toString('utf8'), stderr: running.stderr.text(), stdoutBytes };
}

/** runToEnd runs spec to completion, like a user who waits for the exit status. */
export async function runToEnd(container: Container, spec: ProcessSpec, stdin?: Buffer | string | Readable): Promise<ProcessResult> {
  return finish(await startProcess(container, spec, stdin));
}

/** probe is a ProcessSpec doing steps, like probe(line('ready'), sleep(0.5), exit(3)): every backend runs it. */
export function probe(...steps: ProbeStep[]): ProcessSpec {
  return probeCommand(steps);
}

/** probeWith is probe with the rest of a ProcessSpec (user, dir, env, tty, id) and args for printArgs. */
export function probeWith(extra: Omit<ProcessSpec, 'path' | 'args'> & { args?: string[] }, ...steps: ProbeStep[]): ProcessSpec {
  const { args, ...rest } = extra;
  return { ...rest, ...probeCommand(steps, args) };
}

/** sh is a ProcessSpec running a shell script, like sh('echo hi >&2'): only for tests of real shells and kernels, behind a capability. */
export function sh(script: string, extra: Omit<ProcessSpec, 'path' | 'args'> = {}): ProcessSpec {
  return { path: 'sh', args: ['-c', script], ...extra };
}
