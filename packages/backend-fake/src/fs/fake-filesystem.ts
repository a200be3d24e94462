import type { DiskLimits, DiskStat } from '@arbor/core';
import { FsError, type FsErrorCode } from './fs-error';

/** Credentials are who asks: root (uid 0) passes every permission check but exec. */
export interface Credentials {
  uid: number;
  gid: number;
}

export const ROOT: Credentials = { uid: 0, gid: 0 };

/** Layer says whether an inode came with the image or was written by the container. */
export type Layer = 'image' | 'container';

export type DeviceKind = 'null' | 'zero' | 'urandom';

interface InodeCommon {
  ino: number;
  /** mode holds the permission bits only, like 0o1777 for /tmp. */
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  /** xattrs are extended attributes, like 'user.origin' -> 'tar'. */
  xattrs: Map<string, string>;
  /** links counts the directory entries that name this inode. */
  links: number;
  layer: Layer;
}

export interface FileInode extends InodeCommon {
  kind: 'file';
  /** chunks is the content; the array is replaced, never changed, so readers may keep it. */
  chunks: readonly Buffer[];
  size: number;
}

export interface DirInode extends InodeCommon {
  kind: 'dir';
  entries: Map<string, Inode>;
}

export interface SymlinkInode extends InodeCommon {
  kind: 'symlink';
  target: string;
}

export interface DeviceInode extends InodeCommon {
  kind: 'device';
  device: DeviceKind;
}

export type Inode = FileInode | DirInode | SymlinkInode | DeviceInode;

/** Resolved is a path looked up: the inode, its name and its canonical path. */
export interface Resolved {
  inode: Inode;
  name: string;
  /** path is absolute and free of symlinks, '.' and '..', like /home/vcap/x. */
  path: string;
}

export interface ParentOf {
  dir: DirInode;
  /** dirPath is the canonical path of dir. */
  dirPath: string;
  name: string;
  /** existing is what the name already points at (not followed), if anything. */
  existing: Inode | undefined;
}

export interface LookupOptions {
  /** cwd is the canonical directory a relative path starts from; default '/'. */
  cwd?: string;
  cred?: Credentials;
  /** follow: follow a symlink in the last component (default true). */
  follow?: boolean;
}

const MAX_SYMLINKS = 40;
/** COALESCE_BYTES: small appends are merged into chunks up to this size. */
const COALESCE_BYTES = 64 * 1024;

type Undo = () => void;

/**
 * FakeFilesystem is a container's filesystem in memory: inodes with modes, owners, mtimes,
 * xattrs, hard links and symlinks, with Linux permission checks (root bypasses them), and
 * byte/inode usage kept per layer so that disk metrics and a byteHard limit are exact.
 * Every change goes through a few primitives that can record their undo, so that a
 * transaction (a StreamIn) changes everything or nothing.
 */
export class FakeFilesystem {
  readonly root: DirInode;
  private nextIno = 1;
  private layer: Layer = 'image';
  private journal: Undo[] | undefined;
  private limits: DiskLimits | undefined;
  private readonly usage: DiskStat = { totalBytesUsed: 0, totalInodesUsed: 0, exclusiveBytesUsed: 0, exclusiveInodesUsed: 0 };

  constructor(private readonly now: () => number = Date.now) {
    this.root = this.newDir(0o755, ROOT);
    this.root.links = 1;
    this.count(this.root, 1);
  }

  /** sealImage ends the image: from now on every new or changed inode is the container's. */
  sealImage(): void {
    this.layer = 'container';
  }

  setLimits(limits: DiskLimits | undefined): void {
    this.limits = limits && { ...limits };
  }

  /** byteLimit is the byteHard limit in force, or undefined when there is none. */
  byteLimit(): number | undefined {
    return this.limits && this.limits.byteHard > 0 ? this.limits.byteHard : undefined;
  }

  /** asImage runs fn with changes counted as the image's, for what is mounted rather than written. */
  asImage<T>(fn: () => T): T {
    const layer = this.layer;
    this.layer = 'image';
    try {
      return fn();
    } finally {
      this.layer = layer;
    }
  }

  stat(): DiskStat {
    return { ...this.usage };
  }

