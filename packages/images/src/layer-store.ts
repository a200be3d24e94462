import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArborError, type Logger } from '@arbor/core';
import { writeFileAtomically } from '@arbor/depot';
import { DigestMismatchError } from './digest-mismatch-error';
import { digestHex, HashingStream, isSha256Digest, sha256Of, verifyBytes } from './digest';
import { LayerDecoder } from './layer-decoder';
import { LayerExtractor } from './layer-extractor';
import { CommandSpecialFiles, type SpecialFiles } from './special-files';

/** LayerDescriptor says which layer to fetch and what its bytes must hash to. */
export interface LayerDescriptor {
  /** diffId is the digest of the uncompressed tar, as in the image config's rootfs.diff_ids. */
  diffId: string;
  /** blobDigest is the digest of the bytes as fetched (maybe gzip); undefined when the source does not say. */
  blobDigest?: string;
  /** size is the fetched blob's length in bytes, when the source says. */
  size?: number;
}

/** LayerProgress is one progress report while a layer downloads and unpacks. */
export interface LayerProgress {
  diffId: string;
  bytesDone: number;
  /** bytesTotal is -1 when the source does not say how long the layer is. */
  bytesTotal: number;
  done: boolean;
}

/** LayerStoreStats count the work done since the store was made, for tests and metrics. */
export interface LayerStoreStats {
  /** blobBytesRead counts layer bytes read from image sources (registry, archive, layout). */
  blobBytesRead: number;
  layersUnpacked: number;
}

/** Reference says what one owner (an image or a container) keeps alive in the store. */
export interface Reference {
  /** owner is like 'image:docker://127.0.0.1:5000/app#v1' or 'container:<handle>'. */
  owner: string;
  diffIds: string[];
  configDigest?: string;
}

export interface GcResult {
  removedLayers: string[];
  freedBytes: number;
}

export interface LayerStoreOptions {
  /** stateDir is like /var/lib/arbor; the store lives in <stateDir>/images. */
  stateDir: string;
  specialFiles?: SpecialFiles;
  logger?: Logger;
  /** durable flushes a layer's files to disk (`sync -f`) before the layer appears; default true. */
  durable?: boolean;
}

interface InFlight {
  promise: Promise<string>;
  listeners: Set<(progress: LayerProgress) => void>;
}

interface LayerMeta {
  diffId: string;
  blobDigest?: string;
  unpackedBytes: number;
}

export const IMAGE_OWNER_PREFIX = 'image:';

const run = promisify(execFile);

/**
 * LayerStore keeps image layers unpacked, content-addressed and shared between images:
 *   <stateDir>/images/layers/sha256/<diffId hex>/diff   a layer in overlayfs lower form
 *   <stateDir>/images/blobs/sha256/<hex>                 image configs (small, verified)
 *   <stateDir>/images/blob-diffids/sha256/<blob hex>     which layer a fetched blob unpacked to
 *   <stateDir>/images/refs/<owner hash>.json             what an image or container keeps alive
 *   <stateDir>/images/tmp/                               unfinished work, cleared by init()
 * A layer appears by one rename of a finished, verified directory, so a crash or a bad
 * digest leaves nothing behind but tmp/. It emits 'progress' with LayerProgress.
 */
export class LayerStore extends EventEmitter {
  readonly root: string;
  readonly stats: LayerStoreStats = { blobBytesRead: 0, layersUnpacked: 0 };
  private readonly extractor: LayerExtractor;
  private readonly logger: Logger | undefined;
  private readonly inFlight = new Map<string, InFlight>();
  private readonly pins = new Map<string, number>();
  private gcRunning: Promise<unknown> = Promise.resolve();
  private readonly durable: boolean;
  private syncRunning: Promise<void> | undefined;
  private syncQueued: Promise<void> | undefined;

  constructor(options: LayerStoreOptions) {
    super();
    this.root = join(options.stateDir, 'images');
    this.extractor = new LayerExtractor(options.specialFiles ?? new CommandSpecialFiles());
    this.logger = options.logger;
    this.durable = options.durable ?? true;
  }

