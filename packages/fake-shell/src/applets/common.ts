import { type ByteSource, deviceSource, fileSource, FsError, type Proc, TaskTerminated } from '@arbor/backend-fake';
import { directorySource } from '../shell/streams';

export interface Options {
  flags: Map<string, string | true>;
  operands: string[];
}

/**
 * getopt parses options as busybox's getopt32 does: flags may be grouped (-la), come after
 * operands (ls /tmp -l), and take a value (-c 5 or -c5) when spec marks them with ':'
 * ('c:n:'); '--' ends the options. Returns the bad option letter when there is one.
 */
export function getopt(args: readonly string[], spec: string): Options | { bad: string } {
  const withValue = new Set<string>();
  const known = new Set<string>();
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i] as string;
    if (c === ':') continue;
    known.add(c);
    if (spec[i + 1] === ':') withValue.add(c);
  }
  const flags = new Map<string, string | true>();
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      operands.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j] as string;
      if (!known.has(c)) return { bad: c };
      if (withValue.has(c)) {
        const value = j + 1 < arg.length ? arg.slice(j + 1) : args[++i];
        if (value === undefined) return { bad: c };
        flags.set(c, value);
        break;
      }
      flags.set(c, true);
    }
  }
  return { flags, operands };
}

/** usage prints busybox's usage text for an applet called wrongly, and gives exit code 1. */
export async function usage(proc: Proc, synopsis: string, description: string): Promise<number> {
  await proc.err(`BusyBox v1.35.0 (arbor fake) multi-call binary.\n\nUsage: ${synopsis}\n\n${description}\n`);
  return 1;
}

/** badOption reports an unknown option the way busybox does, and gives its exit code. */
export async function badOption(proc: Proc, option: string, usage: string): Promise<number> {
  await proc.err(`${proc.name}: invalid option -- '${option}'\nUsage: ${usage}\n`);
  return 1;
}

/**
 * openRead opens path for reading as proc's user: a file, a device, or a directory (whose
 * reads fail with EISDIR). '-' is stdin. @throws FsError
 */
export function openRead(proc: Proc, path: string): ByteSource {
  if (path === '-') {
    return { read: () => proc.read(0) };
  }
  const found = proc.fs.resolve(path, { cwd: proc.cwd, cred: proc.cred });
  const inode = found.inode;
  if (!proc.fs.canAccess(inode, proc.cred, 'r')) throw new FsError('EACCES', path);
  switch (inode.kind) {
    case 'file':
      return fileSource(inode);
    case 'device':
      return deviceSource(inode);
    case 'dir':
      return directorySource(path);
    case 'symlink':
      throw new FsError('ELOOP', path);
  }
}

/** fsErrorOf returns err when it is an FsError, and rethrows anything else (like a kill). */
export function fsErrorOf(err: unknown): FsError {
  if (err instanceof FsError) return err;
  throw err;
}

/** isTermination says whether err unwinds a killed task (never swallow it). */
export function isTermination(err: unknown): boolean {
  return err instanceof TaskTerminated;
}

/** writeError reports a failed write as busybox does: 'cat: write error: No space left on device'. */
export async function writeError(proc: Proc, err: unknown): Promise<number> {
  const e = fsErrorOf(err);
  await proc.err(`${proc.name}: write error: ${e.strerror}\n`);
  return 1;
}

/** parseNumber parses a non-negative whole number with an optional busybox size suffix. */
export function parseSize(text: string, suffixes: Record<string, number> = {}): number | undefined {
  const m = /^(\d+)([a-zA-Z]*)$/.exec(text);
  if (!m) return undefined;
  const factor = m[2] === '' ? 1 : suffixes[m[2] as string];
  if (factor === undefined) return undefined;
  return Number(m[1]) * factor;
}
