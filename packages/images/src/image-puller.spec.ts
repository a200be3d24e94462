import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ArborError, InvalidArgumentError, PermissionDeniedError, ResourceExhaustedError } from '@arbor/core';
import { sha256Of } from './digest';
import { DigestMismatchError } from './digest-mismatch-error';
import { ImagePuller } from './image-puller';
import { LayerStore, type LayerProgress } from './layer-store';
import { MEDIA_TYPES } from './manifest';
import { FakeRegistry, type FakeRegistryOptions } from './testing/fake-registry';
import { gzipBomb } from './testing/gzip-bomb';
import { makeTar } from './testing/make-tar';
import { RecordingSpecialFiles } from './testing/recording-special-files';

/** pushImage puts a one-layer image for each architecture behind an OCI index tagged 'v1'. */
async function pushImage(registry: FakeRegistry): Promise<void> {
  const manifestFor = async (arch: string): Promise<{ digest: string; size: number }> => {
    const tar = await makeTar([{ name: 'arch', content: arch }]);
    const gz = gzipSync(tar);
    const config = Buffer.from(
      JSON.stringify({
        architecture: arch,
        os: 'linux',
        config: { Env: ['PATH=/bin', `ARCH=${arch}`], WorkingDir: '/srv', Entrypoint: ['/bin/app'], Cmd: ['--serve'], User: '1000' },
        rootfs: { type: 'layers', diff_ids: [sha256Of(tar)] },
      }),
    );
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: registry.addBlob(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: registry.addBlob(gz), size: gz.length }],
    };
    const digest = registry.addManifest(manifest, MEDIA_TYPES.ociManifest);
    return { digest, size: JSON.stringify(manifest).length };
  };
  const arm = await manifestFor('arm64');
  const amd = await manifestFor('amd64');
  registry.addManifest(
    {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [
        { mediaType: MEDIA_TYPES.ociManifest, ...arm, platform: { os: 'linux', architecture: 'arm64' } },
        { mediaType: MEDIA_TYPES.ociManifest, ...amd, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    },
    MEDIA_TYPES.ociIndex,
    ['v1'],
  );
}

/** pushOne puts a one-layer image tagged 'one' with these config fields; configSize overrides the size its descriptor gives. */
function pushOne(registry: FakeRegistry, fields: object, layer: { gz: Buffer; diffId: string }, configSize?: number): void {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: fields, rootfs: { type: 'layers', diff_ids: [layer.diffId] } }));
  registry.addManifest(
    {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: registry.addBlob(config), size: configSize ?? config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: registry.addBlob(layer.gz), size: layer.gz.length }],
    },
    MEDIA_TYPES.ociManifest,
    ['one'],
  );
}

