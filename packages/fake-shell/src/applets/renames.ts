import { FsError, type Credentials, type FakeFilesystem, type Inode, type LookupOptions, type ParentOf } from '@arbor/backend-fake';

// The two filesystem calls only ln and mv make, over the fake filesystem's primitives.

/** mayChange says whether cred may create or remove names in dir (w and x on it). */
function mayChange(fs: FakeFilesystem, dir: Inode, cred: Credentials): boolean {
  return fs.canAccess(dir, cred, 'w') && fs.canAccess(dir, cred, 'x');
}

/** symlink makes path point at target (any text), as symlink(2). @throws FsError EEXIST, EACCES */
export function symlink(fs: FakeFilesystem, target: string, path: string, options: LookupOptions & { cred: Credentials }): void {
  const p = fs.parentOf(path, options);
  if (p.existing) throw new FsError('EEXIST', path);
  if (!mayChange(fs, p.dir, options.cred)) throw new FsError('EACCES', path);
  fs.linkEntry(p.dir, p.name, fs.newSymlink(target, options.cred), path);
}

/** rename moves from's entry to to's name (which must be free), as rename(2). @throws FsError ENOENT, EACCES, EPERM */
export function rename(fs: FakeFilesystem, from: ParentOf, to: ParentOf, cred: Credentials, path: string): void {
  const inode = from.existing;
  if (!inode) throw new FsError('ENOENT', path);
  if (!mayChange(fs, from.dir, cred) || !mayChange(fs, to.dir, cred)) throw new FsError('EACCES', path);
  // the sticky bit (as on /tmp): only the owner of the file or the directory may move it away
  if (from.dir.mode & 0o1000 && cred.uid !== 0 && cred.uid !== inode.uid && cred.uid !== from.dir.uid) throw new FsError('EPERM', path);
  fs.linkEntry(to.dir, to.name, inode, path);
  from.dir.entries.delete(from.name);
  inode.links--;
}
