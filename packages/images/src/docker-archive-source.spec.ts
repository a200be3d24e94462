import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArborError, InvalidArgumentError } from '@arbor/core';
import { digestHex, sha256Of } from './digest';
import { DigestMismatchError } from './digest-mismatch-error';
import { ImagePuller } from './image-puller';
import { LayerStore } from './layer-store';
import { makeTar, type TarEntry } from './testing/make-tar';
import { RecordingSpecialFiles } from './testing/recording-special-files';

describe('docker-archive images', () => {
  let work: string;
  let puller: ImagePuller;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'arbor-archive-'));
    const store = new LayerStore({ stateDir: join(work, 'state'), specialFiles: new RecordingSpecialFiles() });
    await store.init();
    puller = new ImagePuller({ store });
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /** archive writes a `docker save` tar in the newer layout: blobs/sha256 plus '<id>/layer.tar' symlinks. */
  async function archive(
    options: { tamperConfig?: boolean; tags?: string[]; fields?: object; padConfig?: number; manifestJson?: string } = {},
  ): Promise<{ path: string; layer: Buffer }> {
    const layer = await makeTar([
      { name: 'etc/os-release', content: 'ID=arbor\n' },
      { name: 'bin/tool', content: 'x'.repeat(3000), mode: 0o755 },
    ]);
    const config = Buffer.from(
      JSON.stringify({ config: options.fields ?? { Env: ['A=1'], Cmd: ['/bin/tool'] }, rootfs: { type: 'layers', diff_ids: [sha256Of(layer)] } }) +
        ' '.repeat(options.padConfig ?? 0),
    );
    const configHex = digestHex(sha256Of(config));
    const layerHex = digestHex(sha256Of(layer));
    const entries: TarEntry[] = [
      { name: 'blobs/', type: 'directory' },
      { name: 'blobs/sha256/', type: 'directory' },
      { name: `blobs/sha256/${configHex}`, content: options.tamperConfig ? Buffer.concat([config, Buffer.from(' ')]) : config },
      { name: `blobs/sha256/${layerHex}`, content: layer },
      { name: 'abc123/', type: 'directory' },
      { name: 'abc123/layer.tar', type: 'symlink', linkname: `../blobs/sha256/${layerHex}` },
      {
        name: 'manifest.json',
        content:
          options.manifestJson ??
          JSON.stringify([{ Config: `blobs/sha256/${configHex}`, RepoTags: options.tags ?? ['arbor/app:v1'], Layers: ['abc123/layer.tar'] }]),
      },
    ];
    const path = join(work, 'image.tar');
    await writeFile(path, await makeTar(entries));
    return { path, layer };
  }

  it("reads layers through the archive's symlinks and verifies them", async () => {
    const { path, layer } = await archive();
    const image = await puller.pull({ uri: `docker-archive://${path}` });
    expect(image.diffIds).toEqual([sha256Of(layer)]);
    expect(await readFile(join(image.layerDirs[0] ?? '', 'etc/os-release'), 'utf8')).toBe('ID=arbor\n');
    expect(image.defaults.env).toEqual(['A=1']);
    expect(image.defaults.cmd).toEqual(['/bin/tool']);
  });

  it('picks an image by tag and says when the tag is not there', async () => {
    const { path } = await archive({ tags: ['arbor/app:v1', 'arbor/app:latest'] });
    await expect(puller.pull({ uri: `docker-archive://${path}#arbor/app:v1` })).resolves.toBeDefined();
    await expect(puller.pull({ uri: `docker-archive://${path}#arbor/app` })).resolves.toBeDefined();
    await expect(puller.pull({ uri: `docker-archive://${path}#other:v2` })).rejects.toThrow(/no image tagged 'other:v2'/);
  });

  it('refuses a config that does not hash to its name', async () => {
    const { path } = await archive({ tamperConfig: true });
    await expect(puller.pull({ uri: `docker-archive://${path}` })).rejects.toThrow(DigestMismatchError);
  });

  it('refuses an image whose config Env holds a NUL, naming the image and field', async () => {
    const { path } = await archive({ fields: { Env: ['X=1\u0000--privileged'] } });
    const err = await puller.pull({ uri: `docker-archive://${path}` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/^image: "docker-archive:\/\/.*\/image.tar" config Env\[0\]: .*contains a NUL character$/);
  });

  it('refuses a config over 4 MiB', async () => {
    const { path } = await archive({ padConfig: 4 * 1024 * 1024 });
    await expect(puller.pull({ uri: `docker-archive://${path}` })).rejects.toThrow(/is larger than 4194304 bytes/);
  });

  it.each([
    ['not JSON', '[{"Config": '],
    ['not a list of entries', '[null]'],
    ['an entry without Layers', '[{"Config": "x.json"}]'],
  ])('refuses a manifest.json that is %s as invalidArgument, not internal', async (_what, manifestJson) => {
    const { path } = await archive({ manifestJson });
    const err = await puller.pull({ uri: `docker-archive://${path}` }).catch((e: unknown) => e);
    expect(ArborError.is(err) && err.kind).toBe('invalidArgument');
    expect((err as Error).message).toMatch(/manifest.json/);
  });

  it('says clearly when the file is missing or not an archive', async () => {
    await expect(puller.pull({ uri: `docker-archive://${work}/missing.tar` })).rejects.toThrow(InvalidArgumentError);
    const notImage = join(work, 'plain.tar');
    await writeFile(notImage, await makeTar([{ name: 'hello', content: 'hi' }]));
    await expect(puller.pull({ uri: `docker-archive://${notImage}` })).rejects.toThrow(/not a docker save archive/);
  });
});
