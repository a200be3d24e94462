import type { Readable } from 'node:stream';
import { InvalidTarError, PermissionDeniedError, ResourceExhaustedError } from '@arbor/core';
import { TarEntryPolicy } from '@arbor/host';
import * as tar from 'tar-stream';
import { FakeFilesystem, type Credentials, type DirInode, type Inode } from '../fs/fake-filesystem';
import { FsError } from '../fs/fs-error';
import type { User } from '../fs/users';

interface Entry {
  header: tar.Header;
  chunks: Buffer[];
  size: number;
}

/** UMASK applies to what a non-root user extracts, as tar run by that user does. */
const UMASK = 0o022;
const XATTR_PREFIX = 'SCHILY.xattr.';

/**
 * streamIn extracts an untrusted tar into fs at path, as user (a relative path is relative
 * to the user's home). The tar is read to its end first (a truncated or corrupt one changes
 * nothing), then applied in one filesystem transaction: an entry with an absolute path, a
 * '..' that leaves the target, or a path through a symlink that leaves it fails the whole
 * stream-in, and so does a permission or disk-limit failure, with nothing changed. Entries
 * are judged first by @arbor/host's TarEntryPolicy, the rule of the host backends, so every
 * backend refuses the same tars (a '..' even when it stays inside, a device node).
 * @throws InvalidTarError, PermissionDeniedError, ResourceExhaustedError('disk')
 */
export async function streamIn(fs: FakeFilesystem, user: User, path: string, input: Readable, maxBytes: number): Promise<void> {
  const entries = await readEntries(input, maxBytes);
  const dest = path.startsWith('/') ? path : FakeFilesystem.join(user.home, path);
  const cred = { uid: user.uid, gid: user.gid };
  try {
    fs.transaction(() => new Extraction(fs, cred, dest).run(entries));
  } catch (err) {
    if (!(err instanceof FsError)) throw err;
    if (err.code === 'EACCES' || err.code === 'EPERM') {
      throw new PermissionDeniedError(`stream-in: user ${user.name} may not write ${err.path}: ${err.strerror}`);
    }
    if (err.code === 'ENOSPC') {
      throw new ResourceExhaustedError('disk', `stream-in: ${err.path}: the container's disk limit is reached (${err.strerror})`);
    }
    throw new InvalidTarError(`cannot extract ${err.path}: ${err.strerror}`);
  }
}

