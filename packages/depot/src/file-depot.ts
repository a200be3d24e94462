import { mkdir, readFile, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ArborError, validateHandle } from '@arbor/core';
import type { ContainerRecord, Depot } from '@arbor/core';
import { storageName } from './storage-name';
import { writeFileAtomically } from './write-file-atomically';

/**
 * FileDepot keeps one JSON record per container, at <stateDir>/depot/<handle>/record.json,
 * written atomically so that a kill -9 at any moment leaves the last saved record. The
 * handle's directory belongs to the depot: containerizers keep their own files beside the
 * record (like processes/), and remove() deletes the whole directory.
 */
export class FileDepot implements Depot {
  /** root is like /var/lib/arbor/depot. */
  readonly root: string;
  /** made holds the record directories this depot made (or found), so a save skips the mkdir. */
  private readonly made = new Set<string>();

  constructor(stateDir: string) {
    this.root = join(stateDir, 'depot');
  }

  /** dir is like /var/lib/arbor/depot/<handle> (a shortened name for handles over 128 characters). */
  dir(handle: string): string {
    validateHandle(handle);
    return join(this.root, storageName(handle));
  }

  /**
   * save replaces the record atomically and, but for a record whose phase is 'destroying',
   * durably. A destroying record only has to outlive arbord (a restart finishes the destroy);
   * after a host crash the record before it, synced, names the same container, whose
   * processes, mounts and links the crash ended, and a destroy of it finishes the job.
   */
  async save(record: ContainerRecord): Promise<void> {
    const dir = this.dir(record.handle);
    const write = () =>
      writeFileAtomically(join(dir, 'record.json'), `${JSON.stringify(record, null, 2)}\n`, 0o600, {
        sync: record.phase !== 'destroying',
      });
    try {
      if (!this.made.has(dir)) {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        this.made.add(dir);
      }
      await write().catch(async (err: unknown) => {
        // the directory went away under us (an operator, a containerizer's cleanup): make it again
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await write();
      });
    } catch (err) {
      throw new ArborError('internal', `depot.save ${record.handle}: ${(err as Error).message}`, { cause: err });
    }
  }

  async load(handle: string): Promise<ContainerRecord | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dir(handle), 'record.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ArborError('internal', `depot.load ${handle}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch (err) {
      throw new ArborError('internal', `depot.load ${handle}: record.json is not JSON: ${(err as Error).message}`, { cause: err });
    }
  }

  async remove(handle: string): Promise<void> {
    const dir = this.dir(handle);
    this.made.delete(dir);
    // most often the record is all that is left (containerizers clean up their own files):
    // two calls, where a recursive rm takes a walk; anything else, the walk
    try {
      await rm(join(dir, 'record.json'), { force: true });
      await rmdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** list returns every readable record; a directory without one (a crash before the first save) is skipped. */
  async list(): Promise<ContainerRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const records: ContainerRecord[] = [];
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      const text = await readFile(join(this.root, name, 'record.json'), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      try {
        records.push(JSON.parse(text) as ContainerRecord);
      } catch {
        // a record that is not JSON was never completely written: skip it
      }
    }
    return records;
  }
}
