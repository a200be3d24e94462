import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { describeIf } from '@arbor/testkit';
import Dockerode from 'dockerode';
import { DigestMismatchError } from './digest-mismatch-error';
import { ImagePuller, type PulledImage } from './image-puller';
import { LayerStore, type LayerProgress } from './layer-store';
import { CountingProxy, LocalRegistry } from './testing/local-registry';
import { buildTestImage, removeTestImages } from './testing/test-image';

const run = promisify(execFile);

// Integration: needs root (mknod, trusted xattrs, overlay mounts), a Docker engine on
// /var/run/docker.sock, and docker-registry, skopeo and setfattr on PATH.
describeIf({ root: true, docker: true })('ImagePuller against Docker and a real registry', () => {
  jest.setTimeout(120_000);
  const docker = new Dockerode();
  const tag = `arbor-test/images:${process.pid}`;
  const registry = new LocalRegistry();
  let proxy: CountingProxy;
  let work: string;
  let stateCount = 0;

  async function newStore(): Promise<{ store: LayerStore; puller: ImagePuller }> {
    stateCount += 1;
    const store = new LayerStore({ stateDir: join(work, `state-${stateCount}`) });
    await store.init();
    return { store, puller: new ImagePuller({ store, docker, platform: { os: 'linux', architecture: 'amd64' } }) };
  }

  const registryUri = (): string => `docker://${proxy.host}/${tag.replace(':', '#')}`;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'arbor-images-int-'));
    await buildTestImage(docker, tag);
    await registry.start();
    proxy = new CountingProxy(registry.host);
    await proxy.start();
    await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${tag}`, `docker://${registry.host}/${tag}`]);
  });

  afterAll(async () => {
    await proxy?.stop();
    await registry.stop();
    await removeTestImages(docker, (t) => t === tag);
    await rm(work, { recursive: true, force: true });
  });

  async function expectTestImage(image: PulledImage): Promise<void> {
    expect(image.layerDirs).toHaveLength(4);
    expect(image.defaults).toEqual({
      env: ['PATH=/bin', 'GREETING=hello'],
      user: '',
      workingDir: '/data',
      entrypoint: ['/bin/busybox'],
      cmd: ['cat', '/data/hello'],
    });
    // bottom layer: busybox; top layer: /data/hello
    expect((await lstat(join(image.layerDirs[3] ?? '', 'bin/busybox'))).size).toBe((await lstat('/bin/busybox')).size);
    expect(await readFile(join(image.layerDirs[0] ?? '', 'data/hello'), 'utf8')).toBe('hello from arbor\n');
  }

  it('pulls through docker://127.0.0.1:PORT with whiteouts and an opaque dir that overlayfs honours', async () => {
    const { puller } = await newStore();
    const progress: LayerProgress[] = [];
    const image = await puller.pull({ uri: registryUri() }, { onProgress: (p) => progress.push(p) });
    await expectTestImage(image);
    const deleting = image.layerDirs[1] ?? '';
    const whiteout = await lstat(join(deleting, 'etc/doomed'));
    expect(whiteout.isCharacterDevice()).toBe(true);
    expect(whiteout.rdev).toBe(0);
    const { stdout } = await run('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(deleting, 'data/cache')]);
    expect(stdout).toBe('y');
    expect(progress.filter((p) => p.done)).toHaveLength(4);

    const merged = join(work, 'merged');
    await mkdir(merged, { recursive: true });
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${image.layerDirs.join(':')}`, merged]);
    try {
      expect((await readdir(join(merged, 'etc'))).sort()).toEqual(['kept']);
      expect(await readdir(join(merged, 'data/cache'))).toEqual(['new']);
      const { stdout: hello } = await run('chroot', [merged, '/bin/busybox', 'cat', '/data/hello']);
      expect(hello).toBe('hello from arbor\n');
    } finally {
      await run('umount', [merged]);
    }
  });

  it('downloads no blob on a second pull, and one download for two pulls at once', async () => {
    const { puller, store } = await newStore();
    const before = proxy.blobRequests;
    const [a, b] = await Promise.all([puller.pull({ uri: registryUri() }), puller.pull({ uri: registryUri() })]);
    expect(a.layerDirs).toEqual(b.layerDirs);
    // Each of the 4 layers once; the config at most once per pull.
    expect(proxy.blobRequests - before).toBeLessThanOrEqual(6);
    expect(store.stats.layersUnpacked).toBe(4);
    const afterFirst = proxy.blobRequests;
    const again = await puller.pull({ uri: registryUri() });
    expect(again).toEqual(a);
    expect(proxy.blobRequests).toBe(afterFirst);
  });

  it('refuses a layer a proxy tampered with, and keeps nothing of it', async () => {
    const { puller, store } = await newStore();
    proxy.tamper = true;
    let err: unknown;
    try {
      err = await puller.pull({ uri: registryUri() }).catch((e: unknown) => e);
    } finally {
      proxy.tamper = false;
    }
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as DigestMismatchError).what).toMatch(/^layer sha256:/);
    expect(await readdir(join(store.root, 'tmp'))).toEqual([]);
    expect(await store.references()).toEqual([]);
    // The busybox layer (the one tampered with) is not in the store; a clean pull then works.
    const clean = await puller.pull({ uri: registryUri() });
    const busyboxLayer = clean.diffIds[0] ?? '';
    expect(await store.hasLayer(busyboxLayer)).toBe(true);
  });

  it('reads the same image from docker save, an OCI layout and the Docker engine', async () => {
    const { puller: registryPuller } = await newStore();
    const fromRegistry = await registryPuller.pull({ uri: registryUri() });

    const archive = join(work, 'image.tar');
    const exported = (await docker.getImage(tag).get()) as unknown as Readable;
    await pipeline(exported, createWriteStream(archive));
    const { puller: archivePuller } = await newStore();
    const fromArchive = await archivePuller.pull({ uri: `docker-archive://${archive}` });
    await expectTestImage(fromArchive);
    expect(fromArchive.diffIds).toEqual(fromRegistry.diffIds);

    const layout = join(work, 'layout');
    await run('skopeo', ['copy', '--quiet', `docker-daemon:${tag}`, `oci:${layout}:v1`]);
    const { puller: ociPuller } = await newStore();
    const fromLayout = await ociPuller.pull({ uri: `oci://${layout}#v1` });
    await expectTestImage(fromLayout);
    expect(fromLayout.diffIds).toEqual(fromRegistry.diffIds);

    const { puller: daemonPuller, store: daemonStore } = await newStore();
    // The first pull exports the image; with every layer stored, the second needs only inspect.
    const exports = jest.spyOn(Object.getPrototypeOf(docker.getImage(tag)) as { get: () => unknown }, 'get');
    try {
      const fromDaemon = await daemonPuller.pull({ uri: `docker-daemon:${tag}` });
      await expectTestImage(fromDaemon);
      expect(fromDaemon.id).toBe(fromRegistry.id);
      expect(exports).toHaveBeenCalledTimes(1);
      const again = await daemonPuller.pull({ uri: `docker-daemon:${tag}` });
      expect(again).toEqual(fromDaemon);
      expect(exports).toHaveBeenCalledTimes(1);
    } finally {
      exports.mockRestore();
    }
    expect(daemonStore.stats.layersUnpacked).toBe(4);
  });

  it('gc removes the layers once no image or container holds them', async () => {
    const { puller, store } = await newStore();
    const image = await puller.pull({ uri: registryUri() }, { owner: 'container:web-1' });
    expect((await store.gc({ dropImages: true })).removedLayers).toEqual([]);
    await store.removeReference('container:web-1');
    const result = await store.gc();
    expect(result.removedLayers.sort()).toEqual([...image.diffIds].sort());
    expect(result.freedBytes).toBeGreaterThan(1_000_000);
    expect(await readdir(join(store.root, 'layers/sha256'))).toEqual([]);
  });
});
