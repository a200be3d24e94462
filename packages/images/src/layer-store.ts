import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArborError, ResourceExhaustedError, type Logger } from '@arbor/core';
import { syncPath, writeFileAtomically } from '@arbor/depot';
import { DigestMismatchError } from './digest-mismatch-error';
import { digestHex, HashingStream, isSha256Digest, sha256Of, verifyBytes } from './digest';
import { LayerDecoder } from './layer-decoder';
import { LayerExtractor } from './layer-extractor';
import { sharedSyncer, type FilesystemSyncer } from './layer-store-syncer';
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

/**
 * LayerProgress is one progress report of a layer: 'downloading' as its blob arrives (and
 * unpacks), 'unpacked' once both its digests are checked, 'stored' (with done) once it is
 * durable and in place.
 */
export interface LayerProgress {
  diffId: string;
  phase: 'downloading' | 'unpacked' | 'stored';
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
  /** syncer runs the flushes; by default one helper shared by the process. */
  syncer?: FilesystemSyncer;
  /**
   * maxUnpackedBytes bounds the uncompressed tar bytes one ensureLayers call (one image
   * pull) unpacks, all its new layers together, so also each layer; default
   * DEFAULT_MAX_UNPACKED_BYTES. A gzip bomb (KBs that inflate to GBs) stops there.
   */
  maxUnpackedBytes?: number;
}

/**
 * DEFAULT_MAX_UNPACKED_BYTES is 64 GiB: several times the biggest images in common use
 * (CUDA and ML framework images unpack to 10-25 GiB), while a bomb is stopped before it
 * takes a whole disk of the usual size.
 */
export const DEFAULT_MAX_UNPACKED_BYTES = 64 * 1024 * 1024 * 1024;

/** UnpackBudget is what is left of maxUnpackedBytes for the layers of one ensureLayers call. */
interface UnpackBudget {
  limit: number;
  used: number;
}

/** LayerRequest is one layer to ensure and how to open its blob. */
export interface LayerRequest {
  layer: LayerDescriptor;
  open: () => Promise<Readable>;
}

export interface EnsureLayersOptions {
  onProgress?: ((progress: LayerProgress) => void) | undefined;
  /** concurrency is how many layers download at once; default 8. */
  concurrency?: number;
  /** flush makes the store durable even when no layer was missing (a config was just written). */
  flush?: boolean;
  /** onCommitting is called before new layers are flushed and put in place. */
  onCommitting?: (() => void) | undefined;
}

interface StagedLayer {
  diffId: string;
  blobDigest: string;
  blobBytes: number;
  /** work is like <root>/tmp/layer-<hex12>-XXXXXX, holding diff/ and meta.json. */
  work: string;
  final: string;
  deferred: Deferred<string>;
  report: (progress: LayerProgress) => void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
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
  private readonly syncer: FilesystemSyncer;
  /** maxUnpackedBytes is what one ensureLayers call may unpack (see LayerStoreOptions). */
  readonly maxUnpackedBytes: number;
  private syncRunning: Promise<void> | undefined;
  private syncQueued: Promise<void> | undefined;

  constructor(options: LayerStoreOptions) {
    super();
    this.root = join(options.stateDir, 'images');
    this.extractor = new LayerExtractor(options.specialFiles ?? new CommandSpecialFiles());
    this.logger = options.logger;
    this.durable = options.durable ?? true;
    this.syncer = options.syncer ?? sharedSyncer;
    this.maxUnpackedBytes = options.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES;
  }

