import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import {
  ArborError,
  ContainerNotFoundError,
  InvalidArgumentError,
  InvalidTarError,
  PermissionDeniedError,
  ResourceExhaustedError,
  quoteInput,
} from '@arbor/core';
import type { StreamInSpec, StreamOutSpec } from '@arbor/core';
import { HELPER_EXIT } from './run-helper';
import type { HelperRunner } from './run-helper';
import { guardTar } from './tar-guard';

/** MAX_PATH is the longest stream path arbor-tar takes (the kernel's PATH_MAX, less its NUL). */
const MAX_PATH = 4095;
/** STDERR_LIMIT bounds what arbord keeps of the tar's stderr, which a hostile tar fills at will. */
const STDERR_LIMIT = 8 * 1024;
/** STOP_GRACE_MS is how long a TERMed arbor-tar has to end its tar before it is KILLed. */
const STOP_GRACE_MS = 2000;
/** INIT_EXIT_MS is how long a killed tar's container may take to show that a destroy killed it. */
const INIT_EXIT_MS = 1000;
/**
 * STREAM_OUT_BUFFER is how much of a tar arbord holds for a StreamOut before it stops reading
 * the helper, like 256 KiB: a few of its 64 KiB reads, where the default 16 KiB stopped and
 * restarted the reading at every one.
 */
const STREAM_OUT_BUFFER = 256 * 1024;
/** MESSAGE_LIMIT bounds how much of it an error message repeats. */
const MESSAGE_LIMIT = 400;

/** TarTarget is a container as arbor-tar enters it. */
export interface TarTarget {
  handle: string;
  /**
   * args are arbor-tar's arguments but the direction, like
   * ['--init-pid', '4242', '--busybox', '/var/lib/arbor/rootfs/busybox/bin/busybox', '--cgroup', '/sys/fs/cgroup/memory/arbor/web-1'].
   */
  args: string[];
  /** initAlive says whether the container's init still runs: a tar killed with it was cut by a destroy. */
  initAlive(): Promise<boolean>;
}

/** TarExit is how an arbor-tar ended, with the (bounded) stderr it left. */
interface TarExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: Error;
  stderr: string;
}

type TarChild = ReturnType<HelperRunner['spawnStreaming']>;

/**
 * ContainerTar streams files into and out of a container through arbor-tar, which runs
 * busybox tar inside the container's namespaces and cgroups. Every stream is that call's
 * alone: a tar that stops early, a failing or cancelled source, a reader that goes away or a
 * container destroyed mid-stream ends the helper (and so its tar, which dies with it) and
 * fails the call with an error that says why, never an unhandled 'error' in arbord.
 */
export class ContainerTar {
  constructor(private readonly helpers: HelperRunner) {}

  /**
   * streamIn extracts spec.tar into spec.path of the container, checked by guardTar on the way.
   * It is not atomic (the destination may be a directory in use): a stream-in that fails
   * halfway keeps the entries written before it stopped, and its message says which entry
   * tar had reached, like "... (tar had reached entry "app/b.txt": the entries before it were
   * written and stay, and it may be)".
   * @throws InvalidTarError for a bad or failing tar, PermissionDeniedError where the user may
   * not write, ResourceExhaustedError when the disk limit is reached, InvalidArgumentError for
   * a bad path or user
   */
  async streamIn(target: TarTarget, spec: StreamInSpec): Promise<void> {
    checkPath(spec.path);
    const { child, exited } = this.start(target, ['--extract', spec.path]);
    const guarded = guardTar(spec.tar);
    let sourceError: Error | undefined;
    guarded.on('error', (err) => {
      sourceError ??= err;
      stopTar(child);
    });
    // the tar may stop reading early (a bad destination, a full disk): its exit says why
    child.stdin.on('error', () => undefined);
    const reached = lastLine(child.stdout);
    guarded.pipe(child.stdin);
    const exit = await exited;
    // stop reading the source: what is left of it goes nowhere
    guarded.destroy();
    if (sourceError) throw withWritten(sourceError, reached());
    if (exit.code === 0) return;
    throw withWritten(await this.failure(target, exit, 'stream in to', spec), reached());
  }

  /**
   * streamOut tars spec.path of the container; the Readable fails if the tar does. Destroying
   * it ends the tar.
   * @throws InvalidArgumentError when the path does not exist or the user is bad,
   * PermissionDeniedError when the user may not read it
   */
  async streamOut(target: TarTarget, spec: StreamOutSpec): Promise<Readable> {
    checkPath(spec.path);
    const { child, exited } = this.start(target, ['--create', spec.path]);
    child.stdin.on('error', () => undefined);
    child.stdin.end();
    // the path is known to exist once tar writes its first byte; a missing path ends the helper first
    const first = await Promise.race([
      new Promise<Buffer>((resolve) =>
        child.stdout.once('data', (chunk: Buffer) => {
          // paused here, in the handler: a chunk emitted before the pipe below would be lost
          child.stdout.pause();
          resolve(chunk);
        }),
      ),
      exited,
    ]);
    if (!Buffer.isBuffer(first)) {
      if (first.code === 0) return endedWith(new PassThrough(), undefined);
      throw await this.failure(target, first, 'stream out of', spec);
    }
    const out = new PassThrough({ highWaterMark: STREAM_OUT_BUFFER });
    let done = false;
    // a reader that goes away (a cancelled call, a destroyed stream) ends the tar
    out.on('close', () => {
      if (!done) stopTar(child);
    });
    out.write(first);
    // not ended by stdout's end: the exit code decides between end and error
    child.stdout.pipe(out, { end: false });
    void exited.then(async (exit) => {
      done = true;
      if (out.destroyed) return;
      endedWith(out, exit.code === 0 ? undefined : await this.failure(target, exit, 'stream out of', spec));
    });
    return out;
  }