describe('ImagePuller from a registry', () => {
  let stateDir: string;
  let store: LayerStore;
  let puller: ImagePuller;
  let registry: FakeRegistry | undefined;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-puller-'));
    store = new LayerStore({ stateDir, specialFiles: new RecordingSpecialFiles() });
    await store.init();
    puller = new ImagePuller({ store, platform: { os: 'linux', architecture: 'amd64' } });
  });

  afterEach(async () => {
    await registry?.stop();
    registry = undefined;
    await rm(stateDir, { recursive: true, force: true });
  });

  async function startRegistry(options: FakeRegistryOptions): Promise<FakeRegistry> {
    registry = new FakeRegistry(options);
    await registry.start();
    await pushImage(registry);
    return registry;
  }

  it('gets a token with the username and password, picks linux/amd64 and returns the config', async () => {
    const reg = await startRegistry({ auth: 'bearer', username: 'ci', password: 's3cret' });
    const progress: LayerProgress[] = [];
    const image = await puller.pull({ uri: `docker://${reg.host}/arbor/app#v1`, username: 'ci', password: 's3cret' }, { onProgress: (p) => progress.push(p) });
    expect(image.layerDirs).toHaveLength(1);
    expect(await readFile(join(image.layerDirs[0] ?? '', 'arch'), 'utf8')).toBe('amd64');
    expect(image.defaults).toEqual({
      env: ['PATH=/bin', 'ARCH=amd64'],
      user: '1000',
      workingDir: '/srv',
      entrypoint: ['/bin/app'],
      cmd: ['--serve'],
    });
    expect(reg.tokenRequests).toBe(1);
    expect(progress.at(-1)?.done).toBe(true);
  });

  it('downloads no blob the second time', async () => {
    const reg = await startRegistry({ auth: 'none' });
    const first = await puller.pull({ uri: `docker://${reg.host}/arbor/app#v1` });
    const blobsAfterFirst = reg.blobRequests;
    expect(blobsAfterFirst).toBe(2); // config and the layer
    const second = await puller.pull({ uri: `docker://${reg.host}/arbor/app#v1` });
    expect(second).toEqual(first);
    expect(reg.blobRequests).toBe(blobsAfterFirst);
  });

  it('uses basic auth and says when the password is wrong', async () => {
    const reg = await startRegistry({ auth: 'basic', username: 'ci', password: 'right' });
    await expect(puller.pull({ uri: `docker://${reg.host}/arbor/app#v1`, username: 'ci', password: 'right' })).resolves.toBeDefined();
    await expect(puller.pull({ uri: `docker://${reg.host}/arbor/app#v1`, username: 'ci', password: 'wrong' })).rejects.toThrow(PermissionDeniedError);
    await expect(puller.pull({ uri: `docker://${reg.host}/arbor/app#v1` })).rejects.toThrow(/needs a username and password/);
  });

  it('says which tag is missing', async () => {
    const reg = await startRegistry({ auth: 'none' });
    const err = await puller.pull({ uri: `docker://${reg.host}/arbor/app#nope` }).catch((e: unknown) => e);
    expect(ArborError.is(err) && err.kind).toBe('notFound');
    expect((err as Error).message).toMatch(/manifests\/nope: not found/);
  });

  it('refuses a layer whose bytes are not what the manifest says, keeping nothing', async () => {
    const reg = await startRegistry({ auth: 'none' });
    for (const [digest, blob] of reg.blobs) {
      if (blob[0] === 0x1f) {
        const flipped = Buffer.from(blob);
        const at = flipped.length - 10;
        flipped.writeUInt8(flipped.readUInt8(at) ^ 1, at);
        reg.blobs.set(digest, flipped);
      }
    }
    await expect(puller.pull({ uri: `docker://${reg.host}/arbor/app#v1` })).rejects.toThrow(DigestMismatchError);
    expect(await store.references()).toEqual([]);
  });

  /** stored lists what the store holds: layers, blobs and references. */
  async function stored(): Promise<string[]> {
    const dirs = ['layers/sha256', 'blobs/sha256', 'refs'];
    return (await Promise.all(dirs.map((d) => readdir(join(store.root, d))))).flat();
  }

  it.each([
    ['Env', { Env: ['PATH=/bin', 'X=1\u0000--privileged'] }, /config Env\[1\]: .*contains a NUL character/],
    ['User', { User: '0\u0000--privileged' }, /config User: .*contains a NUL character/],
    ['WorkingDir', { WorkingDir: '/\u0000--privileged' }, /config WorkingDir: .*contains a NUL character/],
    ['Cmd', { Cmd: ['a\u0000b'] }, /config Cmd\[0\]/],
    ['Entrypoint', { Entrypoint: ['/bin/sh', '\u0000'] }, /config Entrypoint\[1\]/],
  ])('refuses an image whose config %s is hostile, storing nothing', async (_field, fields, message) => {
    const reg = await startRegistry({ auth: 'none' });
    const tar = await makeTar([{ name: 'hello', content: 'hi' }]);
    pushOne(reg, fields, { gz: gzipSync(tar), diffId: sha256Of(tar) });
    const uri = `docker://${reg.host}/arbor/app#one`;
    const err = await puller.pull({ uri }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(JSON.stringify(uri));
    expect(await stored()).toEqual([]);
  });

  it('refuses a config its manifest says is over 4 MiB without fetching it', async () => {
    const reg = await startRegistry({ auth: 'none' });
    const tar = await makeTar([{ name: 'hello', content: 'hi' }]);
    pushOne(reg, {}, { gz: gzipSync(tar), diffId: sha256Of(tar) }, 5 * 1024 * 1024);
    const err = await puller.pull({ uri: `docker://${reg.host}/arbor/app#one` }).catch((e: unknown) => e);
    expect(ArborError.is(err) && err.kind).toBe('invalidArgument');
    expect((err as Error).message).toMatch(/config is larger than 4194304 bytes/);
    expect(reg.blobRequests).toBe(0);
  });

  it('refuses a gzip bomb layer past maxUnpackedBytes, keeping no layer and no reference', async () => {
    const reg = await startRegistry({ auth: 'none' });
    const bomb = await gzipBomb(64 * 1024 * 1024);
    pushOne(reg, { Env: ['PATH=/bin'] }, bomb);
    const small = new LayerStore({ stateDir, specialFiles: new RecordingSpecialFiles(), maxUnpackedBytes: 1024 * 1024 });
    await small.init();
    const err = await new ImagePuller({ store: small }).pull({ uri: `docker://${reg.host}/arbor/app#one` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    expect((err as Error).message).toMatch(new RegExp(`layer ${bomb.blobDigest} unpacks past the limit of 1048576 bytes`));
    expect(await readdir(join(small.root, 'layers/sha256'))).toEqual([]);
    expect(await readdir(join(small.root, 'tmp'))).toEqual([]);
    expect(await small.references()).toEqual([]);
  });

  it('refuses a missing raw directory', async () => {
    await expect(puller.pull({ uri: 'raw:///nonexistent/dir' })).rejects.toThrow(InvalidArgumentError);
    const raw = await puller.pull({ uri: `raw://${stateDir}` });
    expect(raw.layerDirs).toEqual([stateDir]);
  });
});