  /**
   * clone copies the whole filesystem: inodes (hard links stay one inode), usage, layer and
   * limits. File contents are shared, as a file's chunks are replaced and never changed in
   * place. A cached image is cloned for each container instead of being built again.
   * @throws Error inside a transaction, whose undo would not reach the copy
   */
  clone(): FakeFilesystem {
    if (this.journal) throw new Error('fake filesystem: cannot clone inside a transaction');
    const copy = new FakeFilesystem(this.now);
    const copies = new Map<Inode, Inode>();
    const cloneInode = (inode: Inode): Inode => {
      let made = copies.get(inode);
      if (made) return made;
      const xattrs = new Map(inode.xattrs);
      made =
        inode.kind === 'dir'
          ? { ...inode, xattrs, entries: new Map([...inode.entries].map(([name, child]) => [name, cloneInode(child)])) }
          : { ...inode, xattrs };
      copies.set(inode, made);
      return made;
    };
    Object.assign(copy.root, cloneInode(this.root));
    copy.nextIno = this.nextIno;
    copy.layer = this.layer;
    copy.limits = this.limits && { ...this.limits };
    Object.assign(copy.usage, this.usage);
    return copy;
  }

  // ------------------------------------------------------------------ lookups

  /** resolve looks path up. @throws FsError ENOENT, ENOTDIR, EACCES, ELOOP */
  resolve(path: string, options: LookupOptions = {}): Resolved {
    const found = this.lookup(path, options);
    if (typeof found === 'string') throw new FsError(found, path);
    return found;
  }

  /** tryResolve is resolve that answers undefined for ENOENT. */
  tryResolve(path: string, options: LookupOptions = {}): Resolved | undefined {
    const found = this.lookup(path, options);
    if (found === 'ENOENT') return undefined;
    if (typeof found === 'string') throw new FsError(found, path);
    return found;
  }

  /** find is resolve that answers undefined for any path it cannot look up, whatever the errno. */
  find(path: string, options: LookupOptions = {}): Resolved | undefined {
    const found = this.lookup(path, options);
    return typeof found === 'string' ? undefined : found;
  }