  /** init makes the store's directories and removes what an earlier crash left in tmp/. */
  async init(): Promise<void> {
    await rm(join(this.root, 'tmp'), { recursive: true, force: true });
    for (const dir of ['layers/sha256', 'blobs/sha256', 'blob-diffids/sha256', 'refs', 'tmp']) {
      await mkdir(join(this.root, dir), { recursive: true });
    }
  }

  /** layerDir is the overlayfs lower dir of a layer, like <root>/layers/sha256/<hex>/diff. */
  layerDir(diffId: string): string {
    return join(this.root, 'layers/sha256', digestHex(diffId), 'diff');
  }

  async hasLayer(diffId: string): Promise<boolean> {
    return exists(join(this.root, 'layers/sha256', digestHex(diffId)));
  }

  /** diffIdOfBlob says which stored layer a fetched blob unpacked to, so it need not be fetched again. */
  async diffIdOfBlob(blobDigest: string): Promise<string | undefined> {
    const text = await readFile(join(this.root, 'blob-diffids/sha256', digestHex(blobDigest)), 'utf8').catch(() => undefined);
    return text !== undefined && isSha256Digest(text) && (await this.hasLayer(text)) ? text : undefined;
  }

  /** readBlob returns a stored config blob, verified, or undefined when it is not (intact) here. */
  async readBlob(digest: string): Promise<Buffer | undefined> {
    const bytes = await readFile(join(this.root, 'blobs/sha256', digestHex(digest))).catch(() => undefined);
    return bytes !== undefined && sha256Of(bytes) === digest ? bytes : undefined;
  }

  /**
   * writeBlob stores a small blob (an image config) under its digest.
   * @throws DigestMismatchError when bytes do not hash to digest.
   */
  async writeBlob(what: string, digest: string, bytes: Buffer): Promise<void> {
    verifyBytes(what, bytes, digest);
    await writeFileAtomically(join(this.root, 'blobs/sha256', digestHex(digest)), bytes, 0o644);
  }

  /**
   * pin keeps layers from gc() until the returned release is called: a pull pins its layers
   * before it looks for them and releases them once a reference holds them.
   */
  async pin(diffIds: readonly string[]): Promise<() => void> {
    await this.gcRunning;
    for (const id of diffIds) this.pins.set(id, (this.pins.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const id of diffIds) {
        const left = (this.pins.get(id) ?? 1) - 1;
        if (left <= 0) this.pins.delete(id);
        else this.pins.set(id, left);
      }
    };
  }

  /**
   * ensureLayer returns the layer's directory, unpacking it from open() unless it is stored
   * already. Two calls for one layer at once share one download.
   * @throws DigestMismatchError when the blob or its uncompressed tar hash to something else.
   * @throws InvalidTarError when the layer's tar is corrupt or tries to leave its directory.
   */
  async ensureLayer(
    layer: LayerDescriptor,
    open: () => Promise<Readable>,
    onProgress?: (progress: LayerProgress) => void,
  ): Promise<string> {
    digestHex(layer.diffId);
    if (layer.blobDigest !== undefined) digestHex(layer.blobDigest);
    const running = this.inFlight.get(layer.diffId);
    if (running !== undefined) {
      if (onProgress) running.listeners.add(onProgress);
      return running.promise;
    }
    const listeners = new Set<(progress: LayerProgress) => void>();
    if (onProgress) listeners.add(onProgress);
    const promise = this.fetchLayer(layer, open, (progress) => {
      for (const listener of listeners) listener(progress);
      this.emit('progress', progress);
    }).finally(() => this.inFlight.delete(layer.diffId));
    this.inFlight.set(layer.diffId, { promise, listeners });
    return promise;
  }

