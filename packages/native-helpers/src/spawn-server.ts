import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { ArborError } from '@arbor/core';

/** SpawnResult is how one program run by arbor-spawn ended and what it printed. */
export interface SpawnResult {
  /** exitCode is null when a signal ended the program. */
  exitCode: number | null;
  signal: number;
  /** spawnErrno is non-zero (like 2, ENOENT) when the program could not be started at all. */
  spawnErrno: number;
  stdout: Buffer;
  stderr: Buffer;
}

interface Pending {
  program: string;
  resolve: (result: SpawnResult) => void;
  reject: (err: Error) => void;
}

/** HEADER: every response starts with len id exit signal errno outlen, native-endian 32-bit. */
const RESPONSE_HEADER = 24;

/**
 * SpawnServer is arbord's end of one arbor-spawn process (native/arbor-spawn): run() sends an
 * argv and resolves with the exit status and output once the program has exited. Several runs
 * may be in flight. When arbor-spawn dies, every run in flight fails with an error saying so
 * (the program may or may not have run), and `dead` turns true: the owner starts a new one.
 * The process does not keep Node's event loop alive while nothing is in flight.
 */
export class SpawnServer {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffered: Buffer = Buffer.alloc(0);
  private stderr = '';
  private deathError: ArborError | undefined;

  constructor(readonly path: string) {
    this.child = spawn(path, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => this.receive(chunk));
    this.child.stderr?.on('data', (chunk: Buffer) => {
      // keep the last words only: they say why it died
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-2000);
    });
    this.child.stdin?.on('error', () => undefined);
    this.child.on('error', (err) => {
      this.startFailed = true;
      this.die(`cannot start ${path}: ${err.message} (build it with make -C native)`, err);
    });
    this.child.on('close', (code, signal) => this.die(`${path} exited (${code ?? signal})${this.stderr ? `: ${this.stderr.trim()}` : ''}`));
    this.idle();
  }

  /** startFailed says the server never ran: no run given to it started a program. */
  startFailed = false;

  /** dead says this server can take no more runs. */
  get dead(): boolean {
    return this.deathError !== undefined;
  }

  /** run starts argv[0] (an absolute path) with argv. @throws ArborError when arbor-spawn died before it answered */
  run(argv: readonly string[]): Promise<SpawnResult> {
    if (this.deathError) return Promise.reject(this.deathError);
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    const strings = Buffer.from(`${argv.join('\0')}\0`, 'utf8');
    const frame = Buffer.alloc(12 + strings.length);
    frame.writeUInt32LE(8 + strings.length, 0);
    frame.writeUInt32LE(id, 4);
    frame.writeUInt32LE(argv.length, 8);
    strings.copy(frame, 12);
    return new Promise<SpawnResult>((resolve, reject) => {
      this.pending.set(id, { program: argv[0] ?? '', resolve, reject });
      this.busy();
      this.child.stdin?.write(frame);
    });
  }

  /** close ends arbor-spawn once the programs it runs have exited; runs in flight still answer. */
  close(): void {
    this.child.stdin?.end();
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const len = this.buffered.readUInt32LE(0);
      if (this.buffered.length < 4 + len) break;
      const frame = this.buffered.subarray(0, 4 + len);
      this.buffered = this.buffered.subarray(4 + len);
      const id = frame.readUInt32LE(4);
      const exit = frame.readInt32LE(8);
      const signal = frame.readInt32LE(12);
      const spawnErrno = frame.readInt32LE(16);
      const outLen = frame.readUInt32LE(20);
      const pending = this.pending.get(id);
      if (!pending) continue;
      this.pending.delete(id);
      // copies: the frame's buffer is reused by later chunks
      pending.resolve({
        exitCode: exit < 0 ? null : exit,
        signal,
        spawnErrno,
        stdout: Buffer.from(frame.subarray(RESPONSE_HEADER, RESPONSE_HEADER + outLen)),
        stderr: Buffer.from(frame.subarray(RESPONSE_HEADER + outLen)),
      });
    }
    if (this.pending.size === 0) this.idle();
  }

  private die(message: string, cause?: unknown): void {
    if (this.deathError) return;
    this.deathError = new ArborError('internal', `arbor-spawn: ${message}`, cause === undefined ? undefined : { cause });
    for (const p of this.pending.values()) {
      p.reject(new ArborError('internal', `arbor-spawn died while running ${p.program}, which may or may not have run: ${message}`));
    }
    this.pending.clear();
    this.idle();
  }

  /** busy and idle hold Node's event loop open only while a run is in flight. */
  private busy(): void {
    this.child.ref();
    (this.child.stdout as Socket | null)?.ref();
  }

  private idle(): void {
    this.child.unref();
    (this.child.stdout as Socket | null)?.unref();
    (this.child.stderr as Socket | null)?.unref();
    (this.child.stdin as Socket | null)?.unref();
  }
}
