import { PassThrough, Readable } from 'node:stream';
import { pack as tarPack, extract as tarExtract } from 'tar-stream';
import { InvalidTarError } from '@arbor/core';
import { tarOf } from '@arbor/testkit';
import type { TarEntry as Entry } from '@arbor/testkit';
import { TarEntryPolicy, guardTar } from './tar-guard';

async function names(tar: Readable): Promise<string[]> {
  const extract = tarExtract();
  const found: string[] = [];
  extract.on('entry', (h, s, next) => {
    found.push(h.name);
    s.on('end', () => next());
    s.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', reject);
    tar.on('error', reject);
  });
  tar.pipe(extract as unknown as NodeJS.WritableStream);
  await done;
  return found;
}

describe('guardTar', () => {
  it('passes a harmless tar through entry for entry', async () => {
    const tar = await tarOf([
      { name: 'dir', type: 'directory' },
      { name: 'dir/file', content: 'x' },
      { name: 'dir/link', type: 'symlink', linkname: '/etc/passwd' },
      { name: './dir/hard', type: 'link', linkname: 'dir/file' },
    ]);
    expect(await names(guardTar(Readable.from([tar])))).toEqual(['dir', 'dir/file', 'dir/link', './dir/hard']);
  });

  it.each<[string, Entry[]]>([
    ['a ../ path', [{ name: 'a/../../x', content: 'x' }]],
    ['an absolute path', [{ name: '/etc/passwd', content: 'x' }]],
    [
      'a write through a symlink of the same tar',
      [
        { name: 'l', type: 'symlink', linkname: '/etc' },
        { name: 'l/passwd', content: 'x' },
      ],
    ],
    ['a hard link leaving the tree', [{ name: 'h', type: 'link', linkname: '../../etc/shadow' }]],
    ['a hard link to an absolute path', [{ name: 'h', type: 'link', linkname: '/etc/shadow' }]],
    [
      'a hard link through a symlink of the same tar',
      [
        { name: 'l', type: 'symlink', linkname: '/' },
        { name: 'h', type: 'link', linkname: 'l/etc/shadow' },
      ],
    ],
    ['a block device', [{ name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 }]],
  ])('refuses %s with InvalidTarError', async (_what, entries) => {
    await expect(names(guardTar(Readable.from([await tarOf(entries)])))).rejects.toBeInstanceOf(InvalidTarError);
  });

  it('refuses a truncated tar', async () => {
    const tar = await tarOf([{ name: 'f', content: 'y'.repeat(5000) }]);
    await expect(names(guardTar(Readable.from([tar.subarray(0, 1000)])))).rejects.toBeInstanceOf(InvalidTarError);
  });

  it('refuses an empty stream', async () => {
    await expect(names(guardTar(Readable.from([Buffer.alloc(0)])))).rejects.toBeInstanceOf(InvalidTarError);
  });
});

describe('guardTar cut short mid-entry (nothing may throw outside the stream)', () => {
  // halfway is a source that has sent a header and part of a 1 MiB entry, and then waits
  async function halfway(): Promise<PassThrough> {
    const pack = tarPack();
    pack.entry({ name: 'big', type: 'file' }, 'z'.repeat(1024 * 1024));
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const tar = Buffer.concat(chunks);
    const source = new PassThrough();
    source.write(tar.subarray(0, 200 * 1024));
    return source;
  }
  const settle = () => new Promise((r) => setTimeout(r, 50));

  it('stops quietly when its reader destroys it (a tar that exited, a cancelled call)', async () => {
    const source = await halfway();
    const guarded = guardTar(source);
    await new Promise((r) => guarded.once('data', r));
    guarded.destroy();
    await settle();
    expect(guarded.destroyed).toBe(true);
  });

  it('fails with InvalidTarError when the source fails, and stops quietly', async () => {
    const source = await halfway();
    const guarded = guardTar(source);
    const failed = new Promise<unknown>((resolve) => guarded.on('error', resolve));
    await new Promise((r) => guarded.once('data', r));
    source.destroy(new Error('the client cancelled'));
    expect(await failed).toBeInstanceOf(InvalidTarError);
    await settle();
  });
});

