import { lstat, mkdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvalidArgumentError, quoteInput } from '@arbor/core';
import type { BindMount, Process } from '@arbor/core';
import { FakeFilesystem, ROOT, contentOf, type Inode, type LookupOptions } from './fs/fake-filesystem';
import { FsError } from './fs/fs-error';
import { readHostTree } from './fs/read-host-tree';

/**
 * ReadOnlyMountError is a write under a read-only bind mount, which Linux fails with EROFS.
 * FsErrorCode has no EROFS, so its code is EPERM (what callers branch on: not permitted)
 * and its text the kernel's, which is what a process prints.
 */
class ReadOnlyMountError extends FsError {
  constructor(path: string) {
    super('EPERM', path);
    this.message = `${path}: Read-only file system`;
  }

  override get strerror(): string {
    return 'Read-only file system';
  }
}

/** Mounted is one bind mount in place: dstPath is canonical, like /mnt/data. */
interface Mounted {
  dstPath: string;
  mode: BindMount['mode'];
  inode: Inode;
  /** hostPath is the source of a read-write host bind, which writeBack keeps up to date. */
  hostPath?: string;
  /** written are the paths (relative to hostPath) the last writeBack left on the host, so a later one can remove what the container removed. */
  written: Set<string>;
}

// GUARDED are the FakeFilesystem methods that change a path, with the canonical paths each changes.
type Guarded = (fs: FakeFilesystem, args: unknown[]) => Array<string | undefined>;
const at = (fs: FakeFilesystem, path: unknown, options?: unknown): string | undefined => {
  const p = fs.parentOf(path as string, (options ?? {}) as LookupOptions);
  return FakeFilesystem.join(p.dirPath, p.name);
};
const GUARDED: Record<string, Guarded> = {
  mkdir: (fs, [path, , options]) => [at(fs, path, options)],
  link: (fs, [, path, options]) => [at(fs, path, options)],
  mknod: (fs, [path]) => [at(fs, path)],
  unlink: (fs, [path, options]) => [at(fs, path, options)],
  rmdir: (fs, [path, options]) => [at(fs, path, options)],
  openForWrite: (fs, [path, options]) => [fs.tryResolve(path as string, { ...(options as LookupOptions), follow: true })?.path ?? at(fs, path, options)],
  // a stream-in (and @arbor/fake-shell's ln and mv) link what they make under its path
  linkEntry: (_fs, [, , , path]) => [typeof path === 'string' && path.startsWith('/') ? path : undefined],
};

/**
 * FakeBindMounts are a fake container's bind mounts, modelled in its in-memory filesystem.
 * A bind of the container's own directory (origin container) names the same inode at
 * dstPath, so both paths show the same files. A host source (origin host) is copied in at
 * create; a read-write one is written back to the host (new and changed files, and what the
 * container removed) when a process of the container ends and after a stream-in, so the
 * host sees a container's writes by the time the client sees it exit. Writes the host makes
 * after create do not show inside. Under a read-only bind every change fails as EROFS. What a
 * bind hides at dstPath stays counted against the disk, as files under a mount point do.
 */
