import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlayVolumizer } from './overlay-volumizer';

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
