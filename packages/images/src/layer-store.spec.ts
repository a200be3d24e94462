import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { InvalidTarError, ResourceExhaustedError } from '@arbor/core';
import { sha256Of } from './digest';
import { DigestMismatchError } from './digest-mismatch-error';
import { LayerStore, type LayerProgress } from './layer-store';
import { gzipBomb } from './testing/gzip-bomb';
import { makeTar } from './testing/make-tar';
import { RecordingSpecialFiles } from './testing/recording-special-files';

describe('LayerStore', () => {
  let stateDir: string;
  let store: LayerStore;
  let tar: Buffer;
  let gz: Buffer;

  beforeAll(async () => {
    tar = await makeTar([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/tool', content: Buffer.alloc(100_000, 7), mode: 0o755 },
    ]);
    gz = gzipSync(tar);
  });

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-store-'));
    store = new LayerStore({ stateDir, specialFiles: new RecordingSpecialFiles() });
    await store.init();
  });

  afterEach(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  const opener = (bytes: Buffer) => {
    const calls = { count: 0 };
    const open = async (): Promise<Readable> => {
      calls.count += 1;
      // small chunks, as from a network
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += 8192) chunks.push(bytes.subarray(i, i + 8192));
      return Readable.from(chunks);
    };
    return { open, calls };
  };

  async function leftovers(): Promise<string[]> {
    return [...(await readdir(join(store.root, 'layers/sha256'))), ...(await readdir(join(store.root, 'tmp')))];
  }

  it('unpacks a gzip layer once, verified, and tells its progress', async () => {
    const { open, calls } = opener(gz);
    const progress: LayerProgress[] = [];
    const emitted: LayerProgress[] = [];
    store.on('progress', (p: LayerProgress) => emitted.push(p));
    const dir = await store.ensureLayer({ diffId: sha256Of(tar), blobDigest: sha256Of(gz), size: gz.length }, open, (p) => progress.push(p));
    expect(dir).toBe(store.layerDir(sha256Of(tar)));
    expect((await readFile(join(dir, 'bin/tool'))).length).toBe(100_000);
    expect(progress.at(-1)).toEqual({ diffId: sha256Of(tar), phase: 'stored', bytesDone: gz.length, bytesTotal: gz.length, done: true });
    expect(progress.at(-2)).toEqual({ diffId: sha256Of(tar), phase: 'unpacked', bytesDone: gz.length, bytesTotal: gz.length, done: false });
    expect(progress.filter((p) => p.phase === 'downloading').map((p) => p.bytesDone)).toEqual(
      [...progress.filter((p) => p.phase === 'downloading').map((p) => p.bytesDone)].sort((a, b) => a - b),
    );
    expect(emitted).toEqual(progress);
    expect(await store.diffIdOfBlob(sha256Of(gz))).toBe(sha256Of(tar));

    await store.ensureLayer({ diffId: sha256Of(tar), blobDigest: sha256Of(gz) }, open);
    expect(calls.count).toBe(1);
  });

  it('unpacks an uncompressed layer', async () => {
    const dir = await store.ensureLayer({ diffId: sha256Of(tar) }, opener(tar).open);
    expect((await readFile(join(dir, 'bin/tool'))).length).toBe(100_000);
  });

  it('shares one download between two pulls of the same layer at once', async () => {
    const { open, calls } = opener(gz);
    const layer = { diffId: sha256Of(tar), blobDigest: sha256Of(gz) };
    const [a, b] = await Promise.all([store.ensureLayer(layer, open), store.ensureLayer(layer, open)]);
    expect(a).toBe(b);
    expect(calls.count).toBe(1);
  });

  it('keeps one copy when two stores on one directory unpack the same layer at once', async () => {
    const other = new LayerStore({ stateDir, specialFiles: new RecordingSpecialFiles() });
    const layer = { diffId: sha256Of(tar), blobDigest: sha256Of(gz) };
    const [a, b] = await Promise.all([store.ensureLayer(layer, opener(gz).open), other.ensureLayer(layer, opener(gz).open)]);
    expect(a).toBe(b);
    expect((await readFile(join(a, 'bin/tool'))).length).toBe(100_000);
    expect(await leftovers()).toEqual([sha256Of(tar).slice('sha256:'.length)]);
  });

  it('refuses a blob whose digest differs and keeps nothing of it', async () => {
    const tampered = Buffer.from(gz);
    const at = tampered.length - 20;
    tampered.writeUInt8(tampered.readUInt8(at) ^ 0xff, at);
    await expect(store.ensureLayer({ diffId: sha256Of(tar), blobDigest: sha256Of(gz) }, opener(tampered).open)).rejects.toThrow();
    const other = await makeTar([{ name: 'evil', content: 'x' }]);
    const err = await store.ensureLayer({ diffId: sha256Of(tar), blobDigest: sha256Of(gz) }, opener(gzipSync(other)).open).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as DigestMismatchError).expected).toBe(sha256Of(gz));
    expect(await leftovers()).toEqual([]);
    expect(await store.hasLayer(sha256Of(tar))).toBe(false);
  });

  it('refuses an uncompressed stream whose diffID differs', async () => {
    const other = await makeTar([{ name: 'evil', content: 'x' }]);
    await expect(store.ensureLayer({ diffId: sha256Of(tar) }, opener(other).open)).rejects.toThrow(DigestMismatchError);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses a layer that tries to escape, keeping nothing', async () => {
    const evil = await makeTar([{ name: '../../escape', content: 'x' }]);
    await expect(store.ensureLayer({ diffId: sha256Of(evil) }, opener(evil).open)).rejects.toThrow(InvalidTarError);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses a blob longer than its descriptor says', async () => {
    await expect(store.ensureLayer({ diffId: sha256Of(tar), blobDigest: sha256Of(gz), size: gz.length - 1 }, opener(gz).open)).rejects.toThrow(/longer than/);
  });

  it('refuses a gzip bomb once it unpacks past maxUnpackedBytes, keeping nothing and writing no more than that', async () => {
    const limit = 4 * 1024 * 1024;
    const bomb = await gzipBomb(256 * 1024 * 1024);
    expect(bomb.gz.length).toBeLessThan(1024 * 1024);
    const small = new LayerStore({ stateDir, specialFiles: new RecordingSpecialFiles(), maxUnpackedBytes: limit });
    // the biggest the bomb's file grew in tmp/, looked at every few ms
    let biggest = 0;
    const watch = setInterval(() => {
      void readdir(join(small.root, 'tmp')).then(async (dirs) => {
        for (const dir of dirs) {
          const size = await stat(join(small.root, 'tmp', dir, 'diff/zeros')).then(
            (s) => s.size,
            () => 0,
          );
          biggest = Math.max(biggest, size);
        }
      });
    }, 2);
    const err = await small
      .ensureLayer({ diffId: bomb.diffId, blobDigest: bomb.blobDigest, size: bomb.gz.length }, opener(bomb.gz).open)
      .catch((e: unknown) => e)
      .finally(() => clearInterval(watch));
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    expect(err).toMatchObject({ kind: 'resourceExhausted', resource: 'disk' });
    expect((err as Error).message).toBe(`image: layer ${bomb.blobDigest} unpacks past the limit of ${limit} bytes for one image: refused`);
    expect(biggest).toBeLessThanOrEqual(limit);
    expect(await leftovers()).toEqual([]);
    expect(await small.hasLayer(bomb.diffId)).toBe(false);
    expect(small.stats.layersUnpacked).toBe(0);
    // making and unpacking 256 MiB of zeros takes a CPU-second or more on a busy 2-core host
  }, 30_000);

  it('bounds the layers of one image together: each under maxUnpackedBytes, all of them over', async () => {
    const [a, b] = [await gzipBomb(3 * 1024 * 1024), await gzipBomb(3 * 1024 * 1024 + 512)];
    const small = new LayerStore({ stateDir, specialFiles: new RecordingSpecialFiles(), maxUnpackedBytes: 4 * 1024 * 1024 });
    const request = (bomb: typeof a) => ({ layer: { diffId: bomb.diffId, blobDigest: bomb.blobDigest }, open: opener(bomb.gz).open });
    await expect(small.ensureLayers([request(a), request(b)], { concurrency: 1 })).rejects.toThrow(ResourceExhaustedError);
    // one at a time, each fits
    await expect(small.ensureLayers([request(a)])).resolves.toHaveLength(1);
    await expect(small.ensureLayers([request(b)])).resolves.toHaveLength(1);
  });

  it('init clears what a crash left half done and keeps finished layers', async () => {
    await store.ensureLayer({ diffId: sha256Of(tar) }, opener(tar).open);
    await mkdir(join(store.root, 'tmp', 'layer-halfdone', 'diff'), { recursive: true });
    const restarted = new LayerStore({ stateDir, specialFiles: new RecordingSpecialFiles() });
    await restarted.init();
    expect(await readdir(join(store.root, 'tmp'))).toEqual([]);
    expect(await restarted.hasLayer(sha256Of(tar))).toBe(true);
  });

  it('gc removes layers no reference or pin holds', async () => {
    const other = await makeTar([{ name: 'other', content: 'o' }]);
    await store.ensureLayer({ diffId: sha256Of(tar) }, opener(tar).open);
    await store.ensureLayer({ diffId: sha256Of(other) }, opener(other).open);
    await store.addReference({ owner: 'container:web-1', diffIds: [sha256Of(tar)] });
    const release = await store.pin([sha256Of(other)]);
    expect((await store.gc()).removedLayers).toEqual([]);
    release();
    const result = await store.gc();
    expect(result.removedLayers).toEqual([sha256Of(other)]);
    expect(result.freedBytes).toBe(1);
    expect(await store.hasLayer(sha256Of(tar))).toBe(true);
    await store.removeReference('container:web-1');
    await store.gc();
    expect(await store.hasLayer(sha256Of(tar))).toBe(false);
  });

  it('gc with dropImages forgets image references but keeps what containers use', async () => {
    await store.ensureLayer({ diffId: sha256Of(tar) }, opener(tar).open);
    await store.addReference({ owner: 'image:docker://127.0.0.1:5000/app#v1', diffIds: [sha256Of(tar)] });
    expect((await store.gc()).removedLayers).toEqual([]);
    expect((await store.gc({ dropImages: true })).removedLayers).toEqual([sha256Of(tar)]);
    expect(await store.references()).toEqual([]);
  });
});
