import { Readable } from 'node:stream';
import { InvalidArgumentError, InvalidTarError, PermissionDeniedError, ResourceExhaustedError } from '@arbor/core';
import * as tar from 'tar-stream';
import { contentOf } from '../fs/fake-filesystem';
import { makeHarness, type Harness } from '../testing';

interface TarEntry {
  header: Partial<tar.Header> & { name: string };
  content?: string;
}

async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry(e.header, e.content ?? '', (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function readTar(stream: Readable): Promise<Array<{ header: tar.Header; content: string }>> {
  const extract = tar.extract();
  const out: Array<{ header: tar.Header; content: string }> = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.push({ header: entry.header, content: Buffer.concat(chunks).toString('utf8') });
    }
  })();
  for await (const chunk of stream) {
    if (!extract.write(chunk as Buffer)) await new Promise((resolve) => extract.once('drain', () => resolve(undefined)));
  }
  extract.end(undefined);
  await done;
  return out;
}

const mtime = new Date('2020-02-03T04:05:06Z');

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.containerizer.destroy(h.handle);
});

function streamIn(path: string, data: Buffer, user?: string): Promise<void> {
  return h.containerizer.streamIn(h.handle, { path, tar: Readable.from([data]), ...(user && { user }) });
}

/** snapshot lists every path in the filesystem with its kind, mode, owner and size. */
function snapshot(): string[] {
  const out: string[] = [];
  const walk = (path: string): void => {
    const { inode } = h.fs.resolve(path, { follow: false });
    out.push(`${path} ${inode.kind} ${inode.mode.toString(8)} ${inode.uid}:${inode.gid} ${inode.kind === 'file' ? inode.size : ''}`);
    if (inode.kind === 'dir') for (const name of [...inode.entries.keys()].sort()) walk(path === '/' ? `/${name}` : `${path}/${name}`);
  };
  walk('/');
  return out;
}

