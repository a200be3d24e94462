import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { ArborError, HostPreconditionError, InvalidArgumentError, MIN_DISK_LIMIT_BYTES, type DiskLimits, type Rootfs } from '@arbor/core';
import Dockerode from 'dockerode';
import { RecordingLogger, describeIf, eventually } from '@arbor/testkit';
import { findMountHelper } from './overlay-mounter';
import { OverlayVolumizer } from './overlay-volumizer';
import { buildTestImage, removeTestImages } from './testing/test-image';
import { UnenforcedQuotaVolumes } from './unenforced-quota-volumes';

const run = promisify(execFile);

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describeIf({ root: true })('OverlayVolumizer (root: overlay mounts)', () => {
  let stateDir: string;
  let base: string;
  let volumizer: OverlayVolumizer;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-images-'));
    base = join(stateDir, 'base');
    await mkdir(join(base, 'etc'), { recursive: true });
    await writeFile(join(base, 'etc', 'motd'), 'from the image\n');
    volumizer = new OverlayVolumizer({ stateDir, defaultRootfs: `raw://${base}`, quotaSizeBytes: GiB });
  });
  afterEach(async () => {
    await volumizer.destroy('a');
    await volumizer.destroy('b');
    await volumizer.close();
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
    // blocks on disk, as the quota counts them: 100 000 bytes take 25 pages, plus tree nodes
    expect(after.exclusiveBytesUsed - before.exclusiveBytesUsed).toBeGreaterThanOrEqual(100_000);
    expect(after.exclusiveBytesUsed - before.exclusiveBytesUsed).toBeLessThanOrEqual(100_000 + 64 * 1024);
    expect(after.exclusiveInodesUsed - before.exclusiveInodesUsed).toBe(1);
    expect(after.totalBytesUsed).toBeGreaterThanOrEqual(after.exclusiveBytesUsed + 'from the image\n'.length);
  });

  it("mounts a user namespace's root filesystem for its ids in one mount: the image's files show as the range's, writes land as the range's root, and destroy leaves nothing", async () => {
    const ids = { hostId: 1_800_000_000, size: 65536 };
    const a = await volumizer.create('a', { uri: '' }, undefined, undefined, ids);
    expect(a.idmappedFor).toEqual(ids);
    // the host sees the image's root-owned files through the idmapped layer as host id 1800000000
    expect((await lstat(join(a.path, 'etc', 'motd'))).uid).toBe(ids.hostId);
    expect((await lstat(join(base, 'etc', 'motd'))).uid).toBe(0);
    expect((await lstat(join(stateDir, 'overlays', 'a', 'upper'))).uid).toBe(ids.hostId);
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4] === a.path);
    expect(mounts).toHaveLength(1);
    expect(mounts[0]).toMatch(/ - overlay /);
    // a volumizer without arbor-mount leaves the idmapping to the containerizer
    const plain = new OverlayVolumizer({ stateDir, defaultRootfs: `raw://${base}`, quotaSizeBytes: GiB, mountHelperPath: '' });
    const b = await plain.create('b', { uri: '' }, undefined, undefined, ids);
    expect(b.idmappedFor).toBeUndefined();
    expect((await lstat(join(b.path, 'etc', 'motd'))).uid).toBe(0);
    await plain.destroy('b');
    await volumizer.destroy('a');
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(a.path);
  });

  it('destroy unmounts and removes everything, and can run twice', async () => {
    const a = await volumizer.create('a', { uri: '' }, undefined);
    await volumizer.destroy('a');
    await volumizer.destroy('a');
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(a.path);
    expect(await readdir(join(stateDir, 'overlays'))).toEqual([]);
  });

  it.each([
    ['arbor-mount', findMountHelper()],
    ['mount(8)', ''],
  ])('mounts through arbor-mount, or mount(8) without it: %s', async (_how, mountHelperPath) => {
    if (_how === 'arbor-mount') expect(mountHelperPath).toMatch(/native\/build\/arbor-mount$/);
    const mounter = new OverlayVolumizer({ stateDir, defaultRootfs: `raw://${base}`, quotaSizeBytes: GiB, mountHelperPath });
    const a = await mounter.create('a', { uri: '' }, undefined);
    expect(await readFile(join(a.path, 'etc', 'motd'), 'utf8')).toBe('from the image\n');
    await mounter.destroy('a');
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(a.path);
  });

  describe('disk limits (btrfs qgroups)', () => {
    const exclusive = (byteHard: number): DiskLimits => ({ byteSoft: 0, byteHard, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' });

    it('stops a writer at byteHard with EDQUOT and shows the usage in metrics', async () => {
      const a = await volumizer.create('a', { uri: '' }, exclusive(10 * MiB));
      const written = await fill(join(a.path, 'big'), 40);
      expect(written.error).toMatch(/EDQUOT|ENOSPC|-122/);
      expect(written.bytes).toBeGreaterThan(6 * MiB);
      expect(written.bytes).toBeLessThanOrEqual(10 * MiB);
      const used = (await volumizer.metrics('a')).exclusiveBytesUsed;
      expect(used).toBeGreaterThanOrEqual(written.bytes);
      expect(used).toBeLessThanOrEqual(10 * MiB + 64 * 1024);
    });

    it('lets more writes through once the limit of a live container is raised, and caps again when lowered', async () => {
      const a = await volumizer.create('a', { uri: '' }, exclusive(5 * MiB));
      expect((await fill(join(a.path, 'one'), 8)).error).toMatch(/EDQUOT|ENOSPC|-122/);
      await volumizer.limitDisk('a', exclusive(30 * MiB));
      expect(await fill(join(a.path, 'two'), 8)).toEqual({ bytes: 8 * MiB, error: '' });
      await volumizer.limitDisk('a', exclusive(0));
      expect(await fill(join(a.path, 'three'), 32)).toEqual({ bytes: 32 * MiB, error: '' });
      await volumizer.limitDisk('a', exclusive(50 * MiB));
      expect((await fill(join(a.path, 'four'), 16)).error).toMatch(/EDQUOT|ENOSPC|-122/);
    });

    it("caps scope 'total' at byteHard less the image, and refuses a byteHard that leaves under MIN_DISK_LIMIT_BYTES beside the image, naming it", async () => {
      await writeFile(join(base, 'image-data'), Buffer.alloc(3 * MiB, 1));
      const image = 3 * MiB + 'from the image\n'.length;
      const a = await volumizer.create('a', { uri: '' }, { ...exclusive(8 * MiB), scope: 'total' });
      expect(await qgroupMaxReferenced(join(stateDir, 'overlays', 'a'))).toBe(8 * MiB - image);
      const err = await volumizer.create('b', { uri: '' }, { ...exclusive(2 * MiB), scope: 'total' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).field).toBe('limits.disk.byteHard');
      // the default rootfs is named by its directory, never as an empty image ''
      expect((err as Error).message).toContain(`leaves nothing to write: the image, the default rootfs ${base}, alone takes ${image} bytes`);
      // a few bytes beside the image are no room to make a root filesystem in (a raw ENOENT, once)
      const tight = await volumizer.create('b', { uri: `raw://${base}` }, { ...exclusive(image + 1000), scope: 'total' }).catch((e: unknown) => e);
      expect(tight).toBeInstanceOf(InvalidArgumentError);
      expect((tight as Error).message).toContain(`leaves 1000 bytes to write, under the ${MIN_DISK_LIMIT_BYTES}`);
      expect((tight as Error).message).toContain(`'raw://${base}'`);
      await expect(volumizer.limitDisk('a', { ...exclusive(3 * MiB), scope: 'total' })).rejects.toThrow(`the image, 'raw://${base}', alone takes`);
      expect((await fill(join(a.path, 'x'), 8)).error).toMatch(/EDQUOT|ENOSPC|-122/);
    });

    it('keeps limits across a restart (a new volumizer, even after the quota filesystem was unmounted)', async () => {
      const a = await volumizer.create('a', { uri: '' }, exclusive(6 * MiB));
      const overlays = join(stateDir, 'overlays');
      // a host reboot: nothing mounted, the files stay
      await run('umount', [a.path]);
      await run('umount', [overlays]);
      expect(await mountedAt(overlays)).toBeUndefined();
      const restarted = new OverlayVolumizer({ stateDir, defaultRootfs: `raw://${base}`, quotaSizeBytes: GiB });
      const again = await restarted.create('a', { uri: '' }, undefined);
      expect(await mountedAt(overlays)).toMatch(/ - btrfs /);
      expect(await qgroupMaxReferenced(join(overlays, 'a'))).toBe(6 * MiB);
      expect((await fill(join(again.path, 'big'), 10)).error).toMatch(/EDQUOT|ENOSPC|-122/);
      // a kill -9 of arbord: everything stays mounted, a new volumizer uses it as is
      const third = new OverlayVolumizer({ stateDir, defaultRootfs: `raw://${base}`, quotaSizeBytes: GiB });
      await third.limitDisk('a', exclusive(20 * MiB));
      expect(await qgroupMaxReferenced(join(overlays, 'a'))).toBe(20 * MiB);
      volumizer = third;
    });

    it('destroy leaves no subvolume nor qgroup, and close unmounts the quota filesystem once no container is left', async () => {
      await volumizer.create('a', { uri: '' }, exclusive(6 * MiB));
      await volumizer.create('b', { uri: '' }, undefined);
      const overlays = join(stateDir, 'overlays');
      const groups = await qgroups(overlays);
      expect(groups).toHaveLength(3); // the top level, a and b
      await volumizer.destroy('a');
      expect(await mountedAt(overlays)).toBeDefined();
      // the kernel drops a deleted subvolume's qgroup only after `subvolume sync` sees the
      // subvolume gone (it commits first, so that the qgroup counts nothing): wait for that too
      await run('btrfs', ['subvolume', 'sync', overlays]);
      await eventually(async () => expect(await qgroups(overlays)).toEqual(groups.filter((g) => g !== groups[1])), 10_000);
      await volumizer.destroy('b');
      await run('btrfs', ['subvolume', 'sync', overlays]).catch(() => undefined);
      expect(await mountedAt(overlays)).toBeDefined();
      await volumizer.close();
      expect(await mountedAt(overlays)).toBeUndefined();
      expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(stateDir)).toBe(false);
      expect((await run('losetup', ['-j', join(stateDir, 'volumes.btrfs')])).stdout).toBe('');
      // the cleaner finishes on the next mount: no qgroup is left behind
      await volumizer.create('a', { uri: '' }, undefined);
      await run('btrfs', ['subvolume', 'sync', overlays]);
      await eventually(async () => expect(await qgroups(overlays)).toEqual(['0/5', expect.stringMatching(/^0\/\d+$/)]), 10_000);
    });

    it('refuses a byteHard, naming why, where quotas cannot work, and works without one', async () => {
      const unenforced = new OverlayVolumizer({
        stateDir,
        defaultRootfs: `raw://${base}`,
        volumes: new UnenforcedQuotaVolumes('mkfs.btrfs not found: install btrfs-progs'),
      });
      const err = await unenforced.create('a', { uri: '' }, exclusive(MiB)).catch((e: unknown) => e);
      expect(ArborError.is(err) && err.kind).toBe('failedPrecondition');
      expect((err as Error).message).toMatch(/cannot be enforced on this host: mkfs.btrfs not found/);
      await unenforced.create('b', { uri: '' }, undefined);
      await expect(unenforced.limitDisk('b', exclusive(MiB))).rejects.toThrow(/cannot be enforced/);
      await unenforced.limitDisk('b', exclusive(0));
      expect((await unenforced.metrics('b')).exclusiveInodesUsed).toBeGreaterThan(0);
      await unenforced.destroy('a');
      await unenforced.destroy('b');
    });
  });
});