export class FakeBindMounts {
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly mounts: readonly Mounted[]) {}

  /**
   * mount puts each bind at its dstPath in fs, in order, making dstPath's parents.
   * @throws InvalidArgumentError naming the bind, like bindMounts[0].srcPath, for a source that
   *   does not exist (on the host or in the container, by its origin, as the host backends
   *   say), a host source the fake cannot hold in memory, or a container directory bound under itself
   */
  static async mount(fs: FakeFilesystem, binds: readonly BindMount[]): Promise<FakeBindMounts> {
    const mounts: Mounted[] = [];
    for (const [i, bind] of binds.entries()) {
      const field = `bindMounts[${i}].srcPath`;
      const host = bind.origin === 'host' ? await readHostTree(bind.srcPath, 'directory or file', field, quoteInput(bind.srcPath)) : undefined;
      // a host source is copied in as the image's: what is mounted does not count as the container's writes
      const inode = host ? fs.asImage(() => host(fs)) : fs.tryResolve(bind.srcPath, { cred: ROOT })?.inode;
      if (!inode) throw new InvalidArgumentError(field, `${quoteInput(bind.srcPath)} does not exist in the container: give an existing path`);
      const dstPath = fs.asImage(() => {
        fs.mkdirp(dirname(bind.dstPath), 0o755, { cred: ROOT });
        const p = fs.parentOf(bind.dstPath, { cred: ROOT });
        const dstPath = FakeFilesystem.join(p.dirPath, p.name);
        if (bind.origin === 'container' && isUnder(dstPath, fs.resolve(bind.srcPath, { cred: ROOT }).path)) {
          throw new InvalidArgumentError(
            field,
            `${quoteInput(bind.srcPath)} holds dstPath ${quoteInput(bind.dstPath)}: the fake backend cannot bind a directory into itself`,
          );
        }
        // the mount hides what was there, which stays on disk
        if (p.existing) p.dir.entries.delete(p.name);
        fs.linkEntry(p.dir, p.name, inode, dstPath);
        return dstPath;
      });
      const hostPath = bind.origin === 'host' && bind.mode === 'rw' ? bind.srcPath : undefined;
      mounts.push({ dstPath, mode: bind.mode, inode, ...(hostPath !== undefined && { hostPath }), written: new Set(hostPath ? walk(inode, '') : []) });
    }
    return new FakeBindMounts(mounts);
  }

  /** isReadOnly says whether the canonical path lies in a read-only bind (the innermost bind holding it decides). */
  isReadOnly(path: string): boolean {
    let innermost: Mounted | undefined;
    for (const m of this.mounts) {
      if (isUnder(path, m.dstPath) && (!innermost || m.dstPath.length > innermost.dstPath.length)) innermost = m;
    }
    return innermost?.mode === 'ro';
  }

  /**
   * guard returns fs as the container's processes see it: every change under a read-only
   * bind throws an EROFS FsError. fs itself when there is no read-only bind.
   */
  guard(fs: FakeFilesystem): FakeFilesystem {
    if (!this.mounts.some((m) => m.mode === 'ro')) return fs;
    return new Proxy(fs, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        const paths = typeof prop === 'string' ? GUARDED[prop] : undefined;
        if (!paths || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          let changed: Array<string | undefined> = [];
          try {
            changed = paths(target, args);
          } catch {
            // a path that cannot be looked up fails in the call itself, with its own errno
          }
          const readOnly = changed.find((p) => p !== undefined && this.isReadOnly(p));
          if (readOnly !== undefined) throw new ReadOnlyMountError(readOnly);
          return (value as (...a: unknown[]) => unknown).apply(receiver, args);
        };
      },
    });
  }

  /** afterExit is process, whose wait resolves once the read-write host binds are written back. */
  afterExit(process: Process): Process {
    if (!this.mounts.some((m) => m.hostPath !== undefined)) return process;
    let written: Promise<number> | undefined;
    return {
      id: process.id,
      wait: () => (written ??= process.wait().then(async (code) => (await this.writeBack(), code))),
      setTty: (spec) => process.setTty(spec),
      signal: (signal) => process.signal(signal),
    };
  }

  /** writeBack copies the read-write host binds' files to the host, one writeBack at a time. */
  writeBack(): Promise<void> {
    const next = this.writing.then(async () => {
      for (const m of this.mounts) if (m.hostPath !== undefined) await writeMount(m, m.hostPath);
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}

/** isUnder says whether canonical path is dir or inside it. */
function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/** walk lists the paths under inode, relative to it, like ['a', 'a/b']. */
function walk(inode: Inode, rel: string): string[] {
  if (inode.kind !== 'dir') return [];
  return [...inode.entries].flatMap(([name, child]) => {
    const path = rel === '' ? name : `${rel}/${name}`;
    return [path, ...walk(child, path)];
  });
}

/**
 * writeMount makes the host's tree at hostPath what the bind shows: each file and symlink
 * written where it differs, each directory made, and what the last writeBack left there
 * and the container has since removed, removed. A host entry of another kind (a symlink
 * where the container has a directory) is replaced, never followed.
 */
async function writeMount(m: Mounted, hostPath: string): Promise<void> {
  const now = new Set<string>();
  const write = async (inode: Inode, path: string, rel: string): Promise<void> => {
    if (rel !== '') now.add(rel);
    const st = await lstat(path).catch(() => undefined);
    const same =
      st && ((inode.kind === 'dir' && st.isDirectory()) || (inode.kind === 'file' && st.isFile()) || (inode.kind === 'symlink' && st.isSymbolicLink()));
    if (st && !same) await rm(path, { recursive: true, force: true });
    if (inode.kind === 'dir') {
      if (!same) await mkdir(path, { mode: inode.mode });
      for (const [name, child] of inode.entries) await write(child, join(path, name), rel === '' ? name : `${rel}/${name}`);
    } else if (inode.kind === 'file') {
      const content = contentOf(inode);
      const old = same ? await readFile(path) : undefined;
      if (!old?.equals(content)) await writeFile(path, content, { mode: inode.mode });
    } else if (inode.kind === 'symlink') {
      if (!same || (await readlink(path)) !== inode.target) {
        if (same) await rm(path, { force: true });
        await symlink(inode.target, path);
      }
    }
  };
  await write(m.inode, hostPath, '');
  for (const rel of m.written) if (!now.has(rel)) await rm(join(hostPath, rel), { recursive: true, force: true });
  m.written = now;
}
