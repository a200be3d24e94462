import { FakeFilesystem, ROOT } from './fake-filesystem';
import { FsError } from './fs-error';
import { buildDefaultRootfs } from './default-rootfs';
import { resolveUser } from './users';

/** symlink makes path (whose directory exists) point at target, as root. */
function symlink(fs: FakeFilesystem, target: string, path: string): void {
  const p = fs.parentOf(path);
  fs.linkEntry(p.dir, p.name, fs.newSymlink(target, ROOT), path);
}

const vcap = { uid: 1000, gid: 1000 };
const other = { uid: 2000, gid: 2000 };

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FsError) return err.code;
    throw err;
  }
  return 'ok';
}

describe('FakeFilesystem', () => {
  let fs: FakeFilesystem;
  beforeEach(() => {
    fs = buildDefaultRootfs(['sh', 'cat']);
    fs.sealImage();
  });

  describe('permissions', () => {
    it('lets root do anything but execute a file with no x bit', () => {
      fs.writeFile('/root/f', 'x', { mode: 0o000 });
      expect(fs.canAccess(fs.resolve('/root/f').inode, ROOT, 'r')).toBe(true);
      expect(fs.canAccess(fs.resolve('/root/f').inode, ROOT, 'w')).toBe(true);
      expect(fs.canAccess(fs.resolve('/root/f').inode, ROOT, 'x')).toBe(false);
      expect(fs.canAccess(fs.resolve('/bin/sh').inode, ROOT, 'x')).toBe(true);
    });

    it('checks owner, group and other bits for everyone else', () => {
      const f = fs.writeFile('/tmp/f', 'x', { mode: 0o640 });
      fs.chown(f, 1000, 3000);
      expect(fs.canAccess(f, vcap, 'w')).toBe(true);
      expect(fs.canAccess(f, { uid: 5, gid: 3000 }, 'r')).toBe(true);
      expect(fs.canAccess(f, { uid: 5, gid: 3000 }, 'w')).toBe(false);
      expect(fs.canAccess(f, other, 'r')).toBe(false);
    });

    it('needs search permission on every directory on the way', () => {
      fs.writeFile('/root/secret', 'x', { mode: 0o644 });
      expect(code(() => fs.resolve('/root/secret', { cred: vcap }))).toBe('EACCES');
    });

    it('needs write permission on the directory to create or remove', () => {
      expect(code(() => fs.writeFile('/etc/new', 'x', { cred: vcap }))).toBe('EACCES');
      expect(code(() => fs.mkdir('/home/vcap/d', 0o755, { cred: vcap }))).toBe('ok');
      expect(code(() => fs.unlink('/etc/passwd', { cred: vcap }))).toBe('EACCES');
    });

    it('keeps others from removing files in a sticky directory', () => {
      fs.writeFile('/tmp/mine', 'x', { cred: vcap });
      expect(code(() => fs.unlink('/tmp/mine', { cred: other }))).toBe('EPERM');
      expect(code(() => fs.unlink('/tmp/mine', { cred: vcap }))).toBe('ok');
    });

    it('lets only the owner chmod, and only root chown', () => {
      const f = fs.writeFile('/tmp/f', 'x', { cred: vcap });
      expect(code(() => fs.chmod(f, 0o600, other))).toBe('EPERM');
      expect(code(() => fs.chmod(f, 0o600, vcap))).toBe('ok');
      expect(code(() => fs.chown(f, 0, 0, vcap))).toBe('EPERM');
    });
  });

  describe('paths', () => {
    it('follows symlinks, relative and absolute, and .. physically', () => {
      fs.mkdirp('/a/b', 0o755);
      symlink(fs, '/a/b', '/l');
      symlink(fs, 'b', '/a/rel');
      fs.writeFile('/a/b/f', 'x');
      expect(fs.resolve('/l/f').path).toBe('/a/b/f');
      expect(fs.resolve('/a/rel/f').path).toBe('/a/b/f');
      expect(fs.resolve('/l/../b/f').path).toBe('/a/b/f');
      expect(fs.resolve('/../../etc').path).toBe('/etc');
    });

    it('resolves a relative path from cwd', () => {
      expect(fs.resolve('passwd', { cwd: '/etc' }).path).toBe('/etc/passwd');
    });

    it('fails on symlink loops, missing names and files used as directories', () => {
      symlink(fs, '/loop2', '/loop1');
      symlink(fs, '/loop1', '/loop2');
      expect(code(() => fs.resolve('/loop1'))).toBe('ELOOP');
      expect(code(() => fs.resolve('/nope'))).toBe('ENOENT');
      expect(code(() => fs.resolve('/etc/passwd/x'))).toBe('ENOTDIR');
      expect(code(() => fs.resolve('/etc/passwd/'))).toBe('ENOTDIR');
    });

    it('creates the target of a dangling symlink when writing through it', () => {
      symlink(fs, '/tmp/target', '/tmp/dangling');
      fs.writeFile('/tmp/dangling', 'via link');
      expect(fs.resolve('/tmp/target').inode.kind).toBe('file');
    });
  });

  describe('usage and limits', () => {
    it('counts the image as total and the container writes as exclusive, hard links once', () => {
      const before = fs.stat();
      expect(before.exclusiveBytesUsed).toBe(0);
      const f = fs.writeFile('/tmp/f', 'hello');
      fs.link(f, '/tmp/g');
      const after = fs.stat();
      expect(after.exclusiveBytesUsed).toBe(5);
      expect(after.exclusiveInodesUsed).toBe(1);
      expect(after.totalBytesUsed).toBe(before.totalBytesUsed + 5);
      fs.unlink('/tmp/f');
      fs.unlink('/tmp/g');
      expect(fs.stat()).toEqual(before);
    });

    it('counts an image file the container changes as exclusive (copy-up)', () => {
      const size = fs.resolve('/etc/passwd').inode;
      fs.writeFile('/etc/passwd', 'root:x:0:0::/root:/bin/sh\n');
      expect(fs.stat().exclusiveBytesUsed).toBe((fs.resolve('/etc/passwd').inode as { size: number }).size);
      expect(size.layer).toBe('container');
    });

    it('fails writes beyond byteHard with ENOSPC after writing what fits', () => {
      fs.setLimits({ byteSoft: 0, byteHard: 10, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' });
      const f = fs.writeFile('/tmp/a', '123456');
      expect(code(() => fs.append(f, Buffer.from('abcdef')))).toBe('ENOSPC');
      expect(f.size).toBe(10);
    });

    it("counts the image too with scope 'total'", () => {
      const used = fs.stat().totalBytesUsed;
      fs.setLimits({ byteSoft: 0, byteHard: used + 3, inodeSoft: 0, inodeHard: 0, scope: 'total' });
      expect(code(() => fs.writeFile('/tmp/a', 'abcd'))).toBe('ENOSPC');
    });

    it('fails new inodes beyond inodeHard', () => {
      fs.setLimits({ byteSoft: 0, byteHard: 0, inodeSoft: 0, inodeHard: 1, scope: 'exclusive' });
      expect(code(() => fs.mkdir('/tmp/a', 0o755))).toBe('ok');
      expect(code(() => fs.mkdir('/tmp/b', 0o755))).toBe('ENOSPC');
    });
  });

  describe('transaction', () => {
    it('undoes every change when the function throws', () => {
      const before = fs.stat();
      fs.writeFile('/tmp/keep', 'old');
      const keepBefore = fs.resolve('/tmp/keep').inode;
      expect(() =>
        fs.transaction(() => {
          fs.mkdirp('/tmp/new/deep', 0o755);
          fs.writeFile('/tmp/new/deep/f', 'data');
          fs.unlink('/tmp/keep');
          fs.writeFile('/tmp/keep', 'replaced');
          fs.chmod(fs.resolve('/tmp').inode, 0o700);
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(fs.tryResolve('/tmp/new')).toBeUndefined();
      expect(fs.resolve('/tmp/keep').inode).toBe(keepBefore);
      expect(fs.resolve('/tmp').inode.mode).toBe(0o1777);
      expect(fs.stat().exclusiveBytesUsed).toBe(before.exclusiveBytesUsed + 3);
    });

    it('keeps the changes when the function returns', () => {
      fs.transaction(() => fs.writeFile('/tmp/kept', 'x'));
      expect(fs.resolve('/tmp/kept').inode.kind).toBe('file');
    });
  });
});

describe('the default rootfs', () => {
  const fs = buildDefaultRootfs(['sh', 'cat', 'ls']);

  it('has root, vcap and nobody with their homes', () => {
    expect(resolveUser(fs, '')).toEqual({ name: 'root', uid: 0, gid: 0, home: '/root' });
    expect(resolveUser(fs, 'vcap')).toEqual({ name: 'vcap', uid: 1000, gid: 1000, home: '/home/vcap' });
    expect(resolveUser(fs, 'nobody')).toEqual({ name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' });
    expect(resolveUser(fs, '1000:1000')).toEqual({ name: 'vcap', uid: 1000, gid: 1000, home: '/home/vcap' });
    expect(resolveUser(fs, '4242:7')).toEqual({ name: '4242', uid: 4242, gid: 7, home: '/' });
    expect(() => resolveUser(fs, 'alice')).toThrow(/unknown user 'alice'/);
  });

  it('has the modes and owners Linux images have', () => {
    expect(fs.resolve('/root').inode).toMatchObject({ mode: 0o700, uid: 0 });
    expect(fs.resolve('/home/vcap').inode).toMatchObject({ mode: 0o755, uid: 1000, gid: 1000 });
    expect(fs.resolve('/tmp').inode).toMatchObject({ mode: 0o1777 });
    expect(fs.resolve('/dev/null').inode).toMatchObject({ kind: 'device', device: 'null', mode: 0o666 });
  });

  it('links every applet in /bin to /bin/busybox', () => {
    const busybox = fs.resolve('/bin/busybox').inode;
    expect(fs.resolve('/bin/sh').inode).toBe(busybox);
    expect(fs.resolve('/bin/ls').inode).toBe(busybox);
  });
});

describe('FakeFilesystem.clone', () => {
  it('copies the tree, usage and hard links, and neither copy sees the other change', () => {
    const image = buildDefaultRootfs(['sh', 'cat']);
    const copy = image.clone();
    expect(copy.stat()).toEqual(image.stat());
    const busybox = copy.resolve('/bin/busybox').inode;
    expect(busybox).not.toBe(image.resolve('/bin/busybox').inode);
    expect(copy.resolve('/bin/sh').inode).toBe(busybox);
    expect(busybox).toMatchObject({ kind: 'file', links: 3 });
    const imageSize = busybox.kind === 'file' ? busybox.size : -1;

    copy.sealImage();
    copy.writeFile('/bin/sh', 'changed');
    copy.chmod(copy.resolve('/tmp').inode, 0o700);
    copy.writeFile('/tmp/new', 'x');
    expect(image.tryResolve('/tmp/new')).toBeUndefined();
    expect(image.resolve('/tmp').inode.mode).toBe(0o1777);
    expect(copy.resolve('/bin/cat').inode).toMatchObject({ size: 'changed'.length });
    expect(image.resolve('/bin/cat').inode).toMatchObject({ size: imageSize });
    expect(copy.stat().exclusiveInodesUsed).toBeGreaterThan(0);
    expect(image.stat().exclusiveInodesUsed).toBe(0);
  });

  it('refuses inside a transaction', () => {
    const fs = buildDefaultRootfs(['sh']);
    expect(() => fs.transaction(() => fs.clone())).toThrow(/inside a transaction/);
  });
});
