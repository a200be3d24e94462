import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { ArborError, quoteInput } from '@arbor/core';

/**
 * SpawnOutcome is how arbor-spawn answered a run: 'exited' (exitCode and signal say how),
 * 'notStarted' (spawnErrno says why, like 2 ENOENT), 'timedOut' (the program's process group
 * was killed), 'refused' (a request arbor-spawn would not parse; spawnErrno EINVAL or E2BIG),
 * 'busy' (SPAWN_SLOTS programs run already; nothing started).
 */
export type SpawnOutcome = 'exited' | 'notStarted' | 'timedOut' | 'refused' | 'busy';

/** SpawnResult is how one program run by arbor-spawn ended and what it printed. */
export interface SpawnResult {
  outcome: SpawnOutcome;
  /** exitCode is null when a signal ended the program, or it did not end by itself. */
  exitCode: number | null;
  signal: number;
  /** spawnErrno is non-zero (like 2, ENOENT) when the program could not be started at all. */
  spawnErrno: number;
  /** stdout and stderr are what it wrote; for 'timedOut', what it wrote until then. */
  stdout: Buffer;
  stderr: Buffer;
}

/** SpawnRunOptions: timeoutMs is how long the program may run before arbor-spawn kills it, 0 (the default) for no limit. */
export interface SpawnRunOptions {
  timeoutMs?: number;
}

/** SPAWN_SLOTS is how many programs one arbor-spawn runs at once (MAX_JOBS in arbor-spawn.c). */
export const SPAWN_SLOTS = 256;

/** OUTCOMES are the response status numbers of arbor-spawn.c, in order. */
const OUTCOMES: readonly SpawnOutcome[] = ['exited', 'notStarted', 'timedOut', 'refused', 'busy'];

interface Pending {
  program: string;
  resolve: (result: SpawnResult) => void;
  reject: (err: Error) => void;
}

/** RESPONSE_HEADER: every response starts with len id status exit signal errno outlen, native-endian 32-bit. */
const RESPONSE_HEADER = 28;

/**
 * checkArgv refuses an argv with a NUL in any argument: C ends a string there, so the rest
 * would be lost, or (in NUL-separated framing) start an argument of its own, as
 * "X=1\0--privileged" in an image's Env once did. Arguments count from argv[0].
 * @throws ArborError 'internal' naming program and quoting the argument (64 characters at most)
 */
export function checkArgv(program: string, argv: readonly string[]): void {
  const i = argv.findIndex((arg) => arg.includes('\0'));
  if (i >= 0) throw new ArborError('internal', `${program}: argument ${i} ${quoteInput(argv[i] ?? '')} contains a NUL character; not started`);
}

/**
 * encodeRequest is one arbor-spawn request: len id timeout_ms argc, then each argument as its
 * length and its UTF-8 bytes (uint32s little-endian, as on every host Arbor runs on). It
 * does not check for NUL: checkArgv does, and arbor-spawn refuses one too.
 */
export function encodeRequest(id: number, timeoutMs: number, argv: readonly string[]): Buffer {
  const args = argv.map((arg) => Buffer.from(arg, 'utf8'));
  const size = 16 + args.reduce((n, a) => n + 4 + a.length, 0);
  const frame = Buffer.allocUnsafe(size);
  frame.writeUInt32LE(size - 4, 0);
  frame.writeUInt32LE(id, 4);
  frame.writeUInt32LE(timeoutMs, 8);
  frame.writeUInt32LE(args.length, 12);
  let off = 16;
  for (const a of args) {
    frame.writeUInt32LE(a.length, off);
    a.copy(frame, off + 4);
    off += 4 + a.length;
  }
  return frame;
}

/**
 * SpawnServer is arbord's end of one arbor-spawn process (native/arbor-spawn): run() sends an
 * argv and resolves with the exit status and output once the program has exited, or once
 * arbor-spawn killed it for outliving its timeout. Several runs may be in flight, up to
 * SPAWN_SLOTS; beyond that a run resolves at once as 'busy'. When arbor-spawn dies, every run in flight fails with an error saying so
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

  /**
   * run starts argv[0] (an absolute path) with argv and resolves with how arbor-spawn answered
   * (see SpawnOutcome): a program that failed, timed out or did not start still resolves.
   * @throws ArborError when an argument holds a NUL (nothing is sent), or when arbor-spawn
   * died before it answered
   */
  run(argv: readonly string[], options: SpawnRunOptions = {}): Promise<SpawnResult> {
    if (this.deathError) return Promise.reject(this.deathError);
    const program = argv[0] ?? '';
    const timeoutMs = options.timeoutMs ?? 0;
    let frame: Buffer;
    try {
      checkArgv(program, argv);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 0xffffffff) {
        throw new ArborError('internal', `${program}: timeout ${timeoutMs} ms is not a whole number of ms up to 2^32-1`);
      }
      frame = encodeRequest(this.nextId, timeoutMs, argv);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    return new Promise<SpawnResult>((resolve, reject) => {
      this.pending.set(id, { program, resolve, reject });
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
      const outLen = len >= RESPONSE_HEADER - 4 ? frame.readUInt32LE(24) : -1;
      const outcome = len >= RESPONSE_HEADER - 4 ? OUTCOMES[frame.readUInt32LE(8)] : undefined;
      if (!outcome || outLen > len - (RESPONSE_HEADER - 4)) {
        this.die('sent a malformed response');
        this.child.kill('SIGKILL');
        return;
      }
      const id = frame.readUInt32LE(4);
      const exit = frame.readInt32LE(12);
      const pending = this.pending.get(id);
      if (!pending) continue;
      this.pending.delete(id);
      // copies: the frame's buffer is reused by later chunks
      pending.resolve({
        outcome,
        exitCode: exit < 0 ? null : exit,
        signal: frame.readInt32LE(16),
        spawnErrno: frame.readInt32LE(20),
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
