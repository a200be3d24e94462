import { randomUUID } from 'node:crypto';
import type { Clock, HandleGenerator, Timer } from './ports';

/** UuidHandleGenerator makes handles like 'c5a1e8d0-3b0f-4e4f-9b1e-6f2d7f1f3a9c'. */
export class UuidHandleGenerator implements HandleGenerator {
  generate(): string {
    return randomUUID();
  }
}

/** SystemClock is wall time; its timers do not keep the process alive. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
  setTimer(ms: number, fn: () => void): Timer {
    // setTimeout caps at 2^31-1 ms; longer grace times re-arm in steps.
    const max = 2 ** 31 - 1;
    let handle: NodeJS.Timeout;
    const arm = (left: number): void => {
      handle = setTimeout(() => (left > max ? arm(left - max) : fn()), Math.min(left, max));
      handle.unref();
    };
    arm(ms);
    return { cancel: () => clearTimeout(handle) };
  }
}
