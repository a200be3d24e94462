import { ArborError, quoteInput } from '@arbor/core';
import { Coprocess } from './coprocess';
import type { CoprocessCodec, DecodedReply } from './coprocess';

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

/** SpawnRequest is one program for arbor-spawn to run: argv[0] is its absolute path. */
interface SpawnRequest {
  argv: readonly string[];
  timeoutMs: number;
}

/**
 * newResponseDecoder reads arbor-spawn's responses: len id status exit signal errno outlen, then
 * stdout and stderr. @throws Error on a response no arbor-spawn would send
 */
function newResponseDecoder(): (chunk: Buffer) => Array<DecodedReply<SpawnResult>> {
  let buffered: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const replies: Array<DecodedReply<SpawnResult>> = [];
    while (buffered.length >= 4) {
      const len = buffered.readUInt32LE(0);
      if (buffered.length < 4 + len) break;
      const frame = buffered.subarray(0, 4 + len);
      buffered = buffered.subarray(4 + len);
      const outLen = len >= RESPONSE_HEADER - 4 ? frame.readUInt32LE(24) : -1;
      const outcome = len >= RESPONSE_HEADER - 4 ? OUTCOMES[frame.readUInt32LE(8)] : undefined;
      if (!outcome || outLen > len - (RESPONSE_HEADER - 4)) throw new Error(`a response of ${len} bytes that does not parse`);
      const exit = frame.readInt32LE(12);
      // copies: the frame's buffer is reused by later chunks
      replies.push({
        id: frame.readUInt32LE(4),
        reply: {
          outcome,
          exitCode: exit < 0 ? null : exit,
          signal: frame.readInt32LE(16),
          spawnErrno: frame.readInt32LE(20),
          stdout: Buffer.from(frame.subarray(RESPONSE_HEADER, RESPONSE_HEADER + outLen)),
          stderr: Buffer.from(frame.subarray(RESPONSE_HEADER + outLen)),
        },
      });
    }
    return replies;
  };
}

/** spawnCodec is arbor-spawn's framing: requests and responses carry an id, answered as programs end. */
const spawnCodec: CoprocessCodec<SpawnRequest, SpawnResult> = {
  encode(request, id) {
    const program = request.argv[0] ?? '';
    checkArgv(program, request.argv);
    if (!Number.isInteger(request.timeoutMs) || request.timeoutMs < 0 || request.timeoutMs > 0xffffffff) {
      throw new ArborError('internal', `${program}: timeout ${request.timeoutMs} ms is not a whole number of ms up to 2^32-1`);
    }
    return encodeRequest(id, request.timeoutMs, request.argv);
  },
  newDecoder: newResponseDecoder,
};

/**
 * SpawnServer is arbord's end of arbor-spawn (native/arbor-spawn), a Coprocess: run() sends an
 * argv and resolves with the exit status and output once the program has exited, or once
 * arbor-spawn killed it for outliving its timeout. Several runs may be in flight, up to
 * SPAWN_SLOTS; beyond that a run resolves at once as 'busy'. When arbor-spawn dies, every run
 * in flight fails with CoprocessExitedError (the program may or may not have run; startFailed
 * when arbor-spawn could not start at all, so nothing ran), and the next run starts a new one.
 */
export class SpawnServer {
  private readonly coprocess: Coprocess<SpawnRequest, SpawnResult>;

  constructor(readonly path: string) {
    this.coprocess = new Coprocess(path, spawnCodec, {
      name: 'arbor-spawn',
      describe: (request) => request.argv[0] ?? '',
      missingHint: 'build it with make -C native',
    });
  }

  /**
   * run starts argv[0] (an absolute path) with argv and resolves with how arbor-spawn answered
   * (see SpawnOutcome): a program that failed, timed out or did not start still resolves.
   * @throws ArborError 'internal' when an argument holds a NUL or the timeout is out of range (nothing is sent)
   * @throws CoprocessExitedError when arbor-spawn died, or could not start, before it answered
   */
  run(argv: readonly string[], options: SpawnRunOptions = {}): Promise<SpawnResult> {
    return this.coprocess.request({ argv, timeoutMs: options.timeoutMs ?? 0 });
  }

  /** close ends arbor-spawn once the programs it runs have exited; runs in flight still answer. */
  close(): Promise<void> {
    return this.coprocess.close();
  }
}