async function readEntries(input: Readable, maxBytes: number): Promise<Entry[]> {
  const extract = tar.extract();
  const entries: Entry[] = [];
  let total = 0;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const entry: Entry = { header, chunks: [], size: 0 };
      stream.on('data', (data: unknown) => {
        const chunk = data as Buffer;
        entry.chunks.push(chunk);
        entry.size += chunk.length;
        total += chunk.length;
        if (total > maxBytes) {
          extract.destroy(new ResourceExhaustedError('disk', `stream-in: the tar holds more than the container's disk limit of ${maxBytes} bytes`));
        }
      });
      stream.on('end', () => {
        entries.push(entry);
        next();
      });
      // a truncated entry fails the entry stream as well as the extractor
      stream.on('error', (err: unknown) => reject(err));
    });
    extract.on('finish', () => resolve());
    extract.on('error', (err: Error) => reject(err));
  });
  done.catch(() => undefined);
  try {
    for await (const chunk of input) {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      if (!extract.write(data)) {
        await Promise.race([new Promise((resolve) => extract.once('drain', () => resolve(undefined))), done]);
      }
      if (extract.destroyed) break;
    }
    if (!extract.destroyed) extract.end(undefined);
    await done;
  } catch (err) {
    extract.destroy();
    // the disk limit stops the extractor, and so the loop feeding it: the caller's tar is too big, not broken
    if (err instanceof ResourceExhaustedError) throw err;
    throw new InvalidTarError(`the tar stream failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return entries;
}

/** Extraction applies entries synchronously; it runs inside a filesystem transaction. */
class Extraction {
  private destPath = '/';
  /** policy is the host backends' rule for entries (a '..' anywhere, devices, ...), one per tar. */
  private readonly policy = new TarEntryPolicy();
  /** dirMeta holds directory modes and mtimes, set last (children would change the mtime). */
  private readonly dirMeta: Array<{ dir: DirInode; mode: number; uid: number; gid: number; mtimeMs: number; xattrs: Map<string, string> }> = [];

  constructor(
    private readonly fs: FakeFilesystem,
    private readonly cred: Credentials,
    private readonly dest: string,
  ) {}

  run(entries: Entry[]): void {
    this.fs.mkdirp(this.dest, this.mode(0o755), { cred: this.cred });
    this.destPath = this.fs.resolve(this.dest, { cred: this.cred }).path;
    for (const entry of entries) this.apply(entry);
    for (const m of this.dirMeta.reverse()) {
      if (this.cred.uid === 0) this.fs.chown(m.dir, m.uid, m.gid);
      this.fs.chmod(m.dir, m.mode, this.cred);
      if (m.xattrs.size > 0) this.fs.setXattrs(m.dir, m.xattrs);
      this.fs.setMtime(m.dir, m.mtimeMs);
    }
  }

  private apply(entry: Entry): void {
    const { header } = entry;
    const decision = this.policy.check(header);
    if (decision.verdict === 'refuse') throw new InvalidTarError(`entry '${header.name}' ${decision.reason}`);
    if (decision.verdict === 'skip') return;
    const { parts, linkParts = [] } = decision;
    const owner = this.owner(header);
    const mode = this.mode(header.mode ?? 0o644);
    const mtimeMs = header.mtime ? header.mtime.getTime() : Date.now();
    const xattrs = xattrsOf(header);

    if (parts.length === 0) {
      // './' is the target directory itself
      if (header.type !== 'directory') throw new InvalidTarError(`entry '${header.name}' would replace the target directory`);
      const dir = this.fs.resolve(this.destPath).inode as DirInode;
      this.keepDirMeta(dir, mode, owner, mtimeMs, xattrs);
      return;
    }
    const parent = this.parentDir(parts, header.name);
    const name = parts[parts.length - 1] as string;
    const path = FakeFilesystem.join(parent.path, name);
    const existing = parent.dir.entries.get(name);

    switch (header.type) {
      case 'directory': {
        if (existing?.kind === 'dir') {
          this.keepDirMeta(existing, mode, owner, mtimeMs, xattrs);
          return;
        }
        if (existing) this.fs.unlink(path, { cred: this.cred });
        const dir = this.fs.newDir(0o700, this.cred);
        this.fs.checkCreate(parent.dir, this.cred, path);
        this.fs.linkEntry(parent.dir, name, dir, path);
        this.keepDirMeta(dir, mode, owner, mtimeMs, xattrs);
        return;
      }
      case 'file':
      case 'contiguous-file':
      case 'symlink': {
        this.replace(existing, path, header.name);
        const inode = header.type === 'symlink' ? this.fs.newSymlink(header.linkname ?? '', this.cred) : this.fs.newFile(mode, this.cred);
        if (inode.kind === 'file') this.fs.setContent(inode, entry.chunks, entry.size);
        // a symlink's mode is always 0777
        this.finishInode(inode, inode.kind === 'file' ? mode : undefined, owner, mtimeMs, xattrs);
        this.fs.checkCreate(parent.dir, this.cred, path);
        this.fs.linkEntry(parent.dir, name, inode, path);
        return;
      }
      case 'link': {
        const targetPath = FakeFilesystem.join(this.destPath, linkParts.join('/'));
        const target = this.fs.tryResolve(targetPath, { cred: this.cred, follow: false });
        if (!target || target.inode.kind === 'dir') {
          throw new InvalidTarError(
            `hard link '${header.name}' points at '${header.linkname ?? ''}', which is not a file in the archive or the target directory`,
          );
        }
        if (existing === target.inode) return;
        this.replace(existing, path, header.name);
        this.fs.link(target.inode, path, { cred: this.cred });
        return;
      }
      default:
        // devices and FIFOs need privileges an unprivileged container does not have: skipped
        return;
    }
  }

  /** parentDir makes the entry's missing parent directories and checks it stays inside the target. */
  private parentDir(parts: string[], entryName: string): { dir: DirInode; path: string } {
    let current = this.destPath;
    for (const part of parts.slice(0, -1)) {
      const next = FakeFilesystem.join(current, part);
      const found = this.fs.tryResolve(next, { cred: this.cred });
      if (!found) this.fs.mkdir(next, this.mode(0o755), { cred: this.cred });
      const resolved = this.fs.resolve(next, { cred: this.cred });
      if (!this.inside(resolved.path)) {
        throw new InvalidTarError(`entry '${entryName}' goes through a symlink that leaves the target directory`);
      }
      if (resolved.inode.kind !== 'dir') throw new FsError('ENOTDIR', next);
      current = resolved.path;
    }
    const dir = this.fs.resolve(current).inode as DirInode;
    return { dir, path: current };
  }

  private inside(path: string): boolean {
    return this.destPath === '/' || path === this.destPath || path.startsWith(`${this.destPath}/`);
  }

  /** replace removes what an entry overwrites: a file or symlink, or an empty directory. */
  private replace(existing: Inode | undefined, path: string, entryName: string): void {
    if (!existing) return;
    if (existing.kind === 'dir') {
      if (existing.entries.size > 0) throw new InvalidTarError(`entry '${entryName}' would replace the directory ${path}, which is not empty`);
      this.fs.rmdir(path, { cred: this.cred });
      return;
    }
    this.fs.unlink(path, { cred: this.cred });
  }

  private finishInode(inode: Inode, mode: number | undefined, owner: Credentials, mtimeMs: number, xattrs: Map<string, string>): void {
    if (owner.uid !== inode.uid || owner.gid !== inode.gid) this.fs.chown(inode, owner.uid, owner.gid);
    if (mode !== undefined) this.fs.chmod(inode, mode);
    if (xattrs.size > 0) this.fs.setXattrs(inode, xattrs);
    this.fs.setMtime(inode, mtimeMs);
  }

  private keepDirMeta(dir: DirInode, mode: number, owner: Credentials, mtimeMs: number, xattrs: Map<string, string>): void {
    // a user may only change directories they own (root may change any)
    if (this.cred.uid !== 0 && dir.uid !== this.cred.uid) return;
    this.dirMeta.push({ dir, mode, uid: owner.uid, gid: owner.gid, mtimeMs, xattrs });
  }

  /** owner: root keeps the archive's owners; anyone else owns what they extract. */
  private owner(header: tar.Header): Credentials {
    return this.cred.uid === 0 ? { uid: header.uid ?? 0, gid: header.gid ?? 0 } : this.cred;
  }

  private mode(mode: number): number {
    return this.cred.uid === 0 ? mode & 0o7777 : mode & 0o777 & ~UMASK;
  }
}

function xattrsOf(header: tar.Header): Map<string, string> {
  const xattrs = new Map<string, string>();
  const pax = header.pax as Record<string, string> | null | undefined;
  for (const [key, value] of Object.entries(pax ?? {})) {
    if (key.startsWith(XATTR_PREFIX)) xattrs.set(key.slice(XATTR_PREFIX.length), value);
  }
  return xattrs;
}
