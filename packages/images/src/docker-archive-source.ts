import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ArborError, InvalidArgumentError } from '@arbor/core';
import { sha256Of, verifyBytes } from './digest';
import { MAX_CONFIG_BYTES, parseImageConfig } from './image-config';
import { MAX_MANIFEST_BYTES } from './manifest';
import type { BlobCache, ImageSource, ResolvedImage } from './image-source';
import type { LayerDescriptor } from './layer-store';
import { indexTar, lookupFile, type TarIndexEntry } from './tar-index';

interface ArchiveManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/**
 * DockerArchiveSource reads an image from a `docker save` tarball, old layout
 * ('<id>/layer.tar') or new ('blobs/sha256/<hex>'), streaming each layer out of the
 * archive by its offset. tag picks an image when the archive holds several, like 'app:v1'.
 */
export class DockerArchiveSource implements ImageSource {
  private file: FileHandle | undefined;
  private readonly layerEntries = new Map<string, TarIndexEntry>();

  constructor(
    private readonly path: string,
    private readonly tag: string,
    private readonly uri: string,
  ) {}

  async resolve(_cache: BlobCache): Promise<ResolvedImage> {
    try {
      this.file = await open(this.path, 'r');
    } catch (err) {
      throw new InvalidArgumentError('image.uri', `'${this.uri}': cannot open ${this.path}: ${(err as Error).message}`);
    }
    const entries = await indexTar(this.file);
    const manifestEntry = lookupFile(entries, 'manifest.json');
    if (manifestEntry === undefined) throw new InvalidArgumentError('image.uri', `'${this.uri}' is not a docker save archive (no manifest.json)`);
    const manifest = this.parseArchiveManifest(await this.read(manifestEntry, MAX_MANIFEST_BYTES));
    const chosen = this.choose(manifest);
    const configEntry = lookupFile(entries, chosen.Config);
    if (configEntry === undefined) throw new ArborError('invalidArgument', `image: ${this.uri}: config ${chosen.Config} is missing`);
    const configBytes = await this.read(configEntry, MAX_CONFIG_BYTES);
    // The config's name is its digest: '<hex>.json' (old layout) or 'blobs/sha256/<hex>' (new).
    const hex = /([a-f0-9]{64})(?:\.json)?$/.exec(chosen.Config)?.[1];
    const configDigest = hex === undefined ? sha256Of(configBytes) : `sha256:${hex}`;
    verifyBytes(`config of ${this.uri}`, configBytes, configDigest);
    const config = parseImageConfig(configBytes, this.uri);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== chosen.Layers.length) {
      throw new ArborError('invalidArgument', `image: ${this.uri}: ${chosen.Layers.length} layers but ${diffIds.length} diff_ids`);
    }
    const layers = chosen.Layers.map((layerPath, i): LayerDescriptor => {
      const entry = lookupFile(entries, layerPath);
      if (entry === undefined) throw new ArborError('invalidArgument', `image: ${this.uri}: layer ${layerPath} is missing`);
      const diffId = diffIds[i] as string;
      this.layerEntries.set(diffId, entry);
      const blobHex = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(entry.name)?.[1];
      return blobHex === undefined ? { diffId, size: entry.size } : { diffId, blobDigest: `sha256:${blobHex}`, size: entry.size };
    });
    return { configDigest, config, configBytes, layers };
  }

  async openLayer(layer: LayerDescriptor): Promise<Readable> {
    const entry = this.layerEntries.get(layer.diffId);
    if (entry === undefined) throw new ArborError('internal', `image: ${this.uri}: layer ${layer.diffId} was not resolved`);
    if (entry.size === 0) return Readable.from([]);
    return createReadStream(this.path, { start: entry.offset, end: entry.offset + entry.size - 1 });
  }

  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  private choose(manifest: ArchiveManifestEntry[]): ArchiveManifestEntry {
    if (this.tag === '') {
      if (manifest.length > 1) {
        const tags = manifest.flatMap((m) => m.RepoTags ?? []).join(', ');
        throw new InvalidArgumentError('image.uri', `'${this.uri}' holds ${manifest.length} images: add #name:tag (${tags})`);
      }
      return manifest[0] as ArchiveManifestEntry;
    }
    const wanted = this.tag.includes(':') ? [this.tag] : [this.tag, `${this.tag}:latest`];
    const found = manifest.find((m) => (m.RepoTags ?? []).some((t) => wanted.includes(t) || wanted.includes(t.replace(/^docker\.io\/(library\/)?/, ''))));
    if (found === undefined) throw new InvalidArgumentError('image.uri', `'${this.uri}' has no image tagged '${this.tag}'`);
    return found;
  }

  /** parseArchiveManifest reads manifest.json: a list of { Config, RepoTags, Layers }, each checked, as the archive is hostile. */
  private parseArchiveManifest(bytes: Buffer): ArchiveManifestEntry[] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new ArborError('invalidArgument', `image: ${this.uri}: manifest.json is not JSON`, { cause: err });
    }
    if (!Array.isArray(parsed) || parsed.length === 0) throw new ArborError('invalidArgument', `image: ${this.uri}: empty manifest.json`);
    const isStrings = (value: unknown): boolean => Array.isArray(value) && value.every((item) => typeof item === 'string');
    parsed.forEach((entry: Partial<ArchiveManifestEntry> | null, i) => {
      const tags = entry?.RepoTags;
      if (typeof entry?.Config !== 'string' || !isStrings(entry.Layers) || (tags !== undefined && tags !== null && !isStrings(tags))) {
        throw new ArborError('invalidArgument', `image: ${this.uri}: manifest.json entry ${i} is not { Config, RepoTags, Layers }`);
      }
    });
    return parsed as ArchiveManifestEntry[];
  }

  private async read(entry: TarIndexEntry, limit: number): Promise<Buffer> {
    if (this.file === undefined) throw new ArborError('internal', 'image: archive is closed');
    if (entry.size > limit) throw new ArborError('invalidArgument', `image: ${this.uri}: ${entry.name} is larger than ${limit} bytes`);
    const data = Buffer.alloc(entry.size);
    await this.file.read(data, 0, entry.size, entry.offset);
    return data;
  }
}