/** fill writes up to mib MiB of zeroes to path, 1 MiB at a time with a sync each, and says how far it got. */
async function fill(path: string, mib: number): Promise<{ bytes: number; error: string }> {
  const file = await open(path, 'w');
  let bytes = 0;
  try {
    for (let i = 0; i < mib; i += 1) {
      const { bytesWritten } = await file.write(Buffer.alloc(MiB));
      bytes += bytesWritten;
      await file.sync();
    }
    return { bytes, error: '' };
  } catch (err) {
    return { bytes, error: String((err as NodeJS.ErrnoException).code) };
  } finally {
    await file.close().catch(() => undefined);
  }
}

async function qgroups(mnt: string): Promise<string[]> {
  const { stdout } = await run('btrfs', ['qgroup', 'show', '--raw', mnt]);
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('0/'))
    .map((l) => l.trim().split(/\s+/).slice(0, 1).join(' '));
}

async function qgroupMaxReferenced(dir: string): Promise<number> {
  const { stdout } = await run('btrfs', ['qgroup', 'show', '-re', '--raw', '-f', dir]);
  return Number(
    stdout
      .split('\n')
      .find((l) => l.startsWith('0/'))
      ?.trim()
      .split(/\s+/)[3],
  );
}

async function mountedAt(path: string): Promise<string | undefined> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((line) => line.split(' ')[4] === path);
}