  /** start runs arbor-tar; exited settles once it has ended and closed its stdio, never rejects. */
  private start(target: TarTarget, direction: string[]): { child: TarChild; exited: Promise<TarExit> } {
    const child = this.helpers.spawnStreaming('arbor-tar', [...target.args, ...direction]);
    const stderr = collect(child.stderr);
    child.stdout.on('error', () => undefined);
    const exited = new Promise<TarExit>((resolve) => {
      child.once('error', (spawnError) => void stderr.then((text) => resolve({ code: null, signal: null, spawnError, stderr: text })));
      child.once('close', (code, signal) => void stderr.then((text) => resolve({ code, signal, stderr: text })));
    });
    return { child, exited };
  }

  /** failure is the error a failed arbor-tar stands for. */
  private async failure(target: TarTarget, exit: TarExit, doing: string, spec: { path: string; user?: string }): Promise<ArborError> {
    const where = `${doing} ${quoteInput(spec.path)}`;
    const message = bounded(exit.stderr);
    if (exit.spawnError) return new ArborError('internal', `${where}: cannot start arbor-tar: ${exit.spawnError.message}`, { cause: exit.spawnError });
    const killed = exit.signal !== null || (exit.code !== null && exit.code > 128);
    if (killed && (await initDies(target))) return new ContainerNotFoundError(target.handle);
    if (exit.code === HELPER_EXIT.notFound) {
      return new InvalidArgumentError(
        'path',
        doing === 'stream in to' ? `${quoteInput(spec.path)}: ${message}` : `${quoteInput(spec.path)} does not exist in the container`,
      );
    }
    if (exit.code === HELPER_EXIT.badUsage) return new InvalidArgumentError('user', message.replace(/^arbor-tar: /, ''));
    if (/No space left on device|Disk quota exceeded/i.test(message)) {
      return new ResourceExhaustedError('disk', `${where}: the container's disk is full: ${message}`);
    }
    if (exit.code === HELPER_EXIT.permission || /Permission denied|Operation not permitted|Read-only file system/i.test(message)) {
      return new PermissionDeniedError(`${where} as ${spec.user || 'root'}: ${message}`);
    }
    if (killed) {
      return new ArborError('failedPrecondition', `${where}: the tar was killed (the container was stopped, or ran out of memory): ${message}`);
    }
    // the tar's own complaint is about the stream; the helper's own failure is not the caller's
    if (doing === 'stream in to' && !message.startsWith('arbor-tar:')) return new InvalidTarError(message || `tar exited ${exit.code}`);
    return new ArborError('internal', `${where}: ${message || `arbor-tar exited ${exit.code}`}`);
  }
}

/**
 * lastLine reads a stream to its end and keeps only its last non-empty line: arbor-tar's
 * --extract listing, of which arbord needs the entry tar reached last.
 */
function lastLine(stream: Readable): () => string | undefined {
  let tail = '';
  stream.on('error', () => undefined);
  stream.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-2 * MESSAGE_LIMIT);
  });
  return () => {
    const lines = tail.split('\n').filter((l) => l !== '');
    return lines[lines.length - 1];
  };
}

/**
 * withWritten adds to a failed stream-in's message where tar stopped: nothing was written
 * when it reached no entry; otherwise the entries before the one named stay.
 */
function withWritten(err: Error, reached: string | undefined): Error {
  // a destroyed container keeps nothing, and its error keeps its one wording
  if (err instanceof ContainerNotFoundError) return err;
  err.message +=
    reached === undefined
      ? ' (no entry was written)'
      : ` (tar had reached entry ${quoteInput(reached)}: the entries before it were written and stay, and it may be)`;
  return err;
}

/**
 * stopTar ends an arbor-tar: TERM makes it KILL its tar and reap it at once (a tar left to
 * the host's init to reap would keep a destroyed container's pid namespace waiting); KILL
 * follows for a helper that does not go.
 */
function stopTar(child: TarChild): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  timer.unref();
  child.once('exit', () => clearTimeout(timer));
}

/**
 * initDies says whether the container's init is gone within INIT_EXIT_MS: a destroy kills the
 * init, whose pid namespace kills the tar before the init itself has finished dying.
 */
async function initDies(target: TarTarget): Promise<boolean> {
  const deadline = Date.now() + INIT_EXIT_MS;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    if (!(await target.initAlive())) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, pause));
  }
}

/** checkPath refuses a path the kernel would refuse anyway, before it becomes an argument. */
function checkPath(path: string): void {
  if (Buffer.byteLength(path) > MAX_PATH) throw new InvalidArgumentError('path', `${quoteInput(path)} is longer than ${MAX_PATH} bytes`);
}

function endedWith(out: PassThrough, err: Error | undefined): PassThrough {
  if (err) out.destroy(err);
  else out.end();
  return out;
}

/** bounded is stderr as an error message repeats it: one line, at most MESSAGE_LIMIT characters. */
function bounded(stderr: string): string {
  const text = stderr.trim().replace(/\s*\n\s*/g, '; ');
  return text.length > MESSAGE_LIMIT ? `${text.slice(0, MESSAGE_LIMIT)}...` : text;
}

/** collect keeps the first STDERR_LIMIT bytes of a stream and reads the rest to nowhere. */
function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (b: Buffer) => {
      if (size < STDERR_LIMIT) chunks.push(b.subarray(0, STDERR_LIMIT - size));
      size += b.length;
    });
    const done = () => resolve(Buffer.concat(chunks).toString('utf8'));
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