  private async fetchLayer(
    layer: LayerDescriptor,
    open: () => Promise<Readable>,
    report: (progress: LayerProgress) => void,
  ): Promise<string> {
    const hex = digestHex(layer.diffId);
    const final = join(this.root, 'layers/sha256', hex);
    if (await exists(final)) return join(final, 'diff');
    const total = layer.size ?? -1;
    const work = await mkdtemp(join(this.root, 'tmp', `layer-${hex.slice(0, 12)}-`));
    try {
      await mkdir(join(work, 'diff'));
      let lastReport = 0;
      const blobHash = new HashingStream(`layer ${layer.blobDigest ?? layer.diffId}`, layer.size, (bytes) => {
        this.stats.blobBytesRead += bytes - lastReport;
        lastReport = bytes;
        report({ diffId: layer.diffId, bytesDone: bytes, bytesTotal: total, done: false });
      });
      const diffHash = new HashingStream(`uncompressed layer ${layer.diffId}`);
      const decoder = new LayerDecoder(diffHash, `layer ${layer.blobDigest ?? layer.diffId}`);
      const extracting = this.extractor.extract(diffHash, join(work, 'diff'));
      extracting.catch(() => undefined);
      const feeding = open().then((source) => pipeline(source, blobHash, decoder));
      const fed = await feeding.then(
        () => undefined,
        (err: unknown) => {
          diffHash.destroy(err instanceof Error ? err : new Error(String(err)));
          return err;
        },
      );
      const results = await Promise.allSettled([decoder.decoded, extracting]);
      // A blob that is not what its digest says explains any decoding failure: check it first.
      const blobDigest = fed === undefined ? blobHash.digest() : undefined;
      if (blobDigest !== undefined && layer.blobDigest !== undefined && blobDigest !== layer.blobDigest) {
        throw new DigestMismatchError(`layer ${layer.blobDigest}`, layer.blobDigest, blobDigest);
      }
      const failure = fed ?? pickFailure(results);
      if (failure !== undefined || blobDigest === undefined) throw failure;
      const extracted = (results[1] as PromiseFulfilledResult<{ fileBytes: number }>).value;
      if (layer.size !== undefined && blobHash.bytes !== layer.size) {
        throw new ArborError('invalidArgument', `image: layer ${layer.blobDigest ?? layer.diffId} has ${blobHash.bytes} bytes, expected ${layer.size}`);
      }
      const diffId = diffHash.digest();
      if (diffId !== layer.diffId) throw new DigestMismatchError(`uncompressed layer ${layer.diffId}`, layer.diffId, diffId);
      const meta: LayerMeta = { diffId, blobDigest, unpackedBytes: extracted.fileBytes };
      await writeFileAtomically(join(work, 'meta.json'), JSON.stringify(meta), 0o644);
      // The layer's files reach the disk before its name does, so a crash cannot leave a
      // layer that exists with half its files.
      if (this.durable) await this.syncTmp();
      try {
        await rename(work, final);
        this.stats.layersUnpacked += 1;
      } catch (err) {
        // Another process finished the same layer first: keep theirs.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        await rm(work, { recursive: true, force: true });
      }
      await writeFileAtomically(join(this.root, 'blob-diffids/sha256', digestHex(blobDigest)), diffId, 0o644);
      report({ diffId, bytesDone: blobHash.bytes, bytesTotal: total === -1 ? blobHash.bytes : total, done: true });
      this.logger?.debug('layer-stored', { diffId, bytes: blobHash.bytes });
      return join(final, 'diff');
    } catch (err) {
      await rm(work, { recursive: true, force: true });
      this.logger?.debug('layer-refused', { diffId: layer.diffId, error: String(err) });
      throw err;
    }
  }

  /**
   * syncTmp flushes the store's filesystem (syncfs through `sync -f`). Layers finishing
   * while a flush runs share the next one (a group commit): one pull costs a flush or two,
   * not one per layer.
   */
  private syncTmp(): Promise<void> {
    if (this.syncQueued !== undefined) return this.syncQueued;
    if (this.syncRunning === undefined) return this.startSync();
    const queued = this.syncRunning
      .catch(() => undefined)
      .then(() => {
        this.syncQueued = undefined;
        return this.startSync();
      });
    this.syncQueued = queued;
    return queued;
  }

