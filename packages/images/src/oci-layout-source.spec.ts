import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ArborError, InvalidArgumentError } from '@arbor/core';
import { digestHex, sha256Of } from './digest';
import { DigestMismatchError } from './digest-mismatch-error';
import { ImagePuller } from './image-puller';
import { LayerStore } from './layer-store';
import { MEDIA_TYPES } from './manifest';
import { makeTar } from './testing/make-tar';
import { RecordingSpecialFiles } from './testing/recording-special-files';

describe('oci layout images', () => {
  let work: string;
  let layout: string;
  let puller: ImagePuller;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'arbor-oci-'));
    layout = join(work, 'layout');
    await mkdir(join(layout, 'blobs/sha256'), { recursive: true });
    const store = new LayerStore({ stateDir: join(work, 'state'), specialFiles: new RecordingSpecialFiles() });
    await store.init();
    puller = new ImagePuller({ store, platform: { os: 'linux', architecture: 'amd64' } });
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function blob(bytes: Buffer): Promise<{ digest: string; size: number }> {
    const digest = sha256Of(bytes);
    await writeFile(join(layout, 'blobs/sha256', digestHex(digest)), bytes);
    return { digest, size: bytes.length };
  }

  async function manifestFor(arch: string): Promise<{ digest: string; size: number }> {
    const tar = await makeTar([{ name: 'arch', content: arch }]);
    const layer = await blob(gzipSync(tar));
    const config = await blob(Buffer.from(JSON.stringify({ config: { WorkingDir: `/${arch}` }, rootfs: { type: 'layers', diff_ids: [sha256Of(tar)] } })));
    return blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA_TYPES.ociManifest,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
        }),
      ),
    );
  }

  /** writeLayout tags a multi-platform index 'multi' and a plain amd64 manifest 'plain'. */
  async function writeLayout(): Promise<void> {
    const arm = await manifestFor('arm64');
    const amd = await manifestFor('amd64');
    const index = await blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA_TYPES.ociIndex,
          manifests: [
            { mediaType: MEDIA_TYPES.ociManifest, ...arm, platform: { os: 'linux', architecture: 'arm64' } },
            { mediaType: MEDIA_TYPES.ociManifest, ...amd, platform: { os: 'linux', architecture: 'amd64' } },
          ],
        }),
      ),
    );
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          { mediaType: MEDIA_TYPES.ociIndex, ...index, annotations: { 'org.opencontainers.image.ref.name': 'multi' } },
          { mediaType: MEDIA_TYPES.ociManifest, ...amd, annotations: { 'org.opencontainers.image.ref.name': 'plain' } },
        ],
      }),
    );
    await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  }

  it('follows a tagged index to the linux/amd64 manifest', async () => {
    await writeLayout();
    const image = await puller.pull({ uri: `oci://${layout}#multi` });
    expect(await readFile(join(image.layerDirs[0] ?? '', 'arch'), 'utf8')).toBe('amd64');
    expect(image.defaults.workingDir).toBe('/amd64');
    const plain = await puller.pull({ uri: `oci://${layout}#plain` });
    expect(plain.id).toBe(image.id);
  });

  it('names the tags it has when the tag is missing or not given', async () => {
    await writeLayout();
    await expect(puller.pull({ uri: `oci://${layout}#nope` })).rejects.toThrow(/no image tagged 'nope' \(it has: multi, plain\)/);
    await expect(puller.pull({ uri: `oci://${layout}` })).rejects.toThrow(InvalidArgumentError);
  });

  it('refuses a manifest blob that does not match its digest', async () => {
    await writeLayout();
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const plain = index.manifests[1]?.digest ?? '';
    const path = join(layout, 'blobs/sha256', digestHex(plain));
    const bytes = await readFile(path);
    await writeFile(path, Buffer.from(bytes.toString('utf8').replace('"schemaVersion":2', '"schemaVersion":2 ')).subarray(0, bytes.length));
    await expect(puller.pull({ uri: `oci://${layout}#plain` })).rejects.toThrow(DigestMismatchError);
  });

  it('refuses an index.json over 4 MiB before reading it whole', async () => {
    await writeLayout();
    const index = await readFile(join(layout, 'index.json'), 'utf8');
    await writeFile(join(layout, 'index.json'), index + ' '.repeat(4 * 1024 * 1024));
    const err = await puller.pull({ uri: `oci://${layout}#plain` }).catch((e: unknown) => e);
    expect(ArborError.is(err) && err.kind).toBe('invalidArgument');
    expect((err as Error).message).toMatch(/index.json is larger than 4194304 bytes/);
  });

  it('refuses a config its manifest says is over 4 MiB', async () => {
    const tar = await makeTar([{ name: 'a', content: 'a' }]);
    const layer = await blob(tar);
    const config = await blob(Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha256Of(tar)] } }) + ' '.repeat(5 * 1024 * 1024)));
    const manifest = await blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA_TYPES.ociManifest,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
        }),
      ),
    );
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: MEDIA_TYPES.ociManifest, ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'big' } }],
      }),
    );
    await expect(puller.pull({ uri: `oci://${layout}#big` })).rejects.toThrow(/config is larger than 4194304 bytes/);
  });

  it('refuses an index.json that is JSON but not an object as invalidArgument', async () => {
    await writeFile(join(layout, 'index.json'), 'null');
    const err = await puller.pull({ uri: `oci://${layout}#x` }).catch((e: unknown) => e);
    expect(ArborError.is(err) && err.kind).toBe('invalidArgument');
  });

  it('says when the directory is not a layout', async () => {
    await expect(puller.pull({ uri: `oci://${work}/none#x` })).rejects.toThrow(/is not an OCI layout/);
  });
});
