import { open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface WriteFileAtomicallyOptions {
  /**
   * sync (the default) makes the new content durable before the call returns: it survives
   * a host crash. false still replaces path atomically, which survives arbord being killed
   * (the page cache outlives the process), for state that a host crash ends anyway.
   */
  sync?: boolean;
}

/**
 * writeFileAtomically replaces path with data so that a crash leaves either the old or the
 * new content, never a mix: a temp file beside it (synced), a rename, then a synced directory.
 * mode is the new file's, like 0o600 (the default) for records only root reads.
 */
export async function writeFileAtomically(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
  options: WriteFileAtomicallyOptions = {},
): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const sync = options.sync ?? true;
  if (sync) {
    const file = await open(tmp, 'wx', mode);
    try {
      await file.writeFile(data);
      // the data and the size, which is all a reader of a new file needs (no timestamps)
      await file.datasync();
    } finally {
      await file.close();
    }
  } else {
    await writeFile(tmp, data, { flag: 'wx', mode });
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (!sync) return;
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
