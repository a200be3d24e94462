import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, type ImagePullProgress, type ImageRef, type Logger, type PulledImageInfo } from '@arbor/core';
import Dockerode from 'dockerode';
import { DockerArchiveSource } from './docker-archive-source';
import { DockerDaemonSource } from './docker-daemon-source';
import { imageDefaults, type ImageDefaults } from './image-config';
import type { ImageSource } from './image-source';
import { parseImageUri, type ImageUri } from './image-uri';
import { IMAGE_OWNER_PREFIX, type LayerProgress, type LayerStore } from './layer-store';
import { hostPlatform, type Platform } from './manifest';
import { OciLayoutSource } from './oci-layout-source';
import { RegistrySource } from './registry-source';

/** PulledImage is an image ready to be a root filesystem. */
export interface PulledImage {
  /** id is the config digest, like 'sha256:<hex>', or 'raw:<path>' for a raw directory. */
  id: string;
  /** layerDirs are overlayfs lowerdirs, top layer first; for raw:// the directory itself. */
  layerDirs: string[];
  /** diffIds are the layers bottom first, as in the image config. */
  diffIds: string[];
  defaults: ImageDefaults;
}

export interface ImagePullerOptions {
  store: LayerStore;
  /** docker serves docker-daemon: URIs; by default the engine at /var/run/docker.sock or DOCKER_HOST. */
  docker?: Dockerode;
  /** platform picks a manifest from an index; by default linux and the host's architecture. */
  platform?: Platform;
  /** concurrency is how many layers of one image download at once. */
  concurrency?: number;
  logger?: Logger;
}

export interface PullOptions {
  /** onProgress hears the layer store's reports, one per chunk. */
  onProgress?: (progress: LayerProgress) => void;
  /**
   * onPullProgress hears the pull as Client.pullImage tells it: 'resolving', each layer
   * 'waiting' or 'exists', its 'downloading' chunks and 'unpacked', 'committing', 'done'.
   */
  onPullProgress?: (progress: ImagePullProgress) => void;
  /**
   * owner, like 'container:<handle>', is recorded as a reference to the image's layers
   * before pull returns, so no gc() can run between the pull and the owner's own record.
   */
  owner?: string;
}

/**
 * ImagePuller turns an image URI into verified layer directories in a LayerStore and the
 * image's defaults (Env, User, WorkingDir, Entrypoint, Cmd). Each pulled image is kept as
 * a reference 'image:<uri>' so its layers survive gc() until that reference is dropped.
 */
export class ImagePuller {
  private readonly store: LayerStore;
  private dockerClient: Dockerode | undefined;
  private readonly platform: Platform;
  private readonly concurrency: number;
  private readonly logger: Logger | undefined;

  constructor(options: ImagePullerOptions) {
    this.store = options.store;
    this.dockerClient = options.docker;
    this.platform = options.platform ?? hostPlatform();
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.logger = options.logger;
  }

