import type { Readable } from 'node:stream';
import type { ImageConfig } from './image-config';
import type { LayerDescriptor } from './layer-store';

/** ResolvedImage is what a source says an image is, before any layer is fetched. */
export interface ResolvedImage {
  /** configDigest is the image id, like 'sha256:<hex>'. */
  configDigest: string;
  config: ImageConfig;
  /** configBytes are the config as the source holds it, verified against configDigest; absent when the source gave parsed fields only. */
  configBytes?: Buffer;
  /** layers are bottom first, as in the manifest and rootfs.diff_ids. */
  layers: LayerDescriptor[];
}

/** BlobCache lets a source skip fetching small blobs (configs) the store already holds. */
export type BlobCache = (digest: string) => Promise<Buffer | undefined>;

/** ImageSource reads one image from where it lives: a registry, an archive, a layout, a daemon. */
export interface ImageSource {
  resolve(cache: BlobCache): Promise<ResolvedImage>;
  /** openLayer streams the layer's blob as the source holds it (gzip or plain tar). */
  openLayer(layer: LayerDescriptor): Promise<Readable>;
  /** close frees what the source holds (temp files, sockets); idempotent. */
  close(): Promise<void>;
}
