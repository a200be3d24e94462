import { mkdtemp, readFile, readlink, rm, stat, writeFile, mkdir, readdir, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidTarError } from '@arbor/core';
import { LayerExtractor } from './layer-extractor';
import { LayerStore } from './layer-store';
import { sha256Of } from './digest';
import type { SpecialFiles } from './special-files';
import { RecordingSpecialFiles } from './testing/recording-special-files';
import { makeTar, type TarEntry } from './testing/make-tar';

/**
 * DeviceRecordingSpecialFiles also notes the device nodes and FIFOs it is asked to make, like
 * 'c 0:0 <path>', and leaves an empty file there for the extractor's chmod (no mknod needed).
 */
class DeviceRecordingSpecialFiles implements SpecialFiles {
  private readonly marks = new RecordingSpecialFiles();
  readonly whiteouts = this.marks.whiteouts;
  readonly opaques = this.marks.opaques;
  readonly devices: string[] = [];
  whiteout(path: string): Promise<void> {
    return this.marks.whiteout(path);
  }
  opaque(dir: string): Promise<void> {
    return this.marks.opaque(dir);
  }
  async device(path: string, type: 'c' | 'b', major: number, minor: number): Promise<void> {
    this.devices.push(`${type} ${major}:${minor} ${path}`);
    await writeFile(path, '');
  }
  async fifo(path: string): Promise<void> {
    this.devices.push(`p ${path}`);
    await writeFile(path, '');
  }
}

describe('LayerExtractor', () => {
  let work: string;
  let root: string;
  let outside: string;
  let special: DeviceRecordingSpecialFiles;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'arbor-extract-'));
    root = join(work, 'layer');
    outside = join(work, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, 'victim'), 'untouched');
    special = new DeviceRecordingSpecialFiles();
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

  it('refuses a layer with a block device (8:0, a host disk) or a character device (1:1, /dev/mem), naming the layer and the entry', async () => {
    const refusal = (entries: TarEntry[]) =>
      makeTar(entries).then((tar) => new LayerExtractor(special).extract(Readable.from([tar]), root, { preserveOwner: false, layer: 'sha256:abc' }));
    const block = await refusal([
      { name: 'dev/', type: 'directory' },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
    ]).catch((e: unknown) => e);
    expect(block).toBeInstanceOf(InvalidTarError);
    expect((block as InvalidTarError).kind).toBe('invalidArgument');
    expect((block as Error).message).toMatch(/layer sha256:abc: entry 'dev\/sda' is a block device 8:0/);
    const char = await refusal([{ name: 'mem', type: 'character-device', devmajor: 1, devminor: 1 }]).catch((e: unknown) => e);
    expect(char).toBeInstanceOf(InvalidTarError);
    expect((char as Error).message).toMatch(/layer sha256:abc: entry 'mem' is a character device 1:1/);
    // a block device 0:0 is no whiteout either
    await expect(refusal([{ name: 'b00', type: 'block-device', devmajor: 0, devminor: 0 }])).rejects.toThrow(/block device 0:0/);
    expect(special.devices).toEqual([]);
    expect(await readdir(join(root, 'dev')).catch(() => [])).toEqual([]);
  });

  it('keeps a 0:0 character device (an overlay whiteout) and a FIFO', async () => {
    await extract([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/gone', type: 'character-device', devmajor: 0, devminor: 0, mode: 0 },
      { name: 'run/pipe', type: 'fifo' },
      { name: 'etc/.wh.old', content: '' },
    ]);
    expect(special.devices).toEqual([`c 0:0 ${join(root, 'etc/gone')}`, `p ${join(root, 'run/pipe')}`]);
    expect(special.whiteouts).toEqual([join(root, 'etc/old')]);
  });

  it('leaves nothing in the layer store for a layer with a device node', async () => {
    const stateDir = join(work, 'state');
    const store = new LayerStore({ stateDir, specialFiles: special });
    await store.init();
    const evil = await makeTar([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/tool', content: 'x' },
      { name: 'disk', type: 'block-device', devmajor: 8, devminor: 0 },
    ]);
    await expect(store.ensureLayer({ diffId: sha256Of(evil) }, async () => Readable.from([evil]))).rejects.toThrow(/entry 'disk' is a block device 8:0/);
    expect(await store.hasLayer(sha256Of(evil))).toBe(false);
    expect([...(await readdir(join(store.root, 'layers/sha256'))), ...(await readdir(join(store.root, 'tmp')))]).toEqual([]);
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
    ).rejects.toThrow(/hard link through the symlink 's'/);
    expect((await stat(join(outside, 'victim'))).nlink).toBe(1);
  });

  it('fails with InvalidTarError on a truncated tar', async () => {
    const tar = await makeTar([{ name: 'big', content: Buffer.alloc(4096, 1) }]);
    await expect(new LayerExtractor(special).extract(Readable.from([tar.subarray(0, 1024)]), root, { preserveOwner: false })).rejects.toThrow(InvalidTarError);
  });
});
