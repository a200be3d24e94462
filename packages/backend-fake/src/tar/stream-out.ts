import { Readable } from 'node:stream';
import { ArborError, InvalidArgumentError, PermissionDeniedError } from '@arbor/core';
import * as tar from 'tar-stream';
import { FakeFilesystem, type Credentials, type Inode } from '../fs/fake-filesystem';
import { FsError } from '../fs/fs-error';
import { groupName, userName, type User } from '../fs/users';

interface OutEntry {
  header: tar.Header;
  chunks: readonly Buffer[];
}

const XATTR_PREFIX = 'SCHILY.xattr.';
const deviceNumbers = { null: [1, 3], zero: [1, 5], urandom: [1, 9] } as const;

/**
 * streamOut makes a tar of path as user: 'a/b' gives entries 'b', 'b/...'; 'a/b/' gives
 * the directory's contents as './', './...'. The tree is snapshot when called (file
 * contents are never changed in place, so this copies no bytes); the tar itself is made
 * as the reader reads it.
 * @throws InvalidArgumentError('path') for a missing path, PermissionDeniedError when user may not read it
 */
export function streamOut(fs: FakeFilesystem, user: User, path: string): Readable {
  const absolute = path.startsWith('/') ? path : FakeFilesystem.join(user.home, path);
  const contents = path.endsWith('/') || absolute === '/';
  const cred = { uid: user.uid, gid: user.gid };
  let entries: OutEntry[];
  try {
    const found = fs.resolve(absolute, { cred, follow: contents });
    const top = contents ? '.' : found.name;
    entries = snapshot(fs, cred, found.inode, top, absolute);
  } catch (err) {
    if (!(err instanceof FsError)) throw err;
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') {
      throw new InvalidArgumentError('path', `stream-out: no such file or directory in the container: ${absolute}`);
    }
    if (err.code === 'EACCES') throw new PermissionDeniedError(`stream-out: user ${user.name} may not read ${err.path}: ${err.strerror}`);
    throw new ArborError('invalidArgument', `stream-out: ${err.path}: ${err.strerror}`);
  }
  return Readable.from(packEntries(entries), { objectMode: false });
}

function snapshot(fs: FakeFilesystem, cred: Credentials, root: Inode, top: string, rootPath: string): OutEntry[] {
  const entries: OutEntry[] = [];
  const firstNames = new Map<Inode, string>();
  const visit = (inode: Inode, name: string, path: string): void => {
    const header: tar.Header = {
      name,
      mode: inode.mode,
      uid: inode.uid,
      gid: inode.gid,
      uname: userName(fs, inode.uid) ?? '',
      gname: groupName(fs, inode.gid) ?? '',
      mtime: new Date(inode.mtimeMs),
      size: 0,
      type: 'file',
      linkname: '',
      devmajor: 0,
      devminor: 0,
    };
    if (inode.xattrs.size > 0) {
      header.pax = Object.fromEntries([...inode.xattrs].map(([k, v]) => [`${XATTR_PREFIX}${k}`, v]));
    }
    switch (inode.kind) {
      case 'dir': {
        if (!fs.canAccess(inode, cred, 'r') || !fs.canAccess(inode, cred, 'x')) throw new FsError('EACCES', path);
        entries.push({ header: { ...header, type: 'directory', name: `${name}/` }, chunks: [] });
        const children = [...inode.entries.keys()].sort();
        for (const child of children) visit(inode.entries.get(child) as Inode, `${name}/${child}`, FakeFilesystem.join(path, child));
        return;
      }
      case 'symlink':
        entries.push({ header: { ...header, type: 'symlink', linkname: inode.target }, chunks: [] });
        return;
      case 'device': {
        const [major, minor] = deviceNumbers[inode.device];
        entries.push({ header: { ...header, type: 'character-device', devmajor: major, devminor: minor }, chunks: [] });
        return;
      }
      case 'file': {
        const first = firstNames.get(inode);
        if (first !== undefined) {
          entries.push({ header: { ...header, type: 'link', linkname: first }, chunks: [] });
          return;
        }
        if (!fs.canAccess(inode, cred, 'r')) throw new FsError('EACCES', path);
        if (inode.links > 1) firstNames.set(inode, name);
        entries.push({ header: { ...header, size: inode.size }, chunks: inode.chunks });
        return;
      }
    }
  };
  visit(root, top, rootPath);
  return entries;
}

/** packEntries yields the tar's bytes; each entry is packed only when the reader wants more. */
async function* packEntries(entries: OutEntry[]): AsyncGenerator<Buffer> {
  const pack = tar.pack();
  const writer = (async () => {
    for (const entry of entries) {
      await new Promise<void>((resolve, reject) => {
        const sink = pack.entry(entry.header, (err) => (err ? reject(err) : resolve()));
        const chunks = [...entry.chunks];
        const writeMore = (): void => {
          while (chunks.length > 0) {
            if (!sink.write(chunks.shift() as Buffer)) {
              sink.once('drain', writeMore);
              return;
            }
          }
          sink.end(undefined);
        };
        writeMore();
      });
    }
    pack.finalize();
  })();
  writer.catch((err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))));
  for await (const chunk of pack as AsyncIterable<Buffer>) yield chunk;
}
