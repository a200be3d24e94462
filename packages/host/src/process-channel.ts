import { constants, open as openCallback, close as closeCallback, write as writeCallback } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { ArborError, InvalidArgumentError, ProcessNotFoundError } from '@arbor/core';
import type { Process, ProcessIO, Signal, TtySpec } from '@arbor/core';

const openFd = promisify(openCallback);
const closeFd = promisify(closeCallback);
const writeFd = promisify(writeCallback) as (fd: number, text: string) => Promise<unknown>;

/** EXIT_STATUS_GRACE_MS: how long to wait for the exit file after output ended (a supervisor writes it first). */
const EXIT_STATUS_GRACE_MS = 1000;

interface Attacher {
  stdout: Writable | undefined;
  stderr: Writable | undefined;
  /** blocked counts this attacher's streams waiting for 'drain'. */
  blocked: number;
  detached: boolean;
}

/**
 * ProcessChannel is arbord's end of one process run by arbor-exec. The process dir (like
 * /var/lib/arbor/depot/<handle>/processes/<id>) holds FIFOs stdin, stdout, stderr and
 * control, a pid file and, once it has exited, an exit file. The channel reads stdout and
 * stderr and hands every chunk to each attached caller (a slow caller slows the process);
 * with no caller attached, output is read and dropped, so a process never stalls on a
 * client that went away. A new channel over the same dir (after arbord restarts) gets what
 * the FIFOs still hold. The exit status is read after both outputs ended.
 */
export class ProcessChannel {
  private readonly attachers = new Set<Attacher>();
  private readonly outputs: Socket[] = [];
  private readonly exitStatus: Promise<number>;
  private exited = false;
  /** stdinWriters are arbord's open writers of the stdin FIFO, one per caller sending stdin. */
  private readonly stdinWriters = new Set<{ stdin: Readable; sink: Socket }>();
  private stdinEnded = false;
  /** destroyedStatus is the status callers get when the process died with its container and left none. */
  private destroyedStatus: number | undefined;

  private constructor(
    readonly id: string,
    readonly dir: string,
    stdoutFd: number,
    stderrFd: number,
  ) {
    // the sockets start reading at once: listen in the same tick, or an early end is missed
    const stdout = new Socket({ fd: stdoutFd, readable: true, writable: false });
    const stderr = new Socket({ fd: stderrFd, readable: true, writable: false });
    this.outputs.push(stdout, stderr);
    const ended = [stdout, stderr].map(
      (socket, i) =>
        new Promise<void>((resolve) => {
          socket.on('data', (chunk: Buffer) => this.deliver(chunk, i === 0 ? 'stdout' : 'stderr', socket));
          socket.on('end', resolve);
          socket.on('close', resolve);
          socket.on('error', () => resolve());
        }),
    );
    this.exitStatus = Promise.all(ended).then(() => this.readExitStatus());
    this.exitStatus.then(
      () => (this.exited = true),
      () => (this.exited = true),
    );
  }