  /**
   * lookup is resolve answering the errno instead of throwing it: a missing path is the
   * common answer of tryResolve (every new file), and an Error's stack costs more than the walk.
   */
  private lookup(path: string, options: LookupOptions): Resolved | FsErrorCode {
    const cred = options.cred ?? ROOT;
    if (path === '') return 'ENOENT';
    const queue = components(path, options.cwd ?? '/');
    const stack: Array<{ inode: Inode; name: string }> = [{ inode: this.root, name: '' }];
    let symlinks = 0;
    while (queue.length > 0) {
      const name = queue.shift() as string;
      const cur = (stack[stack.length - 1] as { inode: Inode }).inode;
      if (cur.kind !== 'dir') return 'ENOTDIR';
      if (!permits(cur, cred, X)) return 'EACCES';
      if (name === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      const child = cur.entries.get(name);
      if (!child) return 'ENOENT';
      const last = queue.length === 0;
      if (child.kind === 'symlink' && (!last || options.follow !== false)) {
        if (++symlinks > MAX_SYMLINKS) return 'ELOOP';
        if (child.target === '') return 'ENOENT';
        if (child.target.startsWith('/')) stack.splice(1);
        queue.unshift(...components(child.target, '/', false));
        continue;
      }
      stack.push({ inode: child, name });
    }
    if (path.endsWith('/') && (stack[stack.length - 1] as { inode: Inode }).inode.kind !== 'dir') {
      return 'ENOTDIR';
    }
    const top = stack[stack.length - 1] as { inode: Inode; name: string };
    return {
      inode: top.inode,
      name: top.name,
      path:
        '/' +
        stack
          .slice(1)
          .map((s) => s.name)
          .join('/'),
    };
  }

  /** parentOf resolves all but the last component, for creating or removing it. */
  parentOf(path: string, options: LookupOptions = {}): ParentOf {
    if (path === '') throw new FsError('ENOENT', path);
    const parts = components(path, options.cwd ?? '/');
    const name = parts.pop();
    if (name === undefined || name === '..') throw new FsError('EBUSY', path);
    const parent = this.resolve('/' + parts.join('/'), { ...options, follow: true });
    if (parent.inode.kind !== 'dir') throw new FsError('ENOTDIR', path);
    if (!permits(parent.inode, options.cred ?? ROOT, X)) throw new FsError('EACCES', path);
    return { dir: parent.inode, dirPath: parent.path, name, existing: parent.inode.entries.get(name) };
  }

  /** join joins a canonical directory path and a name. */
  static join(dirPath: string, name: string): string {
    return dirPath === '/' ? `/${name}` : `${dirPath}/${name}`;
  }

  // ------------------------------------------------------------------ creating

  /** mkdir makes one directory. @throws FsError EEXIST, ENOENT, EACCES, ENOSPC */
  mkdir(path: string, mode: number, options: LookupOptions = {}): DirInode {
    const cred = options.cred ?? ROOT;
    const p = this.parentOf(path, options);
    if (p.existing) throw new FsError('EEXIST', path);
    this.checkCreate(p.dir, cred, path);
    const dir = this.newDir(mode, cred, p.dir);
    this.linkEntry(p.dir, p.name, dir, path);
    return dir;
  }

  /** mkdirp makes path and its missing parents, like mkdir -p, owned by owner (default cred), and returns the last. */
  mkdirp(path: string, mode: number, options: LookupOptions & { owner?: Credentials } = {}): DirInode {
    const parts = components(path, options.cwd ?? '/');
    let dirPath = '/';
    for (const part of parts) {
      const next = FakeFilesystem.join(dirPath, part);
      const found = this.tryResolve(next, { ...options, cwd: '/' });
      if (found) {
        if (found.inode.kind !== 'dir') throw new FsError('ENOTDIR', path);
        dirPath = found.path;
        continue;
      }
      const made = this.mkdir(next, mode, { ...options, cwd: '/' });
      if (options.owner) this.chown(made, options.owner.uid, options.owner.gid);
      dirPath = this.resolve(next, { ...options, cwd: '/' }).path;
    }
    const last = this.resolve(dirPath);
    return last.inode as DirInode;
  }

  /**
   * createFile opens path for writing as the shell's '>' does: an existing file is
   * truncated (or kept, for append), a missing one is made with mode. Symlinks are followed.
   * @throws FsError EISDIR, EACCES, ENOENT, ENOTDIR, ENOSPC
   */
  openForWrite(path: string, options: LookupOptions & { mode?: number; append?: boolean; truncate?: boolean } = {}): FileInode | DeviceInode {
    const cred = options.cred ?? ROOT;
    const found = this.tryResolve(path, { ...options, follow: true });
    if (found) {
      const inode = found.inode;
      if (inode.kind === 'dir' || inode.kind === 'symlink') throw new FsError('EISDIR', path);
      if (!permits(inode, cred, W)) throw new FsError('EACCES', path);
      if (inode.kind === 'file' && !options.append && options.truncate !== false) this.setContent(inode, [], 0);
      return inode;
    }
    // a dangling symlink is followed to where it points, as open(O_CREAT) does
    const p = this.parentOf(path, options);
    if (p.existing?.kind === 'symlink') {
      const target = p.existing.target.startsWith('/') ? p.existing.target : FakeFilesystem.join(p.dirPath, p.existing.target);
      return this.openForWrite(target, { ...options, cwd: '/' });
    }
    this.checkCreate(p.dir, cred, path);
    const file = this.newFile(options.mode ?? 0o644, cred);
    this.linkEntry(p.dir, p.name, file, path);
    return file;
  }

  /** writeFile replaces (or makes) path with data. */
  writeFile(path: string, data: Buffer | string, options: LookupOptions & { mode?: number } = {}): FileInode {
    const inode = this.openForWrite(path, options);
    if (inode.kind !== 'file') throw new FsError('EINVAL', path);
    this.append(inode, typeof data === 'string' ? Buffer.from(data) : data, path);
    return inode;
  }

  /**
   * append adds data at the end of file. Beyond a byteHard limit it writes what fits and
   * throws ENOSPC, as a full disk does.
   */
  append(file: FileInode, data: Buffer, path = '?'): void {
    if (data.length === 0) return;
    const room = this.room(file);
    const fits = room < data.length ? data.subarray(0, Math.max(0, room)) : data;
    if (fits.length > 0) {
      const chunks = file.chunks.slice();
      const last = chunks[chunks.length - 1];
      if (last && last.length + fits.length <= COALESCE_BYTES && fits.length < COALESCE_BYTES) {
        chunks[chunks.length - 1] = Buffer.concat([last, fits]);
      } else {
        chunks.push(Buffer.from(fits));
      }
      this.setContent(file, chunks, file.size + fits.length);
    }
    if (fits.length < data.length) throw new FsError('ENOSPC', path);
  }

  /** link makes path a second name of existing (not a directory). */
  link(existing: Inode, path: string, options: LookupOptions = {}): void {
    const cred = options.cred ?? ROOT;
    if (existing.kind === 'dir') throw new FsError('EPERM', path);
    const p = this.parentOf(path, options);
    if (p.existing) throw new FsError('EEXIST', path);
    this.checkCreate(p.dir, cred, path);
    this.linkEntry(p.dir, p.name, existing, path);
  }

  /** mknod makes a character device like /dev/null. */
  mknod(path: string, device: DeviceKind, mode: number): DeviceInode {
    const p = this.parentOf(path);
    const inode = this.newDevice(device, mode);
    this.linkEntry(p.dir, p.name, inode, path);
    return inode;
  }

  // ------------------------------------------------------------------ removing

  /** unlink removes a name that is not a directory (symlinks are not followed). */
  unlink(path: string, options: LookupOptions = {}): void {
    const cred = options.cred ?? ROOT;
    const p = this.parentOf(path, options);
    if (!p.existing) throw new FsError('ENOENT', path);
    if (p.existing.kind === 'dir') throw new FsError('EISDIR', path);
    this.checkRemove(p.dir, p.existing, cred, path);
    this.unlinkEntry(p.dir, p.name);
  }

  /** rmdir removes an empty directory. */
  rmdir(path: string, options: LookupOptions = {}): void {
    const cred = options.cred ?? ROOT;
    const p = this.parentOf(path, options);
    if (!p.existing) throw new FsError('ENOENT', path);
    if (p.existing.kind !== 'dir') throw new FsError('ENOTDIR', path);
    if (p.existing.entries.size > 0) throw new FsError('ENOTEMPTY', path);
    this.checkRemove(p.dir, p.existing, cred, path);
    this.unlinkEntry(p.dir, p.name);
  }

  // ------------------------------------------------------------------ metadata

  chmod(inode: Inode, mode: number, cred: Credentials = ROOT, path = '?'): void {
    if (cred.uid !== 0 && cred.uid !== inode.uid) throw new FsError('EPERM', path);
    this.setMeta(inode, { mode: mode & 0o7777 });
  }

  chown(inode: Inode, uid: number, gid: number, cred: Credentials = ROOT, path = '?'): void {
    if (cred.uid !== 0) throw new FsError('EPERM', path);
    this.setMeta(inode, { uid, gid });
  }

  setMtime(inode: Inode, mtimeMs: number): void {
    this.setMeta(inode, { mtimeMs });
  }

  setXattrs(inode: Inode, xattrs: Map<string, string>): void {
    this.setMeta(inode, { xattrs: new Map(xattrs) });
  }

  /** canAccess says whether cred may read (r), write (w) or execute/search (x) inode. */
  canAccess(inode: Inode, cred: Credentials, what: 'r' | 'w' | 'x'): boolean {
    return permits(inode, cred, what === 'r' ? R : what === 'w' ? W : X);
  }

  // ------------------------------------------------------------------ transactions

  /**
   * transaction runs fn synchronously; when fn throws, every change it made is undone
   * (in reverse order) before the error goes on. fn must not await: nothing else may run
   * between the first change and the commit.
   */
  transaction<T>(fn: () => T): T {
    if (this.journal) throw new Error('fake filesystem: transactions do not nest');
    const journal: Undo[] = [];
    this.journal = journal;
    try {
      const result = fn();
      this.journal = undefined;
      return result;
    } catch (err) {
      this.journal = undefined;
      for (let i = journal.length - 1; i >= 0; i--) (journal[i] as Undo)();
      throw err;
    }
  }

  // ------------------------------------------------------------------ primitives

  private common(mode: number, cred: Credentials): InodeCommon {
    return {
      ino: this.nextIno++,
      mode: mode & 0o7777,
      uid: cred.uid,
      gid: cred.gid,
      mtimeMs: this.now(),
      xattrs: new Map(),
      links: 0,
      layer: this.layer,
    };
  }

  /** newDir makes an unlinked directory; parent (where it will be linked) passes on its setgid bit. */
  newDir(mode: number, cred: Credentials, parent?: DirInode): DirInode {
    const dir: DirInode = { ...this.common(mode, cred), kind: 'dir', entries: new Map() };
    // a directory in a setgid directory takes its group and the setgid bit, as on Linux
    if (parent && parent.mode & 0o2000) {
      dir.gid = parent.gid;
      dir.mode |= 0o2000;
    }
    return dir;
  }

  /** newFile makes an unlinked file; link it with linkEntry. */
  newFile(mode: number, cred: Credentials): FileInode {
    return { ...this.common(mode, cred), kind: 'file', chunks: [], size: 0 };
  }

  /** newSymlink makes an unlinked symlink. */
  newSymlink(target: string, cred: Credentials): SymlinkInode {
    return { ...this.common(0o777, cred), kind: 'symlink', target };
  }

  newDevice(device: DeviceKind, mode: number): DeviceInode {
    return { ...this.common(mode, ROOT), kind: 'device', device };
  }

  /** linkEntry names inode in dir; the name must be free. Counts a new inode against the limits. */
  linkEntry(dir: DirInode, name: string, inode: Inode, path = '?'): void {
    if (dir.entries.has(name)) throw new FsError('EEXIST', path);
    if (inode.links === 0) {
      this.checkRoom(inode.layer === 'container' ? sizeOf(inode) : 0, 1, inode.layer, path);
      this.count(inode, 1);
    }
    inode.links++;
    const mtime = dir.mtimeMs;
    dir.entries.set(name, inode);
    dir.mtimeMs = this.now();
    this.record(() => {
      dir.entries.delete(name);
      dir.mtimeMs = mtime;
      inode.links--;
      if (inode.links === 0) this.count(inode, -1);
    });
  }

  /** unlinkEntry removes a name from dir; a directory must be empty. */
  unlinkEntry(dir: DirInode, name: string): void {
    const inode = dir.entries.get(name);
    if (!inode) return;
    if (inode.kind === 'dir' && inode.entries.size > 0) throw new FsError('ENOTEMPTY', name);
    const mtime = dir.mtimeMs;
    dir.entries.delete(name);
    dir.mtimeMs = this.now();
    inode.links--;
    if (inode.links === 0) this.count(inode, -1);
    this.record(() => {
      if (inode.links === 0) this.count(inode, 1);
      inode.links++;
      dir.entries.set(name, inode);
      dir.mtimeMs = mtime;
    });
  }

  /** setContent replaces a file's content; the file becomes the container's. */
  setContent(file: FileInode, chunks: readonly Buffer[], size: number): void {
    const before = { chunks: file.chunks, size: file.size, layer: file.layer, mtimeMs: file.mtimeMs };
    const linked = file.links > 0;
    if (linked) {
      this.checkGrowth(file, size);
      this.count(file, -1);
    }
    file.chunks = chunks;
    file.size = size;
    file.layer = this.layer;
    file.mtimeMs = this.now();
    if (linked) this.count(file, 1);
    this.record(() => {
      if (file.links > 0) this.count(file, -1);
      Object.assign(file, before);
      if (file.links > 0) this.count(file, 1);
    });
  }

  private setMeta(inode: Inode, change: Partial<Pick<InodeCommon, 'mode' | 'uid' | 'gid' | 'mtimeMs' | 'xattrs'>>): void {
    const before = { mode: inode.mode, uid: inode.uid, gid: inode.gid, mtimeMs: inode.mtimeMs, xattrs: inode.xattrs, layer: inode.layer };
    const linked = inode.links > 0;
    // on overlayfs a metadata change copies an image file up: in 'exclusive' scope it starts to count
    if (linked && inode.layer === 'image' && this.layer === 'container' && this.limits?.scope === 'exclusive') {
      this.checkRoom(sizeOf(inode), 1, 'container', '?');
    }
    if (linked) this.count(inode, -1);
    Object.assign(inode, change);
    inode.layer = this.layer;
    if (linked) this.count(inode, 1);
    this.record(() => {
      if (inode.links > 0) this.count(inode, -1);
      Object.assign(inode, before);
      if (inode.links > 0) this.count(inode, 1);
    });
  }

  private record(undo: Undo): void {
    this.journal?.push(undo);
  }

  private count(inode: Inode, sign: 1 | -1): void {
    const bytes = sizeOf(inode) * sign;
    this.usage.totalBytesUsed += bytes;
    this.usage.totalInodesUsed += sign;
    if (inode.layer === 'container') {
      this.usage.exclusiveBytesUsed += bytes;
      this.usage.exclusiveInodesUsed += sign;
    }
  }

  /** room is how many more bytes file may grow by under the byteHard limit. */
  private room(file: FileInode): number {
    const limits = this.limits;
    // what is counted as the image's is mounted (asImage), not the container's write: never refused
    if (!limits || limits.byteHard <= 0 || this.layer === 'image') return Number.MAX_SAFE_INTEGER;
    const used = limits.scope === 'exclusive' ? this.usage.exclusiveBytesUsed : this.usage.totalBytesUsed;
    // writing to an image file copies it up: in 'exclusive' scope its old bytes start to count
    const copyUp = limits.scope === 'exclusive' && file.layer === 'image' && file.links > 0 ? file.size : 0;
    return limits.byteHard - used - copyUp;
  }

  private checkGrowth(file: FileInode, newSize: number): void {
    const growth = newSize - (file.layer === this.layer || this.limits?.scope !== 'exclusive' ? file.size : 0);
    if (growth > 0) this.checkRoom(growth, 0, this.layer, '?');
  }

  private checkRoom(bytes: number, inodes: number, layer: Layer, path: string): void {
    const limits = this.limits;
    if (!limits || this.layer === 'image') return;
    const exclusive = limits.scope === 'exclusive';
    if (exclusive && layer === 'image') return;
    const usedBytes = exclusive ? this.usage.exclusiveBytesUsed : this.usage.totalBytesUsed;
    const usedInodes = exclusive ? this.usage.exclusiveInodesUsed : this.usage.totalInodesUsed;
    if (limits.byteHard > 0 && bytes > 0 && usedBytes + bytes > limits.byteHard) throw new FsError('ENOSPC', path);
    if (limits.inodeHard > 0 && inodes > 0 && usedInodes + inodes > limits.inodeHard) throw new FsError('ENOSPC', path);
  }

  /** checkCreate: cred may make or link a name in dir, for what links a new inode itself. @throws FsError EACCES */
  checkCreate(dir: DirInode, cred: Credentials, path: string): void {
    if (!permits(dir, cred, W | X)) throw new FsError('EACCES', path);
  }

  private checkRemove(dir: DirInode, inode: Inode, cred: Credentials, path: string): void {
    if (!permits(dir, cred, W | X)) throw new FsError('EACCES', path);
    // the sticky bit (as on /tmp): only the owner of the file or the directory may remove it
    if (dir.mode & 0o1000 && cred.uid !== 0 && cred.uid !== inode.uid && cred.uid !== dir.uid) {
      throw new FsError('EPERM', path);
    }
  }
}

const R = 4;
const W = 2;
const X = 1;

function permits(inode: Inode, cred: Credentials, bits: number): boolean {
  if (cred.uid === 0) {
    // root may do anything but execute a file that has no x bit at all
    return !(bits & X) || inode.kind === 'dir' || (inode.mode & 0o111) !== 0;
  }
  const shift = inode.uid === cred.uid ? 6 : inode.gid === cred.gid ? 3 : 0;
  return ((inode.mode >> shift) & bits) === bits;
}

function sizeOf(inode: Inode): number {
  return inode.kind === 'file' ? inode.size : 0;
}

/** components splits path (relative to cwd) into names, dropping '' and '.'. */
export function components(path: string, cwd: string, absolute = true): string[] {
  const full = path.startsWith('/') || !absolute ? path : `${cwd}/${path}`;
  return full.split('/').filter((c) => c !== '' && c !== '.');
}

/** readAll joins a file's chunks. */
export function contentOf(file: FileInode): Buffer {
  return file.chunks.length === 1 ? (file.chunks[0] as Buffer) : Buffer.concat(file.chunks as Buffer[], file.size);
}
