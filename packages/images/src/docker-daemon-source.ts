import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArborError, ResourceExhaustedError } from '@arbor/core';
import type Dockerode from 'dockerode';
import { isSha256Digest } from './digest';
import { DockerArchiveSource } from './docker-archive-source';
import { imageDefaults, type ImageConfig } from './image-config';
import type { BlobCache, ImageSource, ResolvedImage } from './image-source';
import type { LayerDescriptor } from './layer-store';

// EXPORT_SLACK is what a `docker save` holds beside the layer tars: configs, manifests, tar headers.
const EXPORT_SLACK = 64 * 1024 * 1024;

/**
 * DockerDaemonSource reads an image from a local Docker engine. When the store has every
 * layer already, the engine's inspect answer is enough; otherwise the image is exported
 * (`docker save`) into a temp file under tmpDir and read like a docker-archive. The export
 * holds the layers unpacked, so it is bounded like them: by maxUnpackedBytes (and a little).
 */
export class DockerDaemonSource implements ImageSource {
  private archive: DockerArchiveSource | undefined;
  private archivePath: string | undefined;

  constructor(
    private readonly docker: Dockerode,
    private readonly name: string,
    private readonly tmpDir: string,
    private readonly hasLayer: (diffId: string) => Promise<boolean>,
    private readonly uri: string,
    /** maxUnpackedBytes is the layer store's bound on what one image unpacks, like 64 GiB. */
    private readonly maxUnpackedBytes: number,
  ) {}

  async resolve(cache: BlobCache): Promise<ResolvedImage> {
    const image = this.docker.getImage(this.name);
    let info: Dockerode.ImageInspectInfo;
    try {
      info = await image.inspect();
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404) throw new ArborError('notFound', `image: ${this.uri}: the Docker engine has no image '${this.name}'`);
      throw new ArborError('unavailable', `image: ${this.uri}: cannot ask the Docker engine: ${(err as Error).message}`, { cause: err });
    }
    const diffIds = info.RootFS.Layers ?? [];
    if (isSha256Digest(info.Id) && diffIds.every(isSha256Digest)) {
      const present = await Promise.all(diffIds.map((id) => this.hasLayer(id)));
      if (present.every(Boolean)) {
        const c = info.Config;
        const list = (value: string | string[] | undefined | null): string[] | null => (typeof value === 'string' ? [value] : (value ?? null));
        const config: ImageConfig = {
          config: { Env: c.Env ?? null, User: c.User ?? '', WorkingDir: c.WorkingDir ?? '', Entrypoint: list(c.Entrypoint), Cmd: list(c.Cmd) },
          rootfs: { type: 'layers', diff_ids: diffIds },
        };
        imageDefaults(config, this.uri);
        return { configDigest: info.Id, config, layers: diffIds.map((diffId) => ({ diffId })) };
      }
    }
    this.archivePath = join(this.tmpDir, `docker-save-${randomBytes(6).toString('hex')}.tar`);
    const exported = (await image.get()) as unknown as Readable;
    const limit = this.maxUnpackedBytes + EXPORT_SLACK;
    let bytes = 0;
    const bounded = new Transform({
      transform: (chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void => {
        bytes += chunk.length;
        if (bytes > limit) done(new ResourceExhaustedError('disk', `image: ${this.uri}: the Docker engine's export is larger than ${limit} bytes: refused`));
        else done(null, chunk);
      },
    });
    await pipeline(exported, bounded, createWriteStream(this.archivePath, { flags: 'wx', mode: 0o600 }));
    // The export holds this one image only.
    this.archive = new DockerArchiveSource(this.archivePath, '', this.uri);
    return this.archive.resolve(cache);
  }

  async openLayer(layer: LayerDescriptor): Promise<Readable> {
    if (this.archive === undefined) throw new ArborError('internal', `image: ${this.uri}: layer ${layer.diffId} asked for but not exported`);
    return this.archive.openLayer(layer);
  }

  async close(): Promise<void> {
    await this.archive?.close();
    this.archive = undefined;
    if (this.archivePath !== undefined) await rm(this.archivePath, { force: true });
    this.archivePath = undefined;
  }
}
