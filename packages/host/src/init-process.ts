import { open } from 'node:fs/promises';

/** InitProcess names a container's init so that a reused pid is never taken for it. */
export interface InitProcess {
  /** initPid is the host pid of the container's init, like 41234. */
  initPid: number;
  /** initStartTime is field 22 of /proc/<pid>/stat, like '8812345'. */
  initStartTime: string;
}

/** startTime reads a process's start time (field 22 of /proc/<pid>/stat). @throws when there is no such process, or it is a zombie */
export async function startTime(pid: number): Promise<string> {
  const text = await readSmallFile(`/proc/${pid}/stat`);
  // the command name (field 2) may hold spaces and parentheses: count from its closing one
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z') throw new Error(`process ${pid} is a zombie`);
  return fields[19] ?? '';
}

/** initAlive tells whether the init still runs (a zombie or a reused pid does not). */
export async function initAlive(init: InitProcess): Promise<boolean> {
  return (await startTime(init.initPid).catch(() => '')) === init.initStartTime;
}

/** waitInitGone waits until the init has died (a zombie counts as gone), at most timeoutMs. */
export async function waitInitGone(init: InitProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 1; Date.now() < deadline && (await initAlive(init)); pause = Math.min(pause * 2, 10)) await sleep(pause);
}

export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * readSmallFile reads the first 4 KiB of a file in three calls (open, read, close) where
 * readFile takes five (it stats, then reads to the end): for /proc/<pid>/stat and pid files,
 * read on every run and destroy.
 */
export async function readSmallFile(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await file.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
