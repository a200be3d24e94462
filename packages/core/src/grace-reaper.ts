import type { Clock, Timer } from './ports';

interface Entry {
  graceTimeMs: number;
  pauses: number;
  timer: Timer | undefined;
}

/**
 * GraceReaper destroys containers nobody touched for their grace time. Every request on a
 * container pauses its timer, and so does an open Run/Attach stream for its whole life; the
 * timer restarts in full when the last pause ends. A grace time of 0 means never.
 */
export class GraceReaper {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly expire: (handle: string) => void,
  ) {}

  track(handle: string, graceTimeMs: number): void {
    this.untrack(handle);
    const entry: Entry = { graceTimeMs, pauses: 0, timer: undefined };
    this.entries.set(handle, entry);
    this.arm(handle, entry);
  }

  untrack(handle: string): void {
    this.entries.get(handle)?.timer?.cancel();
    this.entries.delete(handle);
  }

  /** setGraceTime changes the grace time and restarts the timer in full. */
  setGraceTime(handle: string, graceTimeMs: number): void {
    const entry = this.entries.get(handle);
    if (!entry) return;
    entry.graceTimeMs = graceTimeMs;
    entry.timer?.cancel();
    entry.timer = undefined;
    if (entry.pauses === 0) this.arm(handle, entry);
  }

  /** pause holds the timer until the returned release is called (once; later calls do nothing). */
  pause(handle: string): () => void {
    const entry = this.entries.get(handle);
    if (!entry) return () => undefined;
    entry.pauses++;
    entry.timer?.cancel();
    entry.timer = undefined;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.pauses--;
      if (entry.pauses === 0 && this.entries.get(handle) === entry) this.arm(handle, entry);
    };
  }

  stopAll(): void {
    for (const entry of this.entries.values()) entry.timer?.cancel();
    this.entries.clear();
  }

  private arm(handle: string, entry: Entry): void {
    if (entry.graceTimeMs <= 0) return;
    entry.timer = this.clock.setTimer(entry.graceTimeMs, () => {
      if (this.entries.get(handle) !== entry) return;
      this.entries.delete(handle);
      this.expire(handle);
    });
  }
}
