import type { Stats } from 'node:fs';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '@arbor/core';
import type { DeviceKind, DirInode, FakeFilesystem, Inode } from './fake-filesystem';

/** MAX_HOST_TREE_BYTES: the fake holds images and bind sources in memory, so it refuses big ones. */
const MAX_HOST_TREE_BYTES = 64 * 1024 * 1024;

/** deviceOf names the character devices the fake models by (major, minor), as Linux numbers them. */
function deviceOf(st: Stats): DeviceKind | undefined {
  if (!st.isCharacterDevice()) return undefined;
  const devices: Record<string, DeviceKind> = { '1,3': 'null', '1,5': 'zero', '1,8': 'urandom', '1,9': 'urandom' };
  return devices[`${Math.floor(st.rdev / 256) & 0xfff},${st.rdev & 0xff}`];
}

/** HostNode is one file, directory, symlink or device read from the host. */
interface HostNode {
  st: Stats;
  data?: Buffer;
  target?: string;
  children?: Array<[string, HostNode]>;
}

/**
 * HostTree makes what readHostTree read in fs, synchronously (so that it can run as the
 * image's, in FakeFilesystem.asImage): into a directory given (like fs.root), else as a new
 * unlinked inode to link where it belongs.
 */
export type HostTree = (fs: FakeFilesystem, into?: DirInode) => Inode;

/**
 * readHostTree reads the tree at hostPath on the host: files, directories, symlinks, hard
 * links, modes, owners and mtimes. FIFOs, sockets and devices other than null, zero, random
 * and urandom are left out. accept says what hostPath itself may be.
 * @throws InvalidArgumentError(field) when hostPath is missing, unreadable, not of a kind
 *   accept takes, or over 64 MiB; label names it in the message, like 'raw:///srv/rootfs'
 */
export async function readHostTree(hostPath: string, accept: 'directory' | 'directory or file', field: string, label: string): Promise<HostTree> {
  let bytes = 0;
  const read = async (path: string): Promise<HostNode | undefined> => {
    const st = await lstat(path);
    if (st.isDirectory()) {
      const children: Array<[string, HostNode]> = [];
      for (const name of (await readdir(path)).sort()) {
        const child = await read(join(path, name));
        if (child) children.push([name, child]);
      }
      return { st, children };
    }
    if (st.isSymbolicLink()) return { st, target: await readlink(path) };
    if (st.isFile()) {
      bytes += st.size;
      if (bytes > MAX_HOST_TREE_BYTES) {
        throw new InvalidArgumentError(field, `${label} holds more than 64 MiB: the fake backend keeps it in memory and refuses bigger ones`);
      }
      return { st, data: await readFile(path) };
    }
    return deviceOf(st) ? { st } : undefined;
  };
  let top: HostNode | undefined;
  try {
    top = await read(hostPath);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' && e.path === hostPath) throw new InvalidArgumentError(field, `${label} does not exist on the host: give an existing path`);
    throw new InvalidArgumentError(field, `${label}: cannot read ${e.path ?? hostPath}: ${e.code ?? e.message}`);
  }
  if (!top?.children && !(accept === 'directory or file' && top?.data)) throw new InvalidArgumentError(field, `${label}: ${hostPath} is not a ${accept}`);
  const node = top;
  return (fs, into) => make(fs, node, into, new Map());
}

/** make makes node in fs (in into when given); seen maps host inodes to what they were made, for hard links. */
function make(fs: FakeFilesystem, node: HostNode, into: DirInode | undefined, seen: Map<string, Inode>): Inode {
  const { st } = node;
  const key = `${st.dev}:${st.ino}`;
  const earlier = node.children ? undefined : seen.get(key);
  if (earlier) return earlier;
  const owner = { uid: st.uid, gid: st.gid };
  let inode: Inode;
  if (node.children) {
    const dir = into ?? fs.newDir(0o755, owner);
    for (const [name, child] of node.children) fs.linkEntry(dir, name, make(fs, child, undefined, seen));
    inode = dir;
  } else if (node.target !== undefined) {
    inode = fs.newSymlink(node.target, owner);
  } else if (node.data) {
    inode = fs.newFile(0o644, owner);
    fs.setContent(inode, node.data.length > 0 ? [node.data] : [], node.data.length);
  } else {
    inode = fs.newDevice(deviceOf(st) as DeviceKind, st.mode);
  }
  seen.set(key, inode);
  fs.chown(inode, st.uid, st.gid);
  fs.chmod(inode, st.mode & 0o7777);
  fs.setMtime(inode, Math.floor(st.mtimeMs));
  return inode;
}
