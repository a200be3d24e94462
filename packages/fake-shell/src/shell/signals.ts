import type { Signal } from '@arbor/core';

/** canCatch: KILL and STOP can be neither caught nor ignored. */
export function canCatch(sig: Signal): boolean {
  return sig !== 'SIGKILL' && sig !== 'SIGSTOP';
}
