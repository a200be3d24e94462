import type { Writable } from 'node:stream';
import type { ProcessIO } from '@arbor/core';

export type OutputStream = 'stdout' | 'stderr';

/**
 * Attachment is one ProcessIO's share of a process's output. A write waits for 'drain'
 * of a writer that is full, so a slow reader slows the process down; a writer that is
 * destroyed, ended or errors is dropped, and so is the whole attachment when its detach
 * signal aborts. flushed() resolves once every write handed over has been processed.
 */
export class Attachment {
  private dropped = false;
  private readonly outstanding = new Map<Writable, number>();
  private readonly dead = new Set<Writable>();
  private readonly drainWaiters = new Map<Writable, Set<() => void>>();
  private readonly idleWaiters = new Set<() => void>();
  private readonly cleanups: Array<() => void> = [];
  /** inFlight counts bytes handed to writers whose write callback has not come yet. */
  inFlight = 0;

  constructor(
    readonly io: ProcessIO,
    private readonly onDrop: (attachment: Attachment) => void,
  ) {
    for (const w of new Set([io.stdout, io.stderr])) {
      if (!w) continue;
      const die = (): void => this.markDead(w);
      w.on('error', die);
      w.on('close', die);
      this.cleanups.push(() => {
        w.off('error', die);
        w.off('close', die);
      });
    }
    const detach = io.detach;
    if (detach) {
      const onAbort = (): void => this.drop();
      if (detach.aborted) queueMicrotask(onAbort);
      else {
        detach.addEventListener('abort', onAbort, { once: true });
        this.cleanups.push(() => detach.removeEventListener('abort', onAbort));
      }
    }
  }

  write(stream: OutputStream, data: Buffer): Promise<void> {
    const w = stream === 'stdout' ? this.io.stdout : this.io.stderr;
    if (!w || this.dropped || this.dead.has(w)) return Promise.resolve();
    if (w.destroyed || w.writableEnded) {
      this.markDead(w);
      return Promise.resolve();
    }
    this.outstanding.set(w, (this.outstanding.get(w) ?? 0) + 1);
    this.inFlight += data.length;
    let accepted: boolean;
    try {
      accepted = w.write(data, () => {
        this.inFlight -= data.length;
        this.settle(w);
      });
    } catch {
      this.inFlight -= data.length;
      this.settle(w);
      this.markDead(w);
      return Promise.resolve();
    }
    if (accepted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiters = this.drainWaiters.get(w) ?? new Set<() => void>();
      this.drainWaiters.set(w, waiters);
      const done = (): void => {
        w.off('drain', done);
        waiters.delete(done);
        resolve();
      };
      waiters.add(done);
      w.on('drain', done);
    });
  }

  /** flushed resolves when every write handed over has been processed, or the attachment is gone. */
  flushed(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.add(resolve));
  }

  /** drop detaches: pending writes stop waiting and nothing more is written. */
  drop(): void {
    if (this.dropped) return;
    this.dropped = true;
    for (const w of this.drainWaiters.keys()) this.releaseDrainWaiters(w);
    this.onDrop(this);
    this.wakeIfIdle();
    this.cleanup();
  }

  /** cleanup removes the listeners this attachment put on the caller's streams. */
  cleanup(): void {
    for (const fn of this.cleanups.splice(0)) fn();
  }

  private markDead(w: Writable): void {
    if (this.dead.has(w)) return;
    this.dead.add(w);
    this.outstanding.delete(w);
    this.releaseDrainWaiters(w);
    this.wakeIfIdle();
  }

  private releaseDrainWaiters(w: Writable): void {
    for (const done of [...(this.drainWaiters.get(w) ?? [])]) done();
    this.drainWaiters.delete(w);
  }

  private settle(w: Writable): void {
    const left = (this.outstanding.get(w) ?? 0) - 1;
    if (left > 0) this.outstanding.set(w, left);
    else this.outstanding.delete(w);
    this.wakeIfIdle();
  }

  private isIdle(): boolean {
    return this.dropped || this.outstanding.size === 0;
  }

  private wakeIfIdle(): void {
    if (!this.isIdle()) return;
    for (const wake of this.idleWaiters) wake();
    this.idleWaiters.clear();
  }
}

/**
 * OutputHub fans a process's stdout and stderr out to every attached ProcessIO. A write
 * resolves when every attachment has taken it, so the slowest reader sets the pace and
 * nothing is buffered beyond one chunk per writer. With a TTY, stderr goes to stdout too
 * and '\n' becomes '\r\n' (onlcr).
 */
export class OutputHub {
  private readonly attachments = new Set<Attachment>();
  private closed = false;

  constructor(private readonly tty: boolean) {}

  attach(io: ProcessIO): Attachment {
    const attachment = new Attachment(io, (a) => this.attachments.delete(a));
    if (!this.closed) this.attachments.add(attachment);
    return attachment;
  }

  async write(stream: OutputStream, data: Buffer): Promise<void> {
    if (this.closed || data.length === 0) return;
    const target: OutputStream = this.tty ? 'stdout' : stream;
    const bytes = this.tty ? onlcr(data) : data;
    await Promise.all([...this.attachments].map((a) => a.write(target, bytes)));
  }

  /** close ends the output (the process exited); attachments clean up once flushed. */
  close(): void {
    this.closed = true;
    for (const a of this.attachments) void a.flushed().then(() => a.cleanup());
    this.attachments.clear();
  }

  /** inFlightBytes is what writers were handed and have not processed yet: bounded by back-pressure. */
  inFlightBytes(): number {
    let total = 0;
    for (const a of this.attachments) total += a.inFlight;
    return total;
  }
}

/** onlcr turns every '\n' into '\r\n', as a terminal's output processing does (latin1 keeps every byte as it is). */
function onlcr(data: Buffer): Buffer {
  return data.includes(0x0a) ? Buffer.from(data.toString('latin1').replaceAll('\n', '\r\n'), 'latin1') : data;
}
