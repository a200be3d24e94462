import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * atomicWrite replaces path with data so that readers see the old or the new file, never
 * half, and the new one survives a crash once this resolves (file and directory synced).
 */
export async function atomicWrite(path: string, data: string | Buffer): Promise<void> {
  const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const file = await open(temp, 'wx', 0o644);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
