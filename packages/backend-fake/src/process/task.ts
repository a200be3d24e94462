import type { Signal } from '@arbor/core';
import { IGNORED_BY_DEFAULT, signalNumber } from './signals';

/** TaskTerminated unwinds a program whose task was killed by a signal. */
export class TaskTerminated extends Error {
  constructor(readonly signal: Signal) {
    super(`terminated by ${signal}`);
    this.name = 'TaskTerminated';
  }
}

/** Disposition is what a task does with a signal: its default action, nothing, or a handler. */
export type Disposition = 'ignore' | 'catch';

/**
 * Task is one fake OS process in a container (a shell, a sleep): a pid, an exit status,
 * signal dispositions, and the blocking points where it can be killed. A program awaits
 * only through block(), so a fatal signal ends it at once: its exit status is settled the
 * moment the signal arrives, and its next block() throws TaskTerminated.
 */
export class Task {
  /** exitStatus is 0-255: the program's code, or 128+N when killed by signal N. */
  exitStatus: number | undefined;
  readonly exited: Promise<number>;
  /** caught is called for a signal whose disposition is 'catch' (a shell trap). */
  onCaught: ((sig: Signal) => void) | undefined;
  /** children are the tasks this one is waiting for; a fatal signal takes them down too. */
  readonly children = new Set<Task>();
  private killedBy: Signal | undefined;
  private readonly dispositions = new Map<Signal, Disposition>();
  private readonly aborters = new Set<(err: TaskTerminated) => void>();
  private readonly endListeners = new Set<() => void>();
  private resolveExited!: (status: number) => void;

  constructor(
    readonly pid: number,
    /** name is like 'sh' or 'sleep', for logs and tests. */
    readonly name: string,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** start runs program; the task ends with its code, or 128+N if a signal ends it first. */
  start(program: () => Promise<number>): void {
    program().then(
      (code) => this.finish(code & 255),
      (err: unknown) => {
        if (err instanceof TaskTerminated) return;
        // a bug in a fake program: report it as a crash, like a segfault would be
        this.finish(128 + signalNumber('SIGSEGV'));
        process.emitWarning(`arbor fake backend: program ${this.name} failed: ${String(err)}`);
      },
    );
  }

  setDisposition(sig: Signal, disposition: Disposition | 'default'): void {
    if (sig === 'SIGKILL' || sig === 'SIGSTOP') return;
    if (disposition === 'default') this.dispositions.delete(sig);
    else this.dispositions.set(sig, disposition);
  }

  /** deliver sends sig: ignored, handed to the handler, or fatal (its default action). */
  deliver(sig: Signal): void {
    if (!this.running) return;
    const disposition = sig === 'SIGKILL' ? undefined : this.dispositions.get(sig);
    if (disposition === 'ignore') return;
    if (disposition === 'catch') {
      this.onCaught?.(sig);
      return;
    }
    if (IGNORED_BY_DEFAULT.has(sig)) return;
    this.terminate(sig);
  }

  /** block waits for promise unless the task is killed first. */
  block<T>(promise: Promise<T>): Promise<T> {
    if (this.killedBy) return Promise.reject(new TaskTerminated(this.killedBy));
    return new Promise<T>((resolve, reject) => {
      const abort = (err: TaskTerminated): void => reject(err);
      this.aborters.add(abort);
      promise.then(
        (value) => {
          this.aborters.delete(abort);
          resolve(value);
        },
        (err: unknown) => {
          this.aborters.delete(abort);
          reject(err);
        },
      );
    });
  }

  /** checkAlive throws TaskTerminated when the task was killed; for loops that do not block. */
  checkAlive(): void {
    if (this.killedBy) throw new TaskTerminated(this.killedBy);
  }

  /** onEnd calls fn when the task ends (exit or signal); returns a function that cancels it. */
  onEnd(fn: () => void): () => void {
    if (!this.running) {
      fn();
      return () => undefined;
    }
    this.endListeners.add(fn);
    return () => this.endListeners.delete(fn);
  }

  private terminate(sig: Signal): void {
    if (!this.running || this.killedBy) return;
    this.killedBy = sig;
    const err = new TaskTerminated(sig);
    for (const abort of this.aborters) abort(err);
    this.aborters.clear();
    for (const child of this.children) child.deliver(sig);
    this.finish(128 + signalNumber(sig));
  }

  private finish(status: number): void {
    if (!this.running) return;
    this.exitStatus = status;
    for (const fn of this.endListeners) fn();
    this.endListeners.clear();
    this.resolveExited(status);
  }
}
