import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { InvalidArgumentError, type Rootfs } from '@arbor/core';
import Dockerode from 'dockerode';
import { OverlayVolumizer } from './overlay-volumizer';
import { buildTestImage, removeTestImages } from './testing/test-image';

const run = promisify(execFile);

const describeRoot = process.getuid?.() === 0 ? describe : describe.skip;

describeRoot('OverlayVolumizer (root: overlay mounts)', () => {
  let stateDir: string;
  let base: string;
  let volumizer: OverlayVolumizer;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-images-'));
    base = join(stateDir, 'base');
    await mkdir(join(base, 'etc'), { recursive: true });
    await writeFile(join(base, 'etc', 'motd'), 'from the image\n');
    volumizer = new OverlayVolumizer({ stateDir, defaultRootfs: `raw://${base}` });
  });
  afterEach(async () => {
    await volumizer.destroy('a');
    await volumizer.destroy('b');
    await rm(stateDir, { recursive: true, force: true });
  });

  it('gives two containers one image, where writes of one are seen by neither the other nor the image', async () => {
    const a = await volumizer.create('a', { uri: '' }, undefined);
    const b = await volumizer.create('b', { uri: `raw://${base}` }, undefined);
    expect(a.path).toBe(join(stateDir, 'overlays', 'a', 'rootfs'));
    await writeFile(join(a.path, 'etc', 'motd'), 'changed in a\n');
    expect(await readFile(join(a.path, 'etc', 'motd'), 'utf8')).toBe('changed in a\n');
    expect(await readFile(join(b.path, 'etc', 'motd'), 'utf8')).toBe('from the image\n');
    expect(await readFile(join(base, 'etc', 'motd'), 'utf8')).toBe('from the image\n');
  });

  it('counts the writes of a container as its exclusive disk use', async () => {
    const a = await volumizer.create('a', { uri: '' }, undefined);
    const before = await volumizer.metrics('a');
    await writeFile(join(a.path, 'big'), Buffer.alloc(100_000));
    const after = await volumizer.metrics('a');
    expect(after.exclusiveBytesUsed - before.exclusiveBytesUsed).toBe(100_000);
    expect(after.exclusiveInodesUsed - before.exclusiveInodesUsed).toBe(1);
    expect(after.totalBytesUsed).toBeGreaterThanOrEqual(after.exclusiveBytesUsed + 'from the image\n'.length);
  });

  it('destroy unmounts and removes everything, and can run twice', async () => {
    const a = await volumizer.create('a', { uri: '' }, undefined);
    await volumizer.destroy('a');
    await volumizer.destroy('a');
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(a.path);
    expect(await readdir(join(stateDir, 'overlays'))).toEqual([]);
  });
});

describeRoot('OverlayVolumizer with pulled images (root, a Docker engine)', () => {
  jest.setTimeout(120_000);
  const docker = new Dockerode();
  const tag = `arbor-test/volumizer:${process.pid}`;
  let work: string;
  let archive: string;
  let stateDir: string;
  let volumizer: OverlayVolumizer;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'arbor-volumizer-images-'));
    await buildTestImage(docker, tag);
    archive = join(work, 'image.tar');
    await pipeline((await docker.getImage(tag).get()) as unknown as Readable, createWriteStream(archive));
  });
  afterAll(async () => {
    await removeTestImages(docker, (t) => t === tag);
    await rm(work, { recursive: true, force: true });
  });

  beforeEach(async () => {
    stateDir = await mkdtemp(join(work, 'state-'));
    volumizer = new OverlayVolumizer({ stateDir, defaultRootfs: '', docker });
  });
  afterEach(async () => {
    for (const handle of ['a', 'b']) await volumizer.destroy(handle);
  });

  const mountedAt = async (path: string): Promise<string | undefined> =>
    (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((line) => line.split(' ')[4] === path);

  async function expectTestImageRoot(rootfs: Rootfs): Promise<void> {
    expect(rootfs).toEqual({
      path: rootfs.path,
      env: ['PATH=/bin', 'GREETING=hello'],
      user: '',
      workingDir: '/data',
      entrypoint: ['/bin/busybox'],
      cmd: ['cat', '/data/hello'],
    });
    // layer 3 deleted /etc/doomed (a whiteout) and replaced /data/cache (an opaque dir)
    expect((await readdir(join(rootfs.path, 'etc'))).sort()).toEqual(['kept']);
    expect(await readdir(join(rootfs.path, 'data/cache'))).toEqual(['new']);
    const { stdout } = await run('chroot', [rootfs.path, '/bin/busybox', 'cat', '/data/hello']);
    expect(stdout).toBe('hello from arbor\n');
  }

  it.each([
    ['docker-archive', (): string => `docker-archive://${archive}`],
    ['docker-daemon', (): string => `docker-daemon:${tag}`],
  ])('mounts a container root from a %s image with its layers, whiteouts and defaults', async (_kind, uri) => {
    const rootfs = await volumizer.create('a', { uri: uri() }, undefined);
    expect(rootfs.path).toBe(join(stateDir, 'overlays', 'a', 'rootfs'));
    await expectTestImageRoot(rootfs);
    const mount = await mountedAt(rootfs.path);
    expect(mount?.match(/lowerdir=([^,\s]+)/)?.[1]?.split(':')).toHaveLength(4);
  });

  it('shares one pull between two creates of one image at once, and both containers work', async () => {
    const uri = `docker-archive://${archive}`;
    const [a, b] = await Promise.all([volumizer.create('a', { uri }, undefined), volumizer.create('b', { uri }, undefined)]);
    const store = await volumizer.layerStore();
    expect(store.stats.layersUnpacked).toBe(4);
    await expectTestImageRoot(a);
    await expectTestImageRoot(b);
    expect((await mountedAt(a.path))?.match(/lowerdir=([^,\s]+)/)?.[1]).toBe((await mountedAt(b.path))?.match(/lowerdir=([^,\s]+)/)?.[1]);
    await writeFile(join(a.path, 'data/hello'), 'changed in a\n');
    expect(await readFile(join(b.path, 'data/hello'), 'utf8')).toBe('hello from arbor\n');
  });

  it('destroy unmounts, and the layers go once no container uses them', async () => {
    const uri = `docker-daemon:${tag}`;
    const a = await volumizer.create('a', { uri }, undefined);
    const b = await volumizer.create('b', { uri }, undefined);
    const layers = join(stateDir, 'images/layers/sha256');
    await volumizer.destroy('a');
    expect(await mountedAt(a.path)).toBeUndefined();
    expect(await readdir(layers)).toHaveLength(4);
    await expectTestImageRoot(b);
    await volumizer.destroy('b');
    expect(await mountedAt(b.path)).toBeUndefined();
    expect(await readdir(layers)).toEqual([]);
    expect(await (await volumizer.layerStore()).references()).toEqual([]);
    expect(await readdir(join(stateDir, 'overlays'))).toEqual([]);
  });

  it('refuses an image whose layers would not fit in the overlay mount options', async () => {
    const deep = new OverlayVolumizer({ stateDir: join(stateDir, ...Array<string>(10).fill('x'.repeat(120))), defaultRootfs: '', docker });
    const err = await deep.create('a', { uri: `docker-daemon:${tag}` }, undefined).catch((e: unknown) => e);
    await deep.destroy('a');
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/has 4 layers: their overlay mount options take \d+ bytes, over the kernel's 4095/);
  });
});
