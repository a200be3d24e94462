import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { endSocket, write } from './http-connection';

export interface OutputStreamOptions {
  /** maxBufferedBytes bounds what waits for an attacher, like 1 MiB. */
  maxBufferedBytes: number;
  /**
   * unattachedWaitMs is how long a full buffer holds the process back waiting for an
   * attacher, like 10 s; then, since nobody reads the stream, its output is discarded.
   */
  unattachedWaitMs: number;
  /** onDiscard is told once when output starts being discarded. */
  onDiscard?: () => void;
}

/**
 * OutputStream is one of a process's stdout/stderr as Garden serves it: the backend writes
 * to `writable`, and the clients that attach (GET .../attaches/<stream id>/stdout) read it.
 * Unlike Garden's 4,000-chunk channel that drops writes when full, a write completes only
 * once every attached reader's socket has room (a slow reader slows the process); before
 * the first attacher arrives, up to maxBufferedBytes wait for it (Garden's clients attach
 * just after the process starts, and may come after it has exited).
 */
export class OutputStream {
  readonly writable: Writable;
  private queue: Buffer[] = [];
  private queued = 0;
  private readonly readers = new Set<Socket>();
  private discarding = false;
  private ended = false;
  private held: (() => void) | undefined;
  private heldTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: OutputStreamOptions) {
    this.writable = new Writable({
      write: (chunk: Buffer, _encoding, callback) => this.accept(chunk, () => callback()),
    });
    // the backend ends or destroys the writable as it likes; errors after detach are not ours
    this.writable.on('error', () => undefined);
  }

  /** bufferedBytes is what waits for an attacher. */
  get bufferedBytes(): number {
    return this.queued;
  }

  private accept(chunk: Buffer, done: () => void): void {
    if (this.ended) return done();
    if (this.readers.size > 0) {
      void this.deliver(chunk).then(done);
      return;
    }
    if (this.discarding) return done();
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued <= this.options.maxBufferedBytes) return done();
    this.held = done;
    // no reader now (none yet, or the last one left): wait a while for one, then discard
    this.heldTimer = setTimeout(() => this.discard(), this.options.unattachedWaitMs);
    this.heldTimer.unref();
  }

  private discard(): void {
    if (this.readers.size > 0) return;
    this.discarding = true;
    this.queue = [];
    this.queued = 0;
    this.options.onDiscard?.();
    this.release();
  }

  private release(): void {
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    const held = this.held;
    this.held = undefined;
    held?.();
  }

  private async deliver(chunk: Buffer): Promise<void> {
    await Promise.all([...this.readers].map((socket) => write(socket, chunk)));
  }

  /**
   * attach adds a reader: it gets what is buffered, then what comes next, then the end of
   * the stream; several readers each get every byte written while they are attached.
   */
  attach(socket: Socket): void {
    this.discarding = false;
    this.readers.add(socket);
    // a gone reader must not hold the process back: the next write that finds no reader
    // buffers, then waits unattachedWaitMs for another one
    socket.once('close', () => this.readers.delete(socket));
    for (const chunk of this.queue) socket.write(chunk);
    this.queue = [];
    this.queued = 0;
    if (this.ended) {
      void endSocket(socket);
      return;
    }
    if (this.held) {
      const held = this.held;
      this.held = undefined;
      if (this.heldTimer) clearTimeout(this.heldTimer);
      this.heldTimer = undefined;
      void write(socket, Buffer.alloc(0)).then(() => held());
    }
  }

  /**
   * end says no more output will come: every attached reader gets the rest and its
   * connection ends; it resolves once they have (what waits for no reader stays buffered
   * for a late attacher).
   */
  async end(): Promise<void> {
    this.ended = true;
    this.release();
    await Promise.all([...this.readers].map((socket) => endSocket(socket)));
  }

  /** close ends readers and drops what is buffered (the stream is forgotten). */
  close(): void {
    this.ended = true;
    this.queue = [];
    this.queued = 0;
    this.release();
    for (const socket of this.readers) socket.destroy();
  }
}