  /** init makes the store's directories and removes what an earlier crash left in tmp/. */
  async init(): Promise<void> {
    if (this.durable) this.syncer.start();
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
   * writeBlob stores a small blob (an image config) under its digest. With flush: false it
   * is not flushed on its own: the caller flushes it with its layers (ensureLayers).
   * @throws DigestMismatchError when bytes do not hash to digest.
   */
  async writeBlob(what: string, digest: string, bytes: Buffer, options: { flush?: boolean } = {}): Promise<void> {
    verifyBytes(what, bytes, digest);
    const path = join(this.root, 'blobs/sha256', digestHex(digest));
    if (options.flush === false) await writeFileAtomically(path, bytes, 0o644, { sync: false });
    else await writeFileAtomically(path, bytes, 0o644);
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
  async ensureLayer(layer: LayerDescriptor, open: () => Promise<Readable>, onProgress?: (progress: LayerProgress) => void): Promise<string> {
    const [dir] = await this.ensureLayers([{ layer, open }], { onProgress });
    return dir as string;
  }

  /**
   * ensureLayers is ensureLayer for all the layers of one image at once: the missing ones
   * download and unpack side by side into tmp/, then one flush of the filesystem makes them
   * all durable, then each appears by a rename. A pull thus costs one flush, not one per
   * layer or file. Layers another call is fetching are waited for, not fetched twice. When
   * one layer fails, the layers already verified are still kept, then the first failure
   * is thrown. Returns the layers' directories in the order given.
   * @throws DigestMismatchError when a blob or its uncompressed tar hash to something else.
   * @throws InvalidTarError when a layer's tar is corrupt or tries to leave its directory.
   * @throws ResourceExhaustedError('disk') when the new layers unpack to more than maxUnpackedBytes.
   */
  async ensureLayers(requests: readonly LayerRequest[], options: EnsureLayersOptions = {}): Promise<string[]> {
    for (const { layer } of requests) {
      digestHex(layer.diffId);
      if (layer.blobDigest !== undefined) digestHex(layer.blobDigest);
    }
    const staged: StagedLayer[] = [];
    const budget: UnpackBudget = { limit: this.maxUnpackedBytes, used: 0 };
    let commitFailure: unknown;
    const settled = await mapSettledLimit(requests, options.concurrency ?? 8, async ({ layer, open }): Promise<{ dir: Promise<string> }> => {
      const running = this.inFlight.get(layer.diffId);
      if (running !== undefined) {
        if (options.onProgress) running.listeners.add(options.onProgress);
        // Resolved by the other call's commit: waited for after this call's own commit.
        running.promise.catch(() => undefined);
        return { dir: running.promise };
      }
      const listeners = new Set<(progress: LayerProgress) => void>();
      if (options.onProgress) listeners.add(options.onProgress);
      const deferred = defer<string>();
      this.inFlight.set(layer.diffId, { promise: deferred.promise, listeners });
      deferred.promise.catch(() => undefined);
      const report = (progress: LayerProgress): void => {
        for (const listener of listeners) listener(progress);
        this.emit('progress', progress);
      };
      try {
        const final = join(this.root, 'layers/sha256', digestHex(layer.diffId));
        if (await exists(final)) {
          this.inFlight.delete(layer.diffId);
          deferred.resolve(join(final, 'diff'));
          return { dir: deferred.promise };
        }
        const stage = await this.stageLayer(layer, open, report, budget);
        staged.push({ ...stage, final, deferred, report });
        // wrapped, as an async function returning a promise would wait for it (for commit())
        return { dir: deferred.promise };
      } catch (err) {
        this.inFlight.delete(layer.diffId);
        deferred.reject(err);
        throw err;
      }
    });
    try {
      if (staged.length > 0) options.onCommitting?.();
      await this.commit(staged, options.flush === true);
    } catch (err) {
      commitFailure = err;
    }
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) throw failure.reason as unknown;
    if (commitFailure !== undefined) throw commitFailure;
    return Promise.all(settled.map((r) => (r as PromiseFulfilledResult<{ dir: Promise<string> }>).value.dir));
  }

  /**
   * commit makes staged layers durable with one flush, then renames each into place and
   * flushes the directory that holds them, so a layer that appears has all its files and
   * a layer that returned stays after a crash. flush forces the flush with nothing staged
   * (for a config blob written just before).
   */
  private async commit(staged: StagedLayer[], flush: boolean): Promise<void> {
    try {
      if (this.durable && (staged.length > 0 || flush)) await this.syncTmp();
    } catch (err) {
      for (const stage of staged) {
        this.inFlight.delete(stage.diffId);
        stage.deferred.reject(err);
        await rm(stage.work, { recursive: true, force: true });
      }
      throw err;
    }
    if (staged.length === 0) return;
    let failure: unknown;
    await Promise.all(
      staged.map(async (stage) => {
        try {
          await this.publish(stage);
          this.inFlight.delete(stage.diffId);
          stage.deferred.resolve(join(stage.final, 'diff'));
        } catch (err) {
          failure ??= err;
          this.inFlight.delete(stage.diffId);
          stage.deferred.reject(err);
          await rm(stage.work, { recursive: true, force: true });
        }
      }),
    );
    if (this.durable) await syncPath(join(this.root, 'layers/sha256'));
    if (failure !== undefined) throw failure;
    for (const stage of staged) {
      stage.report({ diffId: stage.diffId, phase: 'stored', bytesDone: stage.blobBytes, bytesTotal: stage.blobBytes, done: true });
    }
  }

  /** publish renames one flushed layer into place and notes which blob it came from. */
  private async publish(stage: StagedLayer): Promise<void> {
    try {
      await rename(stage.work, stage.final);
      this.stats.layersUnpacked += 1;
    } catch (err) {
      // Another process finished the same layer first: keep theirs.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      await rm(stage.work, { recursive: true, force: true });
    }
    // A hint only (diffIdOfBlob checks the layer is there): it need not be flushed.
    await writeFileAtomically(join(this.root, 'blob-diffids/sha256', digestHex(stage.blobDigest)), stage.diffId, 0o644, { sync: false });
    this.logger?.debug('layer-stored', { diffId: stage.diffId, bytes: stage.blobBytes });
  }

  /**
   * stageLayer streams a layer blob in one pass: hash the blob, gunzip, hash the tar and
   * unpack it into a new directory in tmp/; it returns once both digests are checked. The
   * tar's bytes are counted against budget as they leave the decompressor.
   */
  private async stageLayer(
    layer: LayerDescriptor,
    open: () => Promise<Readable>,
    report: (progress: LayerProgress) => void,
    budget: UnpackBudget,
  ): Promise<{ diffId: string; blobDigest: string; blobBytes: number; work: string }> {
    const hex = digestHex(layer.diffId);
    const total = layer.size ?? -1;
    const work = await mkdtemp(join(this.root, 'tmp', `layer-${hex.slice(0, 12)}-`));
    try {
      await mkdir(join(work, 'diff'));
      let lastReport = 0;
      const blobHash = new HashingStream(`layer ${layer.blobDigest ?? layer.diffId}`, layer.size, (bytes) => {
        this.stats.blobBytesRead += bytes - lastReport;
        lastReport = bytes;
        report({ diffId: layer.diffId, phase: 'downloading', bytesDone: bytes, bytesTotal: total, done: false });
      });
      let counted = 0;
      const diffHash = new HashingStream(`uncompressed layer ${layer.diffId}`, undefined, (bytes) => {
        budget.used += bytes - counted;
        counted = bytes;
        if (budget.used > budget.limit) {
          throw new ResourceExhaustedError(
            'disk',
            `image: layer ${layer.blobDigest ?? layer.diffId} unpacks past the limit of ${budget.limit} bytes for one image: refused`,
          );
        }
      });
      const decoder = new LayerDecoder(diffHash, `layer ${layer.blobDigest ?? layer.diffId}`);
      const extracting = this.extractor.extract(diffHash, join(work, 'diff'), { layer: layer.blobDigest ?? layer.diffId });
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
      // flushed with the layer's files by commit()
      await writeFile(join(work, 'meta.json'), JSON.stringify(meta), { mode: 0o644 });
      report({ diffId, phase: 'unpacked', bytesDone: blobHash.bytes, bytesTotal: blobHash.bytes, done: false });
      return { diffId, blobDigest, blobBytes: blobHash.bytes, work };
    } catch (err) {
      await rm(work, { recursive: true, force: true });
      this.logger?.debug('layer-refused', { diffId: layer.diffId, error: String(err) });
      throw err;
    }
  }

  /**
   * syncTmp flushes the store's filesystem (syncfs through the shared syncer). Pulls that
   * commit while a flush runs share the next one (a group commit).
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
    const running: Promise<void> = this.syncer.syncfs(join(this.root, 'tmp')).finally(() => {
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
      const meta = await readFile(join(dir, 'meta.json'), 'utf8')
        .then((text) => JSON.parse(text) as LayerMeta)
        .catch(() => undefined);
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
      // a name starting with '.' is writeFileAtomically's temp file of a blob being written
      if (!keepBlobs.has(`sha256:${hex}`) && !hex.startsWith('.')) await rm(join(this.root, 'blobs/sha256', hex), { force: true });
    }
    this.logger?.info('gc-finished', { removedLayers: result.removedLayers.length, freedBytes: result.freedBytes });
    return result;
  }

  private referencePath(owner: string): string {
    return join(this.root, 'refs', `${digestHex(sha256Of(owner))}.json`);
  }
}

function defer<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * mapSettledLimit runs fn over items, at most limit at once, and settles them all; after
 * the first failure it starts no more items. Results keep the items' order; items never
 * started are rejected with the first failure.
 */
export async function mapSettledLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  let firstFailure: unknown;
  const worker = async (): Promise<void> => {
    while (firstFailure === undefined && next < items.length) {
      const index = next;
      next += 1;
      try {
        results[index] = { status: 'fulfilled', value: await fn(items[index] as T) };
      } catch (err) {
        firstFailure ??= err;
        results[index] = { status: 'rejected', reason: err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  for (let i = 0; i < items.length; i += 1) results[i] ??= { status: 'rejected', reason: firstFailure };
  return results;
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
