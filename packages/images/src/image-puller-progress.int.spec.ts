import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeIf } from '@arbor/testkit';
import type { ImagePullProgress } from '@arbor/core';
import Dockerode from 'dockerode';
import { digestHex } from './digest';
import { ImagePuller } from './image-puller';
import { LayerStore } from './layer-store';
import { LocalRegistry } from './testing/local-registry';
import { buildTestImage, removeTestImages } from './testing/test-image';

const run = promisify(execFile);

// Integration: the progress a real pull from a loopback registry reports (what PullImage
// streams). Needs root, a Docker engine on /var/run/docker.sock, docker-registry and skopeo.
describeIf({ root: true, docker: true })('ImagePuller progress from a loopback registry', () => {
  jest.setTimeout(120_000);
  const docker = new Dockerode();
  const tag = `arbor-test/progress:${process.pid}`;
  const registry = new LocalRegistry();
  let work: string;
  let store: LayerStore;
  let puller: ImagePuller;
  let layerSizes: Map<string, number>;

  const uri = (): string => `docker://${registry.host}/${tag.replace(':', '#')}`;
  const visible = (diffId: string): boolean => existsSync(join(store.root, 'layers/sha256', digestHex(diffId)));

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'arbor-progress-int-'));
    await buildTestImage(docker, tag);
    await registry.start();
    await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${tag}`, `docker://${registry.host}/${tag}`]);
    store = new LayerStore({ stateDir: join(work, 'state') });
    await store.init();
    puller = new ImagePuller({ store, docker, platform: { os: 'linux', architecture: 'amd64' } });
    const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/${tag}`]);
    const manifest = JSON.parse(stdout) as { layers: Array<{ size: number }> };
    const { stdout: configText } = await run('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', `docker://${registry.host}/${tag}`]);
    const diffIds = (JSON.parse(configText) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
    layerSizes = new Map(diffIds.map((id, i) => [id, manifest.layers[i]?.size ?? -1]));
  });

  afterAll(async () => {
    await registry.stop();
    await removeTestImages(docker, (t) => t === tag);
    await rm(work, { recursive: true, force: true });
  });

  it('reports resolving, each layer waiting, downloading up to its size and unpacked (not yet visible), one commit, then done', async () => {
    const events: Array<ImagePullProgress & { visible: boolean }> = [];
    const pulled = await puller.pull({ uri: uri() }, { onPullProgress: (p) => events.push({ ...p, visible: p.layer !== '' && visible(p.layer) }) });

    expect(events[0]?.phase).toBe('resolving');
    expect(events.slice(1, 5).map((p) => [p.phase, p.layer, p.bytesTotal])).toEqual([...layerSizes].map(([id, size]) => ['waiting', id, size]));
    for (const [layer, size] of layerSizes) {
      const mine = events.filter((p) => p.layer === layer);
      const downloads = mine.filter((p) => p.phase === 'downloading').map((p) => p.bytesDone);
      expect(downloads.length).toBeGreaterThan(0);
      expect(downloads).toEqual([...downloads].sort((a, b) => a - b));
      expect(downloads.at(-1)).toBe(size);
      // verified and unpacked, but not in the store until the commit's flush and rename
      expect(mine.at(-1)).toMatchObject({ phase: 'unpacked', bytesDone: size, bytesTotal: size, visible: false });
    }
    const committing = events.findIndex((p) => p.phase === 'committing');
    expect(events.filter((p) => p.phase === 'committing')).toHaveLength(1);
    expect(events.slice(committing + 1).map((p) => p.phase)).toEqual(['done']);
    expect(events.map((p) => p.phase).lastIndexOf('unpacked')).toBeLessThan(committing);
    expect(events.at(-1)?.image).toEqual({
      id: pulled.id,
      layers: 4,
      env: ['PATH=/bin', 'GREETING=hello'],
      user: '',
      workingDir: '/data',
      entrypoint: ['/bin/busybox'],
      cmd: ['cat', '/data/hello'],
    });
    for (const layer of layerSizes.keys()) expect(visible(layer)).toBe(true);
  });

  it('reports every layer as already stored on a second pull, with nothing to download or commit', async () => {
    const events: ImagePullProgress[] = [];
    await puller.pull({ uri: uri() }, { onPullProgress: (p) => events.push(p) });
    expect(events.map((p) => p.phase)).toEqual(['resolving', 'exists', 'exists', 'exists', 'exists', 'done']);
    expect(events.filter((p) => p.phase === 'exists').map((p) => [p.layer, p.bytesDone, p.bytesTotal])).toEqual(
      [...layerSizes].map(([id, size]) => [id, size, size]),
    );
  });
});
