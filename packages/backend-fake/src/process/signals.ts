import type { Signal } from '@arbor/core';

// Linux signal numbers: the fake models a Linux container whatever the host is.
const numbers: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGIOT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/**
 * IGNORED_BY_DEFAULT: signals whose default action is to do nothing. The stop signals
 * (STOP, TSTP, TTIN, TTOU) are not modelled: the fake ignores them too.
 */
const ignoredByDefault = new Set(['SIGCHLD', 'SIGCONT', 'SIGURG', 'SIGWINCH', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU']);

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

export function isIgnoredByDefault(sig: Signal): boolean {
  return ignoredByDefault.has(sig);
}

/** canCatch: KILL and STOP can be neither caught nor ignored. */
export function canCatch(sig: Signal): boolean {
  return sig !== 'SIGKILL' && sig !== 'SIGSTOP';
}