describeIf({ root: true, docker: true })('OverlayVolumizer with pulled images (root, a Docker engine)', () => {
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
    await volumizer.close();
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
    await deep.close();
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/has 4 layers: their overlay mount options take \d+ bytes, over the kernel's 4095/);
  });
});

describeIf({ root: true })('OverlayVolumizer host preconditions and call logs (root)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-images-'));
  });
  afterEach(async () => {
    await run('umount', ['-R', join(dir, 'merged')]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses with HostPreconditionError, naming the fix, a state dir on overlayfs (as in a container without a volume)', async () => {
    for (const d of ['lower', 'upper', 'work', 'merged']) await mkdir(join(dir, d));
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`, join(dir, 'merged')]);
    const stateDir = join(dir, 'merged', 'state');
    const base = join(dir, 'merged', 'base');
    await mkdir(base, { recursive: true });
    const volumizer = new OverlayVolumizer({ stateDir, defaultRootfs: `raw://${base}`, volumes: new UnenforcedQuotaVolumes('test') });
    const err = await volumizer.create('a', { uri: '' }, undefined).catch((e: unknown) => e);
    await volumizer.destroy('a');
    expect(err).toBeInstanceOf(HostPreconditionError);
    expect((err as Error).message).toMatch(/is on overlayfs .*put arbord's state dir \(.*\/merged\/state\) on ext4, xfs or btrfs$/);
  });

  it("logs a create with the call's logger when given one, else its own", async () => {
    const base = join(dir, 'base');
    await mkdir(base);
    const own: Record<string, unknown>[] = [];
    const call: Record<string, unknown>[] = [];
    const volumizer = new OverlayVolumizer({
      stateDir: join(dir, 'state'),
      defaultRootfs: `raw://${base}`,
      volumes: new UnenforcedQuotaVolumes('test'),
      logger: new RecordingLogger(own, {}),
    });
    try {
      await volumizer.create('a', { uri: '' }, undefined, { logger: new RecordingLogger(call, { requestId: 'r1' }) });
      await volumizer.create('b', { uri: '' }, undefined);
    } finally {
      await volumizer.destroy('a');
      await volumizer.destroy('b');
    }
    expect(call).toEqual([expect.objectContaining({ event: 'rootfs-mounted', requestId: 'r1', rootfs: join(dir, 'state', 'overlays', 'a', 'rootfs') })]);
    expect(own).toEqual([expect.objectContaining({ event: 'rootfs-mounted', rootfs: join(dir, 'state', 'overlays', 'b', 'rootfs') })]);
  });
});