  /**
   * pull fetches what the store lacks of image and returns its layer dirs and defaults.
   * @throws InvalidArgumentError('image.uri') for a bad URI or a missing raw directory.
   * @throws InvalidArgumentError naming the image and field when its config has a hostile
   *   Env, User, WorkingDir, Cmd or Entrypoint (a NUL, a uid out of range, a relative dir).
   * @throws DigestMismatchError when any manifest, config or layer is not what it claims.
   * @throws InvalidTarError when a layer tries to leave its directory.
   */
  async pull(image: ImageRef, options: PullOptions = {}): Promise<PulledImage> {
    const uri = parseImageUri(image.uri);
    if (uri.kind === 'raw') {
      const pulled = await this.raw(image.uri, uri.path);
      options.onPullProgress?.({ phase: 'done', layer: '', bytesDone: 0, bytesTotal: 0, image: pulledImageInfo(pulled) });
      return pulled;
    }
    const source = this.source(image, uri);
    const started = Date.now();
    const tell = options.onPullProgress;
    try {
      tell?.({ phase: 'resolving', layer: '', bytesDone: 0, bytesTotal: 0 });
      const resolved = await source.resolve((digest) => this.store.readBlob(digest));
      // The one check every source goes through, before anything is stored: an image's
      // config is hostile input (a NUL in its Env once reached a helper's argv).
      const defaults = imageDefaults(resolved.config, image.uri);
      const diffIds = resolved.layers.map((layer) => layer.diffId);
      if (tell !== undefined) {
        for (const layer of resolved.layers) {
          const size = layer.size ?? -1;
          if (await this.store.hasLayer(layer.diffId)) tell({ phase: 'exists', layer: layer.diffId, bytesDone: Math.max(0, size), bytesTotal: size });
          else tell({ phase: 'waiting', layer: layer.diffId, bytesDone: 0, bytesTotal: size });
        }
      }
      const onProgress = (progress: LayerProgress): void => {
        options.onProgress?.(progress);
        if (tell !== undefined && progress.phase !== 'stored') {
          tell({ phase: progress.phase, layer: progress.diffId, bytesDone: progress.bytesDone, bytesTotal: progress.bytesTotal });
        }
      };
      const release = await this.store.pin(diffIds);
      try {
        // The config goes in unflushed: the one flush of the layers below covers it.
        const writeConfig = resolved.configBytes !== undefined && (await this.store.readBlob(resolved.configDigest)) === undefined;
        if (writeConfig && resolved.configBytes !== undefined) {
          await this.store.writeBlob(`config of ${image.uri}`, resolved.configDigest, resolved.configBytes, { flush: false });
        }
        const layerDirs = await this.store.ensureLayers(
          resolved.layers.map((layer) => ({ layer, open: () => source.openLayer(layer) })),
          {
            onProgress: options.onProgress === undefined && tell === undefined ? undefined : onProgress,
            concurrency: this.concurrency,
            flush: writeConfig,
            onCommitting: tell && (() => tell({ phase: 'committing', layer: '', bytesDone: 0, bytesTotal: 0 })),
          },
        );
        const owners = [`${IMAGE_OWNER_PREFIX}${image.uri}`, ...(options.owner !== undefined ? [options.owner] : [])];
        await Promise.all(owners.map((owner) => this.store.addReference({ owner, diffIds, configDigest: resolved.configDigest })));
        this.logger?.info('image-pulled', { uri: image.uri, layers: diffIds.length, ms: Date.now() - started });
        const pulled = { id: resolved.configDigest, layerDirs: layerDirs.reverse(), diffIds, defaults };
        tell?.({ phase: 'done', layer: '', bytesDone: 0, bytesTotal: 0, image: pulledImageInfo(pulled) });
        return pulled;
      } finally {
        release();
      }
    } finally {
      await source.close();
    }
  }

  private source(image: ImageRef, uri: Exclude<ImageUri, { kind: 'raw' }>): ImageSource {
    switch (uri.kind) {
      case 'oci':
        return new OciLayoutSource(uri.layoutPath, uri.tag, this.platform, image.uri);
      case 'docker-archive':
        return new DockerArchiveSource(uri.path, uri.tag, image.uri);
      case 'docker-daemon':
        return new DockerDaemonSource(
          this.docker(),
          uri.name,
          join(this.store.root, 'tmp'),
          (id) => this.store.hasLayer(id),
          image.uri,
          this.store.maxUnpackedBytes,
        );
      case 'registry': {
        const hasCredentials = image.username !== undefined && image.username !== '';
        const credentials = hasCredentials ? { username: image.username ?? '', password: image.password ?? '' } : undefined;
        return new RegistrySource(uri, uri.reference, this.platform, image.uri, credentials);
      }
    }
  }

  private docker(): Dockerode {
    this.dockerClient ??= new Dockerode();
    return this.dockerClient;
  }

  private async raw(text: string, path: string): Promise<PulledImage> {
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || !info.isDirectory()) {
      throw new InvalidArgumentError('image.uri', `'${text}': ${path} is not a directory`);
    }
    return { id: `raw:${path}`, layerDirs: [path], diffIds: [], defaults: imageDefaults({}, text) };
  }
}

/** pulledImageInfo is what Client.pullImage tells of a pulled image. */
export function pulledImageInfo(pulled: PulledImage): PulledImageInfo {
  return { id: pulled.id, layers: pulled.diffIds.length, ...pulled.defaults };
}