describe('streamIn and streamOut', () => {
  const tree: TarEntry[] = [
    { header: { name: 'app/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000, mtime } },
    { header: { name: 'app/run.sh', mode: 0o755, uid: 1000, gid: 1000, mtime, pax: { 'SCHILY.xattr.user.origin': 'tar' } }, content: '#!/bin/sh\necho ran\n' },
    { header: { name: 'app/link', type: 'symlink', linkname: 'run.sh', mtime } },
    { header: { name: 'app/hard', type: 'link', linkname: 'app/run.sh', mtime } },
    { header: { name: 'app/sub/deep.txt', mode: 0o600, mtime }, content: 'deep' },
  ];

  it('extracts files, directories, symlinks and hard links with modes, owners, mtimes and xattrs', async () => {
    await streamIn('/srv', await tarOf(tree));
    const run = h.fs.resolve('/srv/app/run.sh').inode;
    expect(run).toMatchObject({ kind: 'file', mode: 0o755, uid: 1000, gid: 1000, mtimeMs: mtime.getTime(), links: 2 });
    expect(run.xattrs.get('user.origin')).toBe('tar');
    expect(contentOf(run as never).toString()).toBe('#!/bin/sh\necho ran\n');
    expect(h.fs.resolve('/srv/app/hard').inode).toBe(run);
    expect(h.fs.resolve('/srv/app/link', { follow: false }).inode).toMatchObject({ kind: 'symlink', target: 'run.sh' });
    expect(h.fs.resolve('/srv/app').inode).toMatchObject({ kind: 'dir', mode: 0o750, uid: 1000, mtimeMs: mtime.getTime() });
    expect(h.fs.resolve('/srv/app/sub').inode.kind).toBe('dir');
  });

  it("streams 'a/b' out as entries named b/..., and back in the same", async () => {
    await streamIn('/srv', await tarOf(tree));
    const entries = await readTar(await h.containerizer.streamOut(h.handle, { path: '/srv/app' }));
    expect(entries.map((e) => [e.header.name, e.header.type])).toEqual([
      ['app/', 'directory'],
      ['app/hard', 'file'],
      ['app/link', 'symlink'],
      ['app/run.sh', 'link'],
      ['app/sub/', 'directory'],
      ['app/sub/deep.txt', 'file'],
    ]);
    const hard = entries[1];
    expect(hard?.header).toMatchObject({ mode: 0o755, uid: 1000, gid: 1000, uname: 'vcap', gname: 'vcap' });
    expect(hard?.header.mtime?.getTime()).toBe(mtime.getTime());
    expect((hard?.header.pax as Record<string, string>)['SCHILY.xattr.user.origin']).toBe('tar');
    expect(entries[3]?.header.linkname).toBe('app/hard');
    expect(entries[2]?.header.linkname).toBe('run.sh');

    // what streams out streams back in unchanged, elsewhere
    const copy = await tarOf(entries.map((e) => ({ header: e.header, content: e.content })));
    await streamIn('/copy', copy);
    expect(contentOf(h.fs.resolve('/copy/app/run.sh').inode as never).toString()).toBe('#!/bin/sh\necho ran\n');
    expect(h.fs.resolve('/copy/app/run.sh').inode).toBe(h.fs.resolve('/copy/app/hard').inode);
  });

  it("streams 'a/b/' out as the directory's contents, named ./...", async () => {
    await streamIn('/srv', await tarOf(tree));
    const entries = await readTar(await h.containerizer.streamOut(h.handle, { path: '/srv/app/' }));
    expect(entries.map((e) => e.header.name)).toEqual(['./', './hard', './link', './run.sh', './sub/', './sub/deep.txt']);
  });

  it('streams a single file out under its own name', async () => {
    const entries = await readTar(await h.containerizer.streamOut(h.handle, { path: '/etc/passwd' }));
    expect(entries.map((e) => e.header.name)).toEqual(['passwd']);
    expect(entries[0]?.content).toContain('vcap:x:1000:1000');
  });

  it('streams a large file out whole', async () => {
    h.fs.writeFile('/tmp/big', Buffer.alloc(3 * 1024 * 1024, 7));
    const out = await h.containerizer.streamOut(h.handle, { path: '/tmp/big' });
    const entries = await readTar(out);
    expect(entries[0]?.content.length).toBe(3 * 1024 * 1024);
  });

  it("extracts a relative path into the user's home; the user owns what they extract", async () => {
    await streamIn('rel', await tarOf([{ header: { name: 'f.txt', mode: 0o777, uid: 0, gid: 0 }, content: 'mine' }]), 'vcap');
    expect(h.fs.resolve('/home/vcap/rel/f.txt').inode).toMatchObject({ uid: 1000, gid: 1000, mode: 0o755 });
    expect(h.fs.resolve('/home/vcap/rel').inode).toMatchObject({ uid: 1000, gid: 1000 });
  });

  it('refuses permission a user does not have, changing nothing', async () => {
    const before = snapshot();
    const data = await tarOf([{ header: { name: 'f' }, content: 'x' }]);
    await expect(streamIn('/root/in', data, 'vcap')).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(streamIn('/etc', data, 'vcap')).rejects.toBeInstanceOf(PermissionDeniedError);
    expect(snapshot()).toEqual(before);
  });

  it.each([
    // @arbor/host's TarEntryPolicy, as the host backends judge them: any '..' is refused
    ['../escape', "entry '../escape' leaves the destination through '..'"],
    ['a/../../escape', "entry 'a/../../escape' leaves the destination through '..'"],
    ['a/../inside', "entry 'a/../inside' leaves the destination through '..'"],
    ['/etc/evil', "entry '/etc/evil' would be written outside the destination (absolute path)"],
  ])('refuses the entry %s and changes nothing', async (name, message) => {
    const before = snapshot();
    const data = await tarOf([
      { header: { name: 'good.txt' }, content: 'fine' },
      { header: { name }, content: 'evil' },
    ]);
    const err = await streamIn('/srv', data).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidTarError);
    expect((err as Error).message).toContain(message);
    expect(snapshot()).toEqual(before);
  });

  it('refuses to write through a symlink that leaves the target directory', async () => {
    const before = snapshot();
    const data = await tarOf([
      { header: { name: 'out', type: 'symlink', linkname: '/etc' } },
      { header: { name: 'out/passwd' }, content: 'root::0:0::/:/bin/sh\n' },
    ]);
    await expect(streamIn('/srv', data)).rejects.toThrow(/goes through the symlink 'out' made by this tar/);
    expect(snapshot()).toEqual(before);
  });

  it('refuses a hard link to a file outside the target directory', async () => {
    const data = await tarOf([{ header: { name: 'pw', type: 'link', linkname: '../etc/passwd' } }]);
    await expect(streamIn('/srv', data)).rejects.toBeInstanceOf(InvalidTarError);
  });

  it('refuses a truncated tar and changes nothing', async () => {
    const before = snapshot();
    const whole = await tarOf([
      { header: { name: 'one.txt' }, content: 'one' },
      { header: { name: 'two.txt' }, content: 'x'.repeat(2000) },
    ]);
    const err = await streamIn('/srv', whole.subarray(0, 1200)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidTarError);
    expect(snapshot()).toEqual(before);
  });

  it('refuses a corrupt tar', async () => {
    await expect(streamIn('/srv', Buffer.alloc(1024, 'x'))).rejects.toBeInstanceOf(InvalidTarError);
  });

  it('fails with ResourceExhaustedError(disk) beyond byteHard, changing nothing', async () => {
    const limited = await makeHarness({ limits: { disk: { byteSoft: 0, byteHard: 100, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' } } });
    const data = await tarOf([
      { header: { name: 'a' }, content: 'x'.repeat(60) },
      { header: { name: 'b' }, content: 'x'.repeat(60) },
    ]);
    const err = await limited.containerizer.streamIn(limited.handle, { path: '/srv', tar: Readable.from([data]) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    expect(err).toMatchObject({ resource: 'disk' });
    expect(limited.fs.tryResolve('/srv')).toBeUndefined();
    expect(limited.fs.stat().exclusiveBytesUsed).toBe(0);
  });

  it('refuses to stream out a missing path, or one the user may not read', async () => {
    await expect(h.containerizer.streamOut(h.handle, { path: '/no/such/path' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(h.containerizer.streamOut(h.handle, { path: '/root', user: 'vcap' })).rejects.toBeInstanceOf(PermissionDeniedError);
  });
});
