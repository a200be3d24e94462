import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ArborError } from '@arbor/core';

/**
 * CoprocessExitedError is a request that got no answer because its coprocess ended: it
 * exited or was killed (the request may or may not have been carried out), or it could not
 * start at all (startFailed; nothing was carried out).
 */
export class CoprocessExitedError extends ArborError {
  constructor(
    readonly program: string,
    readonly request: string,
    /** reason is like 'exited with 3: dying' or 'cannot start /x/arbor-net: spawn ENOENT'. */
    readonly reason: string,
    readonly startFailed: boolean,
  ) {
    // a program that cannot start is missing or not executable: the host's setup, not Arbor's fault
    super(
      startFailed ? 'failedPrecondition' : 'internal',
      startFailed
        ? `${program}: ${reason}; '${request}' was not carried out`
        : `${program}: '${request}' got no answer, it may or may not have been carried out: the coprocess ${reason}`,
    );
  }
}

/** DecodedReply is one reply read from a coprocess: id names its request, or, when absent, it answers the oldest one. */
export interface DecodedReply<Reply> {
  id?: number;
  reply: Reply;
}

/**
 * CoprocessChild is what an exchange (see CoprocessCodec) sees of the running coprocess.
 */
export interface CoprocessChild {
  readonly pid: number;
  /** requestsBefore is how many requests this process was sent before the current one (0: it just started). */
  readonly requestsBefore: number;
  /** ended says the process has exited or could not start; endedPromise resolves then. */
  readonly ended: boolean;
  readonly endedPromise: Promise<void>;
  /** write resolves once bytes are handed to the pipe. */
  write(bytes: string | Buffer): Promise<void>;
  /** kill ends the process with SIGKILL; its pending requests fail with CoprocessExitedError. */
  kill(): void;
}

/**
 * CoprocessCodec is the framing of one coprocess protocol. encode turns a request into bytes
 * (throwing refuses the request, nothing is sent); newDecoder makes the reader of one
 * process's stdout, which returns the replies complete so far and throws on a malformed one
 * (the process is then killed). A program that answers nothing on stdout (iptables-restore)
 * gives exchange instead: it writes the request and resolves once the program has handled it.
 */
export interface CoprocessCodec<Request, Reply> {
  encode(request: Request, id: number): string | Buffer;
  newDecoder?(): (chunk: Buffer) => Array<DecodedReply<Reply>>;
  exchange?(child: CoprocessChild, bytes: string | Buffer, request: Request): Promise<Reply>;
}

/**
 * lineCodec frames requests and replies as lines, answered in order: 'del arbv0afe0002\n'
 * gets 'ok\n'. A request holding a newline is refused.
 */
export const lineCodec: CoprocessCodec<string, string> = {
  encode(line: string): string {
    if (/[\n\r]/.test(line)) throw new ArborError('internal', `coprocess: request '${JSON.stringify(line)}' holds a line break`);
    return `${line}\n`;
  },
  newDecoder() {
    let buffered = '';
    return (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      return lines.map((reply) => ({ reply }));
    };
  },
};

export interface CoprocessOptions<Request> {
  /** name is how errors call the program, like 'arbor-net'. */
  name: string;
  /** args are its command-line arguments, like ['--noflush', '-w']. */
  args?: readonly string[];
  /** describe names a request in errors, like 'del arbv0afe0002'; String(request) by default. */
  describe?: (request: Request) => string;
  /** missingHint follows a start failure, like "build it with 'make -C native'". */
  missingHint?: string;
  /** onStderrLine gets each line the process writes to stderr, like a JSON log line. */
  onStderrLine?: (line: string) => void;
  /** retireAfter: a process that was sent this many requests is closed; the next request starts another. */
  retireAfter?: number;
  /** closeKillAfterMs: close() kills a process still running this long after its stdin ended; by default it waits. */
  closeKillAfterMs?: number;
}

interface Pending<Reply> {
  request: string;
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
}

/** STDERR_TAIL is how much of a process's stderr is kept to say why it died. */
const STDERR_TAIL = 2000;

/**
 * Coprocess is arbord's end of one long-lived helper process (arbor-spawn, arbor-mount,
 * arbor-net, iptables-restore) spoken to through a CoprocessCodec. The process starts on the
 * first request, several requests may be in flight, and when it dies every one in flight
 * fails with CoprocessExitedError; the next request starts a new process. It holds Node's
 * event loop only while a request waits, so an idle coprocess never keeps arbord (or a test
 * run) alive.
 */
export class Coprocess<Request, Reply> {
  private current: Session<Request, Reply> | undefined;

  /** path is the program, like /opt/arbor/native/build/arbor-net. */
  constructor(
    readonly path: string,
    private readonly codec: CoprocessCodec<Request, Reply>,
    private readonly options: CoprocessOptions<Request>,
  ) {}

