import type { Signal } from '@arbor/core';

// Linux signal numbers (the fake models a Linux container whatever the host is): SIGHUP is 1,
// SIGTERM 15; SIGIOT and SIGPOLL are other names of 6 and 29.
const numbers: Record<string, number> = Object.fromEntries([
  ...'HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS'
    .split(' ')
    .map((name, i) => [`SIG${name}`, i + 1] as const),
  ['SIGIOT', 6],
  ['SIGPOLL', 29],
]);

/**
 * IGNORED_BY_DEFAULT: signals whose default action is to do nothing. The stop signals
 * (STOP, TSTP, TTIN, TTOU) are not modelled: the fake ignores them too.
 */
export const IGNORED_BY_DEFAULT: ReadonlySet<Signal> = new Set(['SIGCHLD', 'SIGCONT', 'SIGURG', 'SIGWINCH', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU']);

/** signalNumber is the Linux number of sig, like 15 for SIGTERM. */
export function signalNumber(sig: Signal): number {
  const n = numbers[sig];
  if (n === undefined) throw new Error(`unknown signal ${sig}`);
  return n;
}

/** signalFromText parses 'TERM', 'SIGTERM' or '15' (case-insensitive); undefined if unknown. */
export function signalFromText(text: string): Signal | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return Object.keys(numbers).find((k) => numbers[k] === n) as Signal | undefined;
  }
  const upper = text.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return name in numbers ? (name as Signal) : undefined;
}