  private startSync(): Promise<void> {
    const running: Promise<void> = run('sync', ['-f', join(this.root, 'tmp')])
      .then(() => undefined)
      .finally(() => {
        if (this.syncRunning === running) this.syncRunning = undefined;
      });
    this.syncRunning = running;
    return running;
  }

  /** addReference records, durably, that owner uses these layers and config. */
  async addReference(reference: Reference): Promise<void> {
    await writeFileAtomically(this.referencePath(reference.owner), JSON.stringify(reference), 0o644);
  }

  /** removeReference forgets owner; removing an unknown owner succeeds. */
  async removeReference(owner: string): Promise<void> {
    await rm(this.referencePath(owner), { force: true });
  }

  async references(): Promise<Reference[]> {
    const names = await readdir(join(this.root, 'refs'));
    const refs: Reference[] = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const text = await readFile(join(this.root, 'refs', name), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      refs.push(JSON.parse(text) as Reference);
    }
    return refs;
  }

  /**
   * gc removes layers and configs that no reference, pin or running pull holds. With
   * dropImages, image references are forgotten first, so only containers keep layers.
   */
  async gc(options: { dropImages?: boolean } = {}): Promise<GcResult> {
    const run = this.gcRunning.then(() => this.collect(options));
    this.gcRunning = run.catch(() => undefined);
    return run;
  }

  private async collect(options: { dropImages?: boolean }): Promise<GcResult> {
    const keepLayers = new Set<string>();
    const keepBlobs = new Set<string>();
    for (const ref of await this.references()) {
      if (options.dropImages === true && ref.owner.startsWith(IMAGE_OWNER_PREFIX)) {
        await this.removeReference(ref.owner);
        continue;
      }
      for (const id of ref.diffIds) keepLayers.add(id);
      if (ref.configDigest !== undefined) keepBlobs.add(ref.configDigest);
    }
    const result: GcResult = { removedLayers: [], freedBytes: 0 };
    for (const hex of await readdir(join(this.root, 'layers/sha256'))) {
      const diffId = `sha256:${hex}`;
      if (keepLayers.has(diffId) || this.pins.has(diffId) || this.inFlight.has(diffId)) continue;
      const dir = join(this.root, 'layers/sha256', hex);
      const meta = await readFile(join(dir, 'meta.json'), 'utf8').then((text) => JSON.parse(text) as LayerMeta).catch(() => undefined);
      const doomed = join(this.root, 'tmp', `gc-${hex.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
      await rename(dir, doomed);
      await rm(doomed, { recursive: true, force: true });
      result.removedLayers.push(diffId);
      result.freedBytes += meta?.unpackedBytes ?? 0;
    }
    const removed = new Set(result.removedLayers);
    for (const hex of await readdir(join(this.root, 'blob-diffids/sha256'))) {
      const path = join(this.root, 'blob-diffids/sha256', hex);
      const diffId = await readFile(path, 'utf8').catch(() => '');
      if (removed.has(diffId) || !(await exists(join(this.root, 'layers/sha256', diffId.slice('sha256:'.length))))) {
        await rm(path, { force: true });
      }
    }
    for (const hex of await readdir(join(this.root, 'blobs/sha256'))) {
      if (!keepBlobs.has(`sha256:${hex}`) && !hex.includes('.tmp-')) await rm(join(this.root, 'blobs/sha256', hex), { force: true });
    }
    this.logger?.info('gc-finished', { removedLayers: result.removedLayers.length, freedBytes: result.freedBytes });
    return result;
  }

  private referencePath(owner: string): string {
    return join(this.root, 'refs', `${digestHex(sha256Of(owner))}.json`);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** pickFailure picks the error that says most: a typed ArborError over a broken pipe. */
function pickFailure(results: PromiseSettledResult<unknown>[]): unknown {
  const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  return errors.find((err) => ArborError.is(err)) ?? errors.find((err) => (err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') ?? errors[0];
}
