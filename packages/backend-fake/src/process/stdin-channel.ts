import type { Readable } from 'node:stream';
import { CHUNK_BYTES, type ByteSource } from './streams';

/** TtyInput is the little of a terminal's line discipline the fake models. */
export interface TtyInput {
  /** echo shows typed bytes on the terminal (ECHO). */
  echo(data: Buffer): void;
  /** interrupt sends SIGINT for a typed ^C (ISIG). */
  interrupt(): void;
}

const EOF_MARK = null;

/**
 * StdinChannel is a process's stdin: bytes from the Run caller's stdin and from every
 * Attach caller's stdin, in arrival order. As in Garden (and the host backends), it ends when
 * any caller's stdin ends, when a caller sending stdin detaches before its stdin ended, or
 * at once when Run gave none. Sources are paused while 64 KiB are unread, so a process that
 * does not read holds its writers back instead of buffering without bound.
 */
export class StdinChannel implements ByteSource {
  private readonly queue: Array<Buffer | typeof EOF_MARK> = [];
  private queued = 0;
  private ended = false;
  private closed = false;
  private paused = false;
  private waiter: (() => void) | undefined;
  private readonly sources = new Map<Readable, () => void>();

  constructor(
    runStdin: Readable | undefined,
    runDetach: AbortSignal | undefined,
    private readonly tty: TtyInput | undefined,
  ) {
    if (runStdin) this.addSource(runStdin, runDetach);
    else this.ended = true;
  }

  /** addSource takes bytes from r until r ends, which ends the channel, as does detach firing first. */
  addSource(r: Readable, detach?: AbortSignal): void {
    if (this.closed || this.ended || this.sources.has(r)) return;
    const onData = (chunk: Buffer | string): void => this.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    const onEnd = (): void => this.end();
    if (detach?.aborted) {
      this.end();
      return;
    }
    detach?.addEventListener(
      'abort',
      () => {
        if (this.sources.has(r)) this.end();
      },
      { once: true },
    );
    r.on('data', onData);
    r.on('end', onEnd);
    r.on('error', onEnd);
    r.on('close', onEnd);
    this.sources.set(r, () => {
      r.off('data', onData);
      r.off('end', onEnd);
      r.off('error', onEnd);
      r.off('close', onEnd);
    });
    if (this.paused) r.pause();
  }

  async read(): Promise<Buffer | null> {
    for (;;) {
      if (this.queue.length > 0) {
        const chunk = this.queue.shift() as Buffer | null;
        if (chunk) this.queued -= chunk.length;
        if (this.paused && this.queued < CHUNK_BYTES) this.resume();
        return chunk;
      }
      if (this.ended || this.closed) return null;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** close stops reading from every source: the process has exited. */
  close(): void {
    this.closed = true;
    for (const r of [...this.sources.keys()]) this.removeSource(r);
    this.wake();
  }

  private push(chunk: Buffer): void {
    if (this.closed || this.ended) return;
    const data = this.tty ? this.discipline(chunk) : [chunk];
    for (const d of data) {
      this.queue.push(d);
      if (d) this.queued += d.length;
    }
    if (this.queued >= CHUNK_BYTES && !this.paused) {
      this.paused = true;
      for (const r of this.sources.keys()) r.pause();
    }
    this.wake();
  }

  /** discipline applies ICRNL, echo, ^C (SIGINT) and ^D (end of input for one read). */
  private discipline(chunk: Buffer): Array<Buffer | null> {
    const tty = this.tty as TtyInput;
    const out: Array<Buffer | null> = [];
    let current: number[] = [];
    const flush = (): void => {
      if (current.length > 0) out.push(Buffer.from(current));
      current = [];
    };
    for (const byte of chunk) {
      if (byte === 0x03) {
        flush();
        tty.echo(Buffer.from('^C'));
        tty.interrupt();
      } else if (byte === 0x04) {
        flush();
        out.push(EOF_MARK);
      } else {
        current.push(byte === 0x0d ? 0x0a : byte);
      }
    }
    flush();
    for (const d of out) if (d) tty.echo(d);
    return out;
  }

  private resume(): void {
    this.paused = false;
    for (const r of this.sources.keys()) r.resume();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const r of [...this.sources.keys()]) this.removeSource(r);
    this.wake();
  }

  private removeSource(r: Readable): void {
    const off = this.sources.get(r);
    if (!off) return;
    off();
    this.sources.delete(r);
    // without a 'data' listener a flowing stream would drop its bytes: leave it paused
    if (!r.readableEnded) r.pause();
  }

  private wake(): void {
    const wake = this.waiter;
    this.waiter = undefined;
    wake?.();
  }
}