  /** open connects to the process in dir. @throws ProcessNotFoundError when dir holds no process */
  static async open(id: string, dir: string): Promise<ProcessChannel> {
    const opened = await Promise.allSettled([openReader(join(dir, 'stdout'), id), openReader(join(dir, 'stderr'), id)]);
    const [stdout, stderr] = opened;
    if (stdout.status === 'fulfilled' && stderr.status === 'fulfilled') return new ProcessChannel(id, dir, stdout.value, stderr.value);
    // the one that opened is closed, or every failed open would keep an fd
    for (const r of opened) if (r.status === 'fulfilled') await closeFd(r.value).catch(() => undefined);
    throw (opened.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
  }

  /** done resolves with the exit status once all output has been handed out. */
  done(): Promise<number> {
    return this.exitStatus;
  }

  /**
   * attach adds a caller, as 'run' (the Run that started the process) or 'attach'. As in
   * Garden, the process's input ends when a caller's stdin ends, or when a caller that sends
   * stdin detaches or disconnects before it ended (no more input can come from it); a Run
   * without stdin ends it at once. An Attach without stdin leaves it alone.
   */
  attach(io: ProcessIO, caller: 'run' | 'attach'): Process {
    const attacher: Attacher = { stdout: io.stdout, stderr: io.stderr, blocked: 0, detached: false };
    this.attachers.add(attacher);
    const detach = (): void => {
      if (attacher.detached) return;
      attacher.detached = true;
      this.attachers.delete(attacher);
      if (attacher.blocked > 0) {
        attacher.blocked = 0;
        this.resumeIfFree();
      }
    };
    if (io.detach?.aborted) detach();
    io.detach?.addEventListener('abort', detach, { once: true });
    if (io.stdin) this.pipeStdin(io);
    else if (caller === 'run') this.endStdin();
    const wait = this.exitStatus.finally(detach);
    wait.catch(() => undefined);
    return {
      id: this.id,
      wait: () => wait,
      setTty: (spec: TtySpec) => this.setTty(spec),
      signal: (signal: Signal) => this.signal(signal),
    };
  }

  /** close drops arbord's end (the process keeps running). */
  close(): void {
    for (const s of this.outputs) s.destroy();
  }

  /**
   * closeDestroyed drops arbord's end as the container is destroyed: the process is killed
   * with it, so callers still waiting get 137 (killed by SIGKILL) unless it had exited, as
   * Garden reports a process of a destroyed container.
   */
  closeDestroyed(): void {
    this.destroyedStatus = 128 + (osConstants.signals.SIGKILL as number);
    this.close();
  }

  async signal(signal: Signal): Promise<void> {
    const number = osConstants.signals[signal];
    if (number === undefined) throw new InvalidArgumentError('signal', `'${signal}' is not a POSIX signal name, like SIGTERM`);
    await this.control(`signal ${number}`);
  }

  async setTty(spec: TtySpec): Promise<void> {
    const size = spec.windowSize ?? { columns: 80, rows: 24 };
    await this.control(`winsize ${size.columns} ${size.rows}`);
  }

  private deliver(chunk: Buffer, stream: 'stdout' | 'stderr', source: Socket): void {
    for (const a of this.attachers) {
      const target = a[stream];
      if (!target || target.destroyed || target.writableEnded) continue;
      if (!target.write(chunk)) {
        a.blocked += 1;
        source.pause();
        target.once('drain', () => {
          if (a.blocked > 0) a.blocked -= 1;
          this.resumeIfFree();
        });
      }
    }
  }

  private resumeIfFree(): void {
    for (const a of this.attachers) if (a.blocked > 0) return;
    for (const s of this.outputs) if (!s.destroyed) s.resume();
  }

  /**
   * pipeStdin copies the caller's stdin into the process's stdin FIFO. arbord's end of the FIFO
   * lives no longer than the process: a caller whose stdin ends only after the exit (a Run's
   * stdin_close arrives after the process is done) or never would otherwise keep it open.
   */
  private pipeStdin(io: ProcessIO): void {
    const stdin = io.stdin;
    if (!stdin) return;
    void openFd(join(this.dir, 'stdin'), constants.O_WRONLY | constants.O_NONBLOCK).then(
      (fd) => {
        if (this.stdinEnded || this.exited) {
          void closeFd(fd).catch(() => undefined);
          return;
        }
        if (io.detach?.aborted) {
          void closeFd(fd).catch(() => undefined);
          this.endStdin();
          return;
        }
        const sink = new Socket({ fd, readable: false, writable: true });
        sink.on('error', () => undefined);
        const writer = { stdin, sink };
        this.stdinWriters.add(writer);
        const drop = (): void => {
          stdin.unpipe(sink);
          sink.destroy();
          this.stdinWriters.delete(writer);
        };
        this.exitStatus.then(drop, drop);
        stdin.on('end', () => this.endStdin());
        stdin.on('error', () => this.endStdin());
        // a caller gone before its stdin ended can send no more: its input ends, as in Garden
        io.detach?.addEventListener('abort', () => {
          if (!stdin.readableEnded) {
            drop();
            this.endStdin();
          }
        });
        stdin.pipe(sink, { end: false });
      },
      () => undefined,
    );
  }

  /**
   * endStdin ends the process's input once: the process sees EOF only when no writer of its
   * stdin FIFO is left, so every writer arbord holds closes (after what it was given is
   * written), then the supervisor closes its own ('eof'; on a terminal it types ^D).
   */
  private endStdin(): void {
    if (this.stdinEnded) return;
    this.stdinEnded = true;
    const writers = [...this.stdinWriters];
    this.stdinWriters.clear();
    const closed = writers.map(
      ({ stdin, sink }) =>
        new Promise<void>((resolve) => {
          stdin.unpipe(sink);
          sink.once('close', () => resolve());
          sink.end();
        }),
    );
    void Promise.all(closed).then(() => this.control('eof').catch(() => undefined));
  }

  /** control writes one command line to the supervisor. @throws ProcessNotFoundError once it is gone */
  private async control(line: string): Promise<void> {
    if (this.exited) throw new ProcessNotFoundError(this.id);
    let fd: number;
    try {
      fd = await openFd(join(this.dir, 'control'), constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENXIO' || code === 'ENOENT') throw new ProcessNotFoundError(this.id);
      throw err;
    }
    try {
      // one short line is one atomic pipe write, even with several callers at once
      await writeFd(fd, `${line}\n`);
    } finally {
      await closeFd(fd);
    }
  }

  private async readExitStatus(): Promise<number> {
    const file = join(this.dir, 'exit');
    const deadline = Date.now() + EXIT_STATUS_GRACE_MS;
    for (;;) {
      try {
        const text = (await readFile(file, 'utf8')).trim();
        return Number(text);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && this.destroyedStatus !== undefined) return this.destroyedStatus;
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || Date.now() > deadline) {
          throw new ArborError('internal', `process ${this.id} ended without an exit status: its supervisor was killed`, { cause: err });
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }
}

async function openReader(path: string, id: string): Promise<number> {
  let fd: number;
  try {
    fd = await openFd(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ProcessNotFoundError(id);
    throw err;
  }
  // A FIFO reader sees end-of-file (POLLHUP) only once some writer has come and gone since
  // it opened; after the process and its supervisor are gone there would be none, so come
  // and go once here.
  try {
    await closeFd(await openFd(path, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch (err) {
    await closeFd(fd).catch(() => undefined);
    throw err;
  }
  return fd;
}
