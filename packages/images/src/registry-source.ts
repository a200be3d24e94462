import type { Readable } from 'node:stream';
import { ArborError } from '@arbor/core';
import { DigestMismatchError } from './digest-mismatch-error';
import { isSha256Digest, sha256Of, verifyBytes } from './digest';
import { MAX_CONFIG_BYTES, parseImageConfig } from './image-config';
import type { BlobCache, ImageSource, ResolvedImage } from './image-source';
import type { LayerDescriptor } from './layer-store';
import { checkLayerMediaType, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, parseManifest, selectPlatform, type Platform } from './manifest';
import { RegistryClient, type RegistryCredentials, type RegistryLocation } from './registry-client';

/** RegistrySource reads an image from a Distribution API v2 registry. */
export class RegistrySource implements ImageSource {
  private readonly client: RegistryClient;

  constructor(
    location: RegistryLocation,
    private readonly reference: string,
    private readonly platform: Platform,
    /** uri is the image as asked for, like 'docker://127.0.0.1:5000/app#v1', for messages. */
    private readonly uri: string,
    credentials?: RegistryCredentials,
  ) {
    this.client = new RegistryClient(location, credentials);
  }

  async resolve(cache: BlobCache): Promise<ResolvedImage> {
    let manifest = await this.fetchManifest(this.reference);
    // An index leads to one manifest; an index of indexes is not something registries serve.
    if (manifest.parsed.kind === 'index') {
      const chosen = selectPlatform(manifest.parsed.manifests, this.platform, `${this.client.name}#${this.reference}`);
      manifest = await this.fetchManifest(chosen.digest);
      if (manifest.parsed.kind !== 'manifest') throw new ArborError('invalidArgument', `image: ${this.client.name}: nested index`);
    }
    const { config: configDescriptor, layers } = manifest.parsed;
    let configBytes = await cache(configDescriptor.digest);
    if (configBytes === undefined) {
      if (configDescriptor.size > MAX_CONFIG_BYTES) {
        throw new ArborError('invalidArgument', `image: ${this.uri}: config is larger than ${MAX_CONFIG_BYTES} bytes (${configDescriptor.size})`);
      }
      configBytes = (await this.client.getSmall(`blobs/${configDescriptor.digest}`, MAX_CONFIG_BYTES)).bytes;
      verifyBytes(`config of ${this.client.name}`, configBytes, configDescriptor.digest);
    }
    const config = parseImageConfig(configBytes, this.uri);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== layers.length) {
      throw new ArborError('invalidArgument', `image: ${this.client.name}: manifest has ${layers.length} layers, config ${diffIds.length}`);
    }
    const descriptors: LayerDescriptor[] = layers.map((layer, i) => {
      checkLayerMediaType(layer);
      return { diffId: diffIds[i] as string, blobDigest: layer.digest, size: layer.size };
    });
    return { configDigest: configDescriptor.digest, config, configBytes, layers: descriptors };
  }

  async openLayer(layer: LayerDescriptor): Promise<Readable> {
    if (layer.blobDigest === undefined) throw new ArborError('internal', 'image: registry layer without a blob digest');
    return this.client.openBlob(layer.blobDigest);
  }

  async close(): Promise<void> {}

  private async fetchManifest(reference: string): Promise<{ parsed: ReturnType<typeof parseManifest> }> {
    const { bytes, headers } = await this.client.getSmall(`manifests/${reference}`, MAX_MANIFEST_BYTES, MANIFEST_ACCEPT);
    // A manifest fetched by digest must hash to it; by tag, to what the registry says it is.
    const claimed = headers['docker-content-digest'];
    const expected = isSha256Digest(reference) ? reference : typeof claimed === 'string' && isSha256Digest(claimed) ? claimed : undefined;
    if (expected !== undefined && sha256Of(bytes) !== expected) {
      throw new DigestMismatchError(`manifest ${this.client.name}#${reference}`, expected, sha256Of(bytes));
    }
    const contentType = headers['content-type'];
    return { parsed: parseManifest(bytes, typeof contentType === 'string' ? contentType : '') };
  }
}
