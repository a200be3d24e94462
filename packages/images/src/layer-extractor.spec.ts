import { mkdtemp, readFile, readlink, rm, stat, writeFile, mkdir, readdir, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidTarError } from '@arbor/core';
import { LayerExtractor } from './layer-extractor';
import { RecordingSpecialFiles } from './testing/recording-special-files';
import { makeTar, type TarEntry } from './testing/make-tar';

describe('LayerExtractor', () => {
  let work: string;
  let root: string;
  let outside: string;
  let special: RecordingSpecialFiles;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'arbor-extract-'));
    root = join(work, 'layer');
    outside = join(work, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, 'victim'), 'untouched');
    special = new RecordingSpecialFiles();
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function extract(entries: TarEntry[]): Promise<void> {
    const tar = await makeTar(entries);
    await new LayerExtractor(special).extract(Readable.from([tar]), root, { preserveOwner: false });
  }

  async function outsideUntouched(): Promise<void> {
    expect(await readdir(outside)).toEqual(['victim']);
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('untouched');
  }

  it('writes files, directories, symlinks and hard links with their modes', async () => {
    await extract([
      { name: 'bin/', type: 'directory', mode: 0o755 },
      { name: 'bin/busybox', content: 'ELF', mode: 0o4755 },
      { name: 'bin/sh', type: 'link', linkname: 'bin/busybox' },
      { name: 'bin/ls', type: 'symlink', linkname: '/bin/busybox' },
      { name: 'etc/motd', content: 'hello\n' },
    ]);
    expect(await readFile(join(root, 'bin/busybox'), 'utf8')).toBe('ELF');
    expect((await stat(join(root, 'bin/busybox'))).mode & 0o7777).toBe(0o4755);
    expect((await stat(join(root, 'bin/sh'))).ino).toBe((await stat(join(root, 'bin/busybox'))).ino);
    expect(await readlink(join(root, 'bin/ls'))).toBe('/bin/busybox');
    expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe('hello\n');
  });

  it('gives tiny, small and large files their exact modes and times, whatever the umask strips', async () => {
    const mtime = new Date('2020-01-02T03:04:05Z');
    const sizes = { tiny: 10, small: 100_000, large: 300_000 };
    const modes = [0o644, 0o666, 0o600, 0o777, 0o2755, 0o1777];
    const entries: TarEntry[] = [];
    for (const [kind, size] of Object.entries(sizes)) {
      for (const mode of modes) entries.push({ name: `${kind}-${mode.toString(8)}`, content: Buffer.alloc(size, 1), mode, mtime });
    }
    await extract(entries);
    for (const [kind, size] of Object.entries(sizes)) {
      for (const mode of modes) {
        const info = await stat(join(root, `${kind}-${mode.toString(8)}`));
        expect({ kind, mode: info.mode & 0o7777, size: info.size, mtime: info.mtimeMs }).toEqual({ kind, mode, size, mtime: mtime.getTime() });
      }
    }
  });

  it('turns .wh.name into a whiteout for name and .wh..wh..opq into an opaque directory', async () => {
    await extract([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.passwd', content: '' },
      { name: 'var/cache/.wh..wh..opq', content: '' },
      { name: 'var/cache/new', content: 'kept' },
      { name: '.wh..wh.plnk', content: '' },
    ]);
    expect(special.whiteouts).toEqual([join(root, 'etc/passwd')]);
    expect(special.opaques).toEqual([join(root, 'var/cache')]);
    expect(await readdir(join(root, 'etc'))).toEqual([]);
    expect(await readFile(join(root, 'var/cache/new'), 'utf8')).toBe('kept');
  });

  it("refuses an entry with '..' and leaves the outside alone", async () => {
    await expect(extract([{ name: '../outside/victim', content: 'pwned' }])).rejects.toThrow(InvalidTarError);
    await expect(extract([{ name: 'a/../../outside/x', content: 'pwned' }])).rejects.toThrow(/leaves the layer/);
    await outsideUntouched();
  });

  it('puts absolute names inside the layer', async () => {
    await extract([{ name: '/etc/hostname', content: 'box' }]);
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('box');
  });

  it('refuses to write through a symlink the tar made', async () => {
    await expect(
      extract([
        { name: 'escape', type: 'symlink', linkname: outside },
        { name: 'escape/victim', content: 'pwned' },
      ]),
    ).rejects.toThrow(/goes through the symlink 'escape'/);
    await expect(
      extract([
        { name: 'rel', type: 'symlink', linkname: '../outside' },
        { name: 'rel/new', content: 'pwned' },
      ]),
    ).rejects.toThrow(InvalidTarError);
    await outsideUntouched();
  });

  it('replaces a symlink by a later file instead of writing through it', async () => {
    await extract([
      { name: 'x', type: 'symlink', linkname: join(outside, 'victim') },
      { name: 'x', content: 'inside' },
    ]);
    expect((await lstat(join(root, 'x'))).isFile()).toBe(true);
    expect(await readFile(join(root, 'x'), 'utf8')).toBe('inside');
    await outsideUntouched();
  });

  it('refuses hard links to anything outside the layer', async () => {
    await expect(extract([{ name: 'h', type: 'link', linkname: '../outside/victim' }])).rejects.toThrow(InvalidTarError);
    await expect(extract([{ name: 'h', type: 'link', linkname: join(outside, 'victim') }])).rejects.toThrow(InvalidTarError);
    await expect(extract([{ name: 'h', type: 'link', linkname: 'missing' }])).rejects.toThrow(/not a file of this layer/);
    await expect(
      extract([
        { name: 's', type: 'symlink', linkname: outside },
        { name: 'h', type: 'link', linkname: 's/victim' },
      ]),
    ).rejects.toThrow(/not in this layer/);
    expect((await stat(join(outside, 'victim'))).nlink).toBe(1);
  });

  it('fails with InvalidTarError on a truncated tar', async () => {
    const tar = await makeTar([{ name: 'big', content: Buffer.alloc(4096, 1) }]);
    await expect(
      new LayerExtractor(special).extract(Readable.from([tar.subarray(0, 1024)]), root, { preserveOwner: false }),
    ).rejects.toThrow(InvalidTarError);
  });
});