describe('TarEntryPolicy', () => {
  const file = (name: string) => ({ name, type: 'file' as const });

  it('refuses by default what guardTar refuses, saying why', () => {
    const policy = new TarEntryPolicy();
    expect(policy.check(file('/etc/passwd'))).toEqual({ verdict: 'refuse', reason: 'would be written outside the destination (absolute path)' });
    expect(policy.check(file('a/../../x'))).toEqual({ verdict: 'refuse', reason: "leaves the destination through '..'" });
    expect(policy.check(file('a\0b'))).toMatchObject({ verdict: 'refuse', reason: expect.stringMatching(/NUL/) });
    expect(policy.check({ name: 'mem', type: 'character-device', devmajor: 1, devminor: 1 })).toMatchObject({ verdict: 'refuse' });
    expect(policy.check({ name: 'gone', type: 'character-device', devmajor: 0, devminor: 0 })).toMatchObject({ verdict: 'refuse' });
    expect(policy.check({ name: 'h', type: 'link', linkname: '/etc/shadow' })).toMatchObject({
      verdict: 'refuse',
      reason: expect.stringMatching(/hard link to '\/etc\/shadow'/),
    });
  });

  it('remembers the symlinks of its tar: nothing goes through one, a hard link to one itself is fine', () => {
    const policy = new TarEntryPolicy();
    expect(policy.check({ name: './l/', type: 'symlink', linkname: '/etc' })).toMatchObject({ verdict: 'write', parts: ['l'] });
    expect(policy.check(file('l/passwd'))).toEqual({ verdict: 'refuse', reason: "goes through the symlink 'l' made by this tar" });
    expect(policy.check({ name: 'h', type: 'link', linkname: 'l/shadow' })).toMatchObject({
      verdict: 'refuse',
      reason: expect.stringMatching(/through the symlink 'l'/),
    });
    expect(policy.check({ name: 'h', type: 'link', linkname: './l' })).toEqual({ verdict: 'write', parts: ['h'], linkParts: ['l'] });
    expect(new TarEntryPolicy().check(file('l/passwd'))).toMatchObject({ verdict: 'write' });
  });

  it('reads an image layer with the layer options: absolute names inside, 0:0 whiteouts kept, other devices refused', () => {
    const layer = new TarEntryPolicy({ absoluteNames: 'inside', devices: 'whiteouts', destination: 'layer' });
    expect(layer.check(file('/usr/./bin/sh'))).toEqual({ verdict: 'write', parts: ['usr', 'bin', 'sh'], linkParts: undefined });
    expect(layer.check({ name: 'h', type: 'link', linkname: '/usr/bin/sh' })).toMatchObject({ linkParts: ['usr', 'bin', 'sh'] });
    expect(layer.check({ name: 'etc/gone', type: 'character-device', devmajor: 0, devminor: 0 })).toMatchObject({ verdict: 'write' });
    expect(layer.check({ name: 'sda', type: 'block-device', devmajor: 0, devminor: 0 })).toMatchObject({
      verdict: 'refuse',
      reason: expect.stringMatching(/block device 0:0/),
    });
    expect(layer.check(file('../x'))).toEqual({ verdict: 'refuse', reason: "leaves the layer through '..'" });
  });

  it('skips devices and FIFOs when told to, as the client does', () => {
    const client = new TarEntryPolicy({ devices: 'skip', fifos: 'skip' });
    expect(client.check({ name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 })).toEqual({ verdict: 'skip' });
    expect(client.check({ name: 'p', type: 'fifo' })).toEqual({ verdict: 'skip' });
    expect(new TarEntryPolicy().check({ name: 'p', type: 'fifo' })).toMatchObject({ verdict: 'write' });
  });
});
