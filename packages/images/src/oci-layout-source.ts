import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ArborError, InvalidArgumentError } from '@arbor/core';
import { digestHex, verifyBytes } from './digest';
import { MAX_CONFIG_BYTES, parseImageConfig } from './image-config';
import type { BlobCache, ImageSource, ResolvedImage } from './image-source';
import type { LayerDescriptor } from './layer-store';
import { checkLayerMediaType, MAX_MANIFEST_BYTES, parseManifest, selectPlatform, type Descriptor, type Platform } from './manifest';

const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * OciLayoutSource reads an image from an OCI image layout directory (index.json and
 * blobs/sha256/), picking the manifest whose ref.name annotation is the tag.
 */
export class OciLayoutSource implements ImageSource {
  constructor(
    private readonly layoutPath: string,
    private readonly tag: string,
    private readonly platform: Platform,
    private readonly uri: string,
  ) {}

  async resolve(_cache: BlobCache): Promise<ResolvedImage> {
    const indexBytes = await this.readIndex();
    const index = parseManifest(indexBytes, 'application/vnd.oci.image.index.v1+json');
    if (index.kind !== 'index') throw new ArborError('invalidArgument', `image: ${this.uri}: index.json is not an index`);
    let descriptor = this.choose(index.manifests);
    // Bounded: an index may point at an index (a multi-platform image), not deeper.
    for (let depth = 0; ; depth += 1) {
      const parsed = parseManifest(await this.readBlob(descriptor, 'manifest', MAX_MANIFEST_BYTES), descriptor.mediaType);
      if (parsed.kind === 'manifest') {
        const configBytes = await this.readBlob(parsed.config, 'config', MAX_CONFIG_BYTES);
        const config = parseImageConfig(configBytes, this.uri);
        const diffIds = config.rootfs.diff_ids;
        if (diffIds.length !== parsed.layers.length) {
          throw new ArborError('invalidArgument', `image: ${this.uri}: manifest has ${parsed.layers.length} layers, config ${diffIds.length}`);
        }
        const layers = parsed.layers.map((layer, i): LayerDescriptor => {
          checkLayerMediaType(layer);
          return { diffId: diffIds[i] as string, blobDigest: layer.digest, size: layer.size };
        });
        return { configDigest: parsed.config.digest, config, configBytes, layers };
      }
      if (depth >= 2) throw new ArborError('invalidArgument', `image: ${this.uri}: indexes nested too deep`);
      descriptor = selectPlatform(parsed.manifests, this.platform, this.uri);
    }
  }

  async openLayer(layer: LayerDescriptor): Promise<Readable> {
    if (layer.blobDigest === undefined) throw new ArborError('internal', 'image: OCI layer without a digest');
    return createReadStream(this.blobPath(layer.blobDigest));
  }

  async close(): Promise<void> {}

  private choose(manifests: Descriptor[]): Descriptor {
    if (this.tag === '') {
      if (manifests.length === 1) return manifests[0] as Descriptor;
      throw new InvalidArgumentError('image.uri', `'${this.uri}' holds ${manifests.length} images: add #tag (${this.tags(manifests)})`);
    }
    const found = manifests.find((m) => m.annotations?.[REF_NAME] === this.tag);
    if (found === undefined) {
      throw new InvalidArgumentError('image.uri', `'${this.uri}' has no image tagged '${this.tag}' (it has: ${this.tags(manifests) || 'none'})`);
    }
    return found;
  }

  private tags(manifests: Descriptor[]): string {
    return manifests
      .map((m) => m.annotations?.[REF_NAME])
      .filter((t) => t !== undefined)
      .join(', ');
  }

  private blobPath(digest: string): string {
    return join(this.layoutPath, 'blobs/sha256', digestHex(digest));
  }

  /** readIndex reads index.json, refusing one over MAX_MANIFEST_BYTES before reading it. */
  private async readIndex(): Promise<Buffer> {
    const path = join(this.layoutPath, 'index.json');
    const file = await open(path, 'r').catch((err: Error) => {
      throw new InvalidArgumentError('image.uri', `'${this.uri}' is not an OCI layout (no index.json): ${err.message}`);
    });
    try {
      const { size } = await file.stat();
      if (size > MAX_MANIFEST_BYTES) {
        throw new ArborError('invalidArgument', `image: ${this.uri}: index.json is larger than ${MAX_MANIFEST_BYTES} bytes`);
      }
      const bytes = Buffer.alloc(size);
      const { bytesRead } = await file.read(bytes, 0, size, 0);
      return bytes.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }

  /** readBlob reads a small blob (a manifest or config) whole, refusing one its descriptor says is over limit. */
  private async readBlob(descriptor: Descriptor, what: string, limit: number): Promise<Buffer> {
    if (descriptor.size > limit) throw new ArborError('invalidArgument', `image: ${this.uri}: ${what} is larger than ${limit} bytes`);
    const file = await open(this.blobPath(descriptor.digest), 'r').catch((err: Error) => {
      throw new ArborError('invalidArgument', `image: ${this.uri}: ${what} blob ${descriptor.digest} is missing: ${err.message}`);
    });
    try {
      const bytes = Buffer.alloc(descriptor.size);
      const { bytesRead } = await file.read(bytes, 0, descriptor.size, 0);
      const data = bytes.subarray(0, bytesRead);
      verifyBytes(`${what} of ${this.uri}`, data, descriptor.digest);
      return data;
    } finally {
      await file.close();
    }
  }
}
