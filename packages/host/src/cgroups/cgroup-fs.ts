import { open, readdir, rmdir, writeFile } from 'node:fs/promises';

/**
 * readTrimmed reads a cgroup file; undefined when it does not exist. A cgroup file reports
 * size 0, so it is read in chunks to the end without readFile's stat: open, read, read, close
 * (cgroup.procs is polled while a container is destroyed, beside other file work).
 */
export async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    const file = await open(path, 'r');
    try {
      const chunks: Buffer[] = [];
      for (;;) {
        const buffer = Buffer.alloc(16384);
        const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        chunks.push(buffer.subarray(0, bytesRead));
      }
      return Buffer.concat(chunks).toString('utf8').trim();
    } finally {
      await file.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function readNumber(path: string): Promise<number> {
  const text = await readTrimmed(path);
  if (text === undefined || text === 'max') return 0;
  const n = Number(text);
  return Number.isFinite(n) ? n : 0;
}

/** writeControl writes a cgroup control file (no truncate or create semantics matter there). */
export async function writeControl(path: string, value: string): Promise<void> {
  await writeFile(path, value, { flag: 'w' });
}

export async function readPids(procsFile: string): Promise<number[]> {
  const text = await readTrimmed(procsFile);
  return text ? text.split('\n').filter(Boolean).map(Number) : [];
}

/** removeCgroup rmdirs a cgroup, retrying while its last processes are being reaped. */
export async function removeCgroup(dir: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
    try {
      // children first: a cgroup with child cgroups cannot be removed
      const entries = await readdir(dir, { withFileTypes: true });
      for (const e of entries) if (e.isDirectory()) await removeCgroup(`${dir}/${e.name}`, timeoutMs);
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

export async function listDirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** removeIfEmpty rmdirs a cgroup that has no child groups and no processes; one in use stays. */
export async function removeIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'EBUSY' && code !== 'ENOTEMPTY') throw err;
  }
}
