import type { ProbeStep } from './probe';

/** setMode sets the permission bits of path: setMode('/srv/secret', 0o700). */
export const setMode = (path: string, mode: number): ProbeStep => ({ op: 'setMode', path, mode });

// Short builders for the steps, so that a test reads as what the process does:
// probe(line('ready'), sleep(0.5), exit(3)).

/** line prints text and a newline, like echo. */
export const line = (text: string, stream: 'stdout' | 'stderr' = 'stdout'): ProbeStep => ({ op: 'print', text: `${text}\n`, stream });
/** print prints text exactly. */
export const print = (text: string, stream: 'stdout' | 'stderr' = 'stdout'): ProbeStep => ({ op: 'print', text, stream });
export const zeros = (bytes: number): ProbeStep => ({ op: 'zeros', bytes });
export const copyStdin = (): ProbeStep => ({ op: 'copyStdin' });
export const sleep = (seconds: number): ProbeStep => ({ op: 'sleep', seconds });
export const env = (): ProbeStep => ({ op: 'env' });
export const printVar = (name: string): ProbeStep => ({ op: 'printVar', name });
export const printArgs = (prefix?: string): ProbeStep => ({ op: 'printArgs', ...(prefix !== undefined && { prefix }) });
export const uid = (): ProbeStep => ({ op: 'uid' });
export const user = (): ProbeStep => ({ op: 'user' });
export const pwd = (): ProbeStep => ({ op: 'pwd' });
export const ttySize = (): ProbeStep => ({ op: 'ttySize' });
export const writeFile = (path: string, text: string): ProbeStep => ({ op: 'writeFile', path, text });
export const appendFile = (path: string, text: string): ProbeStep => ({ op: 'writeFile', path, text, append: true });
export const readFile = (path: string): ProbeStep => ({ op: 'readFile', path });
export const makeDir = (path: string): ProbeStep => ({ op: 'makeDir', path });
export const list = (path: string): ProbeStep => ({ op: 'list', path });
export const ignoreTerm = (): ProbeStep => ({ op: 'ignoreTerm' });
export const spin = (count: number): ProbeStep => ({ op: 'spin', count });
export const exit = (code: number): ProbeStep => ({ op: 'exit', code });
/** fillFile writes mib MiB of zeros to path: fillFile('/root/big', 40). */
export const fillFile = (path: string, mib: number): ProbeStep => ({ op: 'fillFile', path, mib });
export const remove = (path: string): ProbeStep => ({ op: 'remove', path });
