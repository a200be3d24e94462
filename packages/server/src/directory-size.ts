import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';

export interface DirectorySizeOptions {
  /** maxAgeMs is how long a measured size is served before the next walk, like 30000. */
  maxAgeMs?: number;
  /** maxEntries bounds one walk, like 200000 files and directories; past it the walk stops and reports what it counted. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * DirectorySize measures the bytes a directory takes on disk, like `du -s`: allocated blocks,
 * each inode once (layers share files by hard link). A walk of a big layer store takes
 * seconds, and Prometheus scrapes every 15 s, so a size is kept for maxAgeMs and a stale one
 * is served while the next walk runs in the background; the first call waits for its walk.
 * The walk is async (lstat per entry, one at a time) and bounded by maxEntries, so it neither
 * blocks the event loop nor runs without end.
 */
export class DirectorySize {
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private last: { bytes: number; at: number } | undefined;
  private walking: Promise<number> | undefined;
  /** truncated is true when the last walk stopped at maxEntries: its size is a lower bound. */
  truncated = false;

  /** path is like /var/lib/arbor/images; a path that does not exist measures 0. */
  constructor(
    readonly path: string,
    options: DirectorySizeOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 30_000;
    this.maxEntries = options.maxEntries ?? 200_000;
    this.now = options.now ?? Date.now;
  }

  async bytes(): Promise<number> {
    if (this.last && this.now() - this.last.at < this.maxAgeMs) return this.last.bytes;
    const walk = (this.walking ??= this.walk().finally(() => (this.walking = undefined)));
    return this.last ? this.last.bytes : walk;
  }

  private async walk(): Promise<number> {
    const seen = new Set<string>();
    const dirs = [this.path];
    let total = 0;
    let entries = 0;
    this.truncated = false;
    const count = async (path: string): Promise<boolean> => {
      const st = await lstat(path, { bigint: true }).catch(() => undefined);
      if (!st) return false;
      const id = `${st.dev}:${st.ino}`;
      if (!seen.has(id)) {
        seen.add(id);
        total += Number(st.blocks) * 512;
      }
      return st.isDirectory();
    };
    if (await count(this.path)) {
      walking: while (dirs.length > 0) {
        const dir = dirs.pop() as string;
        const handle = await opendir(dir).catch(() => undefined);
        if (!handle) continue;
        for await (const entry of handle) {
          if (++entries > this.maxEntries) {
            this.truncated = true;
            break walking;
          }
          const path = join(dir, entry.name);
          if ((await count(path)) && entry.isDirectory()) dirs.push(path);
        }
      }
    }
    this.last = { bytes: total, at: this.now() };
    return total;
  }
}