  /**
   * request sends request and resolves with its reply.
   * @throws what codec.encode or codec.exchange throw (an encode error sends nothing)
   * @throws CoprocessExitedError when the process ends, or cannot start, before it answers
   */
  request(request: Request): Promise<Reply> {
    const described = (this.options.describe ?? String)(request);
    const running = this.current?.ended === false ? this.current : undefined;
    let bytes: string | Buffer;
    try {
      bytes = this.codec.encode(request, running?.nextId ?? 1);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const session = running ?? (this.current = new Session(this.path, this.codec, this.options));
    const reply = session.send(described, bytes, request);
    const retireAfter = this.options.retireAfter;
    if (retireAfter !== undefined && session.sent >= retireAfter) {
      this.current = undefined;
      void reply.catch(() => undefined).finally(() => void session.close(this.options.closeKillAfterMs));
    }
    return reply;
  }

  /** close ends the process once it has answered the requests in flight; a later request starts a new one. */
  async close(): Promise<void> {
    const session = this.current;
    this.current = undefined;
    await session?.close(this.options.closeKillAfterMs);
  }
}

/** Session is one run of the coprocess: from spawn to exit. */
class Session<Request, Reply> {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, Pending<Reply>>();
  private readonly decode: ((chunk: Buffer) => Array<DecodedReply<Reply>>) | undefined;
  private readonly endedPromise: Promise<void>;
  private stderr = '';
  private started = false;
  ended = false;
  nextId = 1;
  sent = 0;

  constructor(
    private readonly path: string,
    private readonly codec: CoprocessCodec<Request, Reply>,
    private readonly options: CoprocessOptions<Request>,
  ) {
    this.decode = codec.newDecoder?.();
    this.child = spawn(path, options.args ?? [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.on('spawn', () => (this.started = true));
    this.child.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
    let partial = '';
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      // keep the last words only: they say why it died
      this.stderr = (this.stderr + chunk).slice(-STDERR_TAIL);
      if (!options.onStderrLine) return;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line) options.onStderrLine(line);
    });
    this.child.stdin.on('error', () => undefined);
    this.endedPromise = new Promise<void>((resolve) => {
      this.child.on('error', (err: NodeJS.ErrnoException) => {
        // 'error' also comes for a failed kill or write; only one before 'spawn' means it never ran
        if (this.started) return;
        const hint = options.missingHint && (err.code === 'ENOENT' || err.code === 'EACCES') ? ` (${options.missingHint})` : '';
        this.end(`cannot start ${path}: ${err.message}${hint}`, true);
        resolve();
      });
      this.child.on('close', (code, signal) => {
        this.end(`exited with ${code ?? signal}${this.stderr.trim() ? `: ${this.stderr.trim()}` : ''}`, false);
        resolve();
      });
    });
    this.hold(false);
  }

  send(request: string, bytes: string | Buffer, original: Request): Promise<Reply> {
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    const requestsBefore = this.sent++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { request, resolve, reject });
      this.hold(true);
      if (!this.codec.exchange) {
        this.child.stdin.write(bytes);
        return;
      }
      this.codec.exchange(this.childView(requestsBefore), bytes, original).then(
        (reply) => this.settle(id, (p) => p.resolve(reply)),
        (err: unknown) => this.settle(id, (p) => p.reject(err instanceof Error ? err : new Error(String(err)))),
      );
    });
  }

  /** close ends stdin, waits for the process to exit, and kills it after killAfterMs when given. */
  async close(killAfterMs: number | undefined): Promise<void> {
    if (this.ended) return;
    this.child.stdin.end();
    const killer = killAfterMs === undefined ? undefined : setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
    await this.endedPromise;
    clearTimeout(killer);
  }

  private childView(requestsBefore: number): CoprocessChild {
    const child = this.child;
    const ended = (): boolean => this.ended;
    return {
      pid: child.pid ?? 0,
      requestsBefore,
      get ended() {
        return ended();
      },
      endedPromise: this.endedPromise,
      write: (bytes) => new Promise<void>((resolve) => child.stdin.write(bytes, () => resolve())),
      kill: () => child.kill('SIGKILL'),
    };
  }

  private receive(chunk: Buffer): void {
    if (!this.decode) return;
    let replies: Array<DecodedReply<Reply>>;
    try {
      replies = this.decode(chunk);
    } catch (err) {
      this.end(`sent a malformed reply: ${(err as Error).message}`, false);
      this.child.kill('SIGKILL');
      return;
    }
    for (const { id, reply } of replies) {
      const key = id ?? this.pending.keys().next().value;
      if (key !== undefined) this.settle(key, (p) => p.resolve(reply));
    }
  }

  /** settle answers request id, unless the process's end has answered it already. */
  private settle(id: number, answer: (p: Pending<Reply>) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    answer(p);
    if (this.pending.size === 0) this.hold(false);
  }

  /** end fails every request in flight: the process is gone. */
  private end(reason: string, startFailed: boolean): void {
    if (this.ended) return;
    this.ended = true;
    for (const p of this.pending.values()) p.reject(new CoprocessExitedError(this.options.name, p.request, reason, startFailed));
    this.pending.clear();
    this.hold(false);
  }

  /** hold keeps Node's event loop open while a request is in flight, and only then. */
  private hold(busy: boolean): void {
    for (const handle of [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as Array<{ ref(): void; unref(): void }>) {
      if (busy) handle.ref();
      else handle.unref();
    }
  }
}
