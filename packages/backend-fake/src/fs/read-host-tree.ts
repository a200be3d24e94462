import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '@arbor/core';
import { type DeviceKind, type DirInode, FakeFilesystem, type Inode } from './fake-filesystem';

/** MAX_RAW_IMAGE_BYTES: the fake holds images in memory, so it refuses big ones. */
export const MAX_RAW_IMAGE_BYTES = 64 * 1024 * 1024;

// character devices by (major, minor), as Linux numbers them
const devices: Record<string, DeviceKind> = { '1,3': 'null', '1,5': 'zero', '1,8': 'urandom', '1,9': 'urandom' };

/**
 * readHostTree copies the directory tree at dir (on the host) into a new FakeFilesystem:
 * files, directories, symlinks, hard links, modes, owners and mtimes. FIFOs, sockets and
 * devices other than null/zero/random/urandom are skipped.
 * @throws InvalidArgumentError('image.uri') when dir is missing, unreadable or over 64 MiB
 */
export async function readHostTree(dir: string, uri: string, now: () => number = Date.now): Promise<FakeFilesystem> {
  const top = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    throw new InvalidArgumentError('image.uri', `'${uri}': cannot read ${dir}: ${err.code ?? err.message}`);
  });
  if (!top.isDirectory()) throw new InvalidArgumentError('image.uri', `'${uri}': ${dir} is not a directory`);
  const fs = new FakeFilesystem(now);
  const seen = new Map<string, Inode>();
  let bytes = 0;

  const copyMeta = (inode: Inode, st: { mode: number; uid: number; gid: number; mtimeMs: number }): void => {
    fs.chown(inode, st.uid, st.gid);
    fs.chmod(inode, st.mode & 0o7777);
    fs.setMtime(inode, Math.floor(st.mtimeMs));
  };

  const walk = async (hostDir: string, into: DirInode): Promise<void> => {
    const names = (await readdir(hostDir)).sort();
    for (const name of names) {
      const hostPath = join(hostDir, name);
      const st = await lstat(hostPath);
      const key = `${st.dev}:${st.ino}`;
      const earlier = !st.isDirectory() && st.nlink > 1 ? seen.get(key) : undefined;
      if (earlier) {
        fs.linkEntry(into, name, earlier, hostPath);
        continue;
      }
      let inode: Inode;
      if (st.isDirectory()) {
        inode = fs.newDir(0o755, { uid: 0, gid: 0 });
        fs.linkEntry(into, name, inode, hostPath);
        await walk(hostPath, inode);
      } else if (st.isSymbolicLink()) {
        inode = fs.newSymlink(await readlink(hostPath), { uid: st.uid, gid: st.gid });
        fs.linkEntry(into, name, inode, hostPath);
      } else if (st.isFile()) {
        bytes += st.size;
        if (bytes > MAX_RAW_IMAGE_BYTES) {
          throw new InvalidArgumentError(
            'image.uri',
            `'${uri}' holds more than ${MAX_RAW_IMAGE_BYTES / 1024 / 1024} MiB: the fake backend keeps images in memory and refuses bigger ones`,
          );
        }
        const data = await readFile(hostPath);
        const file = fs.newFile(0o644, { uid: 0, gid: 0 });
        fs.setContent(file, data.length > 0 ? [data] : [], data.length);
        fs.linkEntry(into, name, file, hostPath);
        inode = file;
      } else if (st.isCharacterDevice() && devices[`${Math.floor(st.rdev / 256) & 0xfff},${st.rdev & 0xff}`]) {
        const kind = devices[`${Math.floor(st.rdev / 256) & 0xfff},${st.rdev & 0xff}`] as DeviceKind;
        inode = fs.newDevice(kind, st.mode);
        fs.linkEntry(into, name, inode, hostPath);
      } else {
        continue;
      }
      seen.set(key, inode);
      copyMeta(inode, st);
    }
  };

  try {
    await walk(dir, fs.root);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new InvalidArgumentError('image.uri', `'${uri}': cannot read ${e.path ?? dir}: ${e.code ?? e.message}`);
  }
  copyMeta(fs.root, top);
  return fs;
}
