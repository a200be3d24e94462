import { mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@arbor/core';
import { FakeBindMounts } from './fake-bind-mounts';
import { FakeFilesystem, contentOf } from './fs/fake-filesystem';
import { FsError } from './fs/fs-error';

describe('FakeBindMounts', () => {
  let host: string;
  let outside: string;

  beforeEach(async () => {
    host = await mkdtemp(join(tmpdir(), 'arbor-fake-bind-'));
    outside = await mkdtemp(join(tmpdir(), 'arbor-fake-bind-outside-'));
    await writeFile(join(host, 'kept.txt'), 'kept');
    await writeFile(join(host, 'gone.txt'), 'gone');
  });

  afterEach(async () => {
    await rm(host, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('writes back what the container changed, removed and replaced, never following a host symlink', async () => {
    await symlink(outside, join(host, 'link'));
    const fs = new FakeFilesystem();
    const binds = await FakeBindMounts.mount(fs, [{ srcPath: host, dstPath: '/mnt/host', mode: 'rw', origin: 'host' }]);
    expect(contentOf(fs.resolve('/mnt/host/kept.txt').inode as never).toString()).toBe('kept');

    fs.unlink('/mnt/host/gone.txt');
    fs.unlink('/mnt/host/link');
    fs.mkdir('/mnt/host/link', 0o755);
    fs.writeFile('/mnt/host/link/inside.txt', 'inside');
    fs.writeFile('/mnt/host/kept.txt', 'changed');
    await binds.writeBack();

    expect((await readdir(host)).sort()).toEqual(['kept.txt', 'link']);
    expect(await readFile(join(host, 'kept.txt'), 'utf8')).toBe('changed');
    expect(await readFile(join(host, 'link', 'inside.txt'), 'utf8')).toBe('inside');
    // the host symlink was replaced by a directory, not written through
    expect(await readdir(outside)).toEqual([]);
    await expect(readlink(join(host, 'link'))).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('leaves alone what the host added after create', async () => {
    const fs = new FakeFilesystem();
    const binds = await FakeBindMounts.mount(fs, [{ srcPath: host, dstPath: '/mnt/host', mode: 'rw', origin: 'host' }]);
    await writeFile(join(host, 'later.txt'), 'later');
    await binds.writeBack();
    expect((await readdir(host)).sort()).toEqual(['gone.txt', 'kept.txt', 'later.txt']);
  });

  it('refuses every change under a read-only bind with EROFS, through any path that leads there', () => {
    const fs = new FakeFilesystem();
    fs.mkdir('/data', 0o755);
    fs.writeFile('/data/file', 'data');
    fs.linkEntry(fs.root, 'shortcut', fs.newSymlink('/mnt/ro', { uid: 0, gid: 0 }));
    return FakeBindMounts.mount(fs, [{ srcPath: '/data', dstPath: '/mnt/ro', mode: 'ro', origin: 'container' }]).then((binds) => {
      const seen = binds.guard(fs);
      for (const change of [
        () => seen.writeFile('/mnt/ro/file', 'x'),
        () => seen.writeFile('/shortcut/new', 'x'),
        () => seen.mkdir('/mnt/ro/dir', 0o755),
        () => seen.unlink('/mnt/ro/file'),
        () => seen.linkEntry(seen.parentOf('/mnt/ro/x').dir, 'x', seen.newFile(0o644, { uid: 0, gid: 0 }), '/mnt/ro/x'),
      ]) {
        expect(change).toThrow(FsError);
        expect(change).toThrow('Read-only file system');
      }
      // the source stays writable, and shows through the bind
      seen.writeFile('/data/file', 'changed');
      expect(contentOf(seen.resolve('/mnt/ro/file').inode as never).toString()).toBe('changed');
    });
  });

  it('refuses to bind a directory of the container into itself', async () => {
    const fs = new FakeFilesystem();
    fs.mkdir('/data', 0o755);
    await expect(FakeBindMounts.mount(fs, [{ srcPath: '/data', dstPath: '/data/again', mode: 'rw', origin: 'container' }])).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it('hides what was at dstPath', async () => {
    await mkdir(join(host, 'sub'));
    const fs = new FakeFilesystem();
    fs.mkdir('/mnt', 0o755);
    fs.mkdir('/mnt/host', 0o755);
    fs.writeFile('/mnt/host/hidden', 'hidden');
    await FakeBindMounts.mount(fs, [{ srcPath: host, dstPath: '/mnt/host', mode: 'ro', origin: 'host' }]);
    expect(fs.tryResolve('/mnt/host/hidden')).toBeUndefined();
    expect(fs.tryResolve('/mnt/host/sub')?.inode.kind).toBe('dir');
  });
});
