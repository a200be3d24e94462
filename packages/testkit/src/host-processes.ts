import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** hostCmdlines is the command line of every process on the host, NULs as spaces, like 'runc exec --pid-file ...'. */
export async function hostCmdlines(): Promise<string[]> {
  const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  const lines = await Promise.all(pids.map((p) => readFile(`/proc/${p}/cmdline`).catch(() => Buffer.alloc(0))));
  return lines.map((b) => b.toString('utf8').replace(/\0/g, ' '));
}

/**
 * filesHolding lists the paths of the regular files under dir (recursively) whose contents
 * include text, like ['/tmp/arbor-x/state/depot/c1/process.spec']: where a secret must not stay.
 */
export async function filesHolding(dir: string, text: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if ((await readFile(path).catch(() => Buffer.alloc(0))).includes(text)) found.push(path);
  }
  return found;
}
