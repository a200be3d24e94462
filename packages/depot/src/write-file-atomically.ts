import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface WriteFileAtomicallyOptions {
  /**
   * sync (the default) makes the new content durable before the call returns: it survives
   * a host crash. false still replaces path atomically, which survives arbord being killed
   * (the page cache outlives the process), for state that a host crash ends anyway.
   */
  sync?: boolean;
  /** owner is the new file's, like the container's root { uid: 100000, gid: 100000 }; the caller's by default. */
  owner?: { uid: number; gid: number } | undefined;
}

/**
 * writeFileAtomically replaces path with data so that a crash leaves either the old or the
 * new content, never a mix: a temp file beside it (synced), a rename, then a synced directory.
 * mode is the new file's exactly (the umask does not narrow it), like 0o600 (the default)
 * for records only root reads. A symlink at the temp name is never followed.
 */
export async function writeFileAtomically(path: string, data: string | Uint8Array, mode = 0o600, options: WriteFileAtomicallyOptions = {}): Promise<void> {
  const sync = options.sync ?? true;
  await replaceInPlace(
    path,
    async (tmp) => {
      const file = await open(tmp, 'wx', mode);
      try {
        await file.writeFile(data);
        await file.chmod(mode);
        if (options.owner) await file.chown(options.owner.uid, options.owner.gid);
        // the data and the size, which is all a reader of a new file needs (no timestamps)
        if (sync) await file.datasync();
      } finally {
        await file.close();
      }
    },
    sync,
  );
}

/**
 * replaceAtomically replaces path with a file that make builds at the temp path it is given
 * (beside path, so the rename stays in one filesystem), like an image made by mkfs: a crash
 * leaves the old file or the whole new one. With sync (the default) the new file and the
 * rename are flushed to disk before the call returns. A failed make or rename removes the temp file.
 */
export async function replaceAtomically(path: string, make: (tmp: string) => Promise<void>, options: { sync?: boolean } = {}): Promise<void> {
  const sync = options.sync ?? true;
  await replaceInPlace(
    path,
    async (tmp) => {
      await make(tmp);
      if (sync) await syncPath(tmp);
    },
    sync,
  );
}

/** replaceInPlace runs make on a fresh temp name beside path, renames it over path, and syncs the directory when asked. */
async function replaceInPlace(path: string, make: (tmp: string) => Promise<void>, syncDirectory: boolean): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await make(tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (syncDirectory) await syncPath(dir);
}

/** syncPath flushes a file or a directory (the renames into it, like a layer's) to disk. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
