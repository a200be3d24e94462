import { createHash } from 'node:crypto';
import { lstat, mkdir, opendir, readFile, readdir, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArborError, HostPreconditionError, InvalidArgumentError, MIN_DISK_LIMIT_BYTES, validateHandle } from '@arbor/core';
import type { CallContext, DiskLimits, DiskStat, ImagePullProgress, ImageRef, Logger, PulledImageInfo, Rootfs, UserIds, Volumizer } from '@arbor/core';
import type Dockerode from 'dockerode';
import type { ImageDefaults } from './image-config';
import { BtrfsQuotaVolumes } from './btrfs-quota-volumes';
import { ImagePuller, pulledImageInfo } from './image-puller';
import { parseImageUri } from './image-uri';
import { OverlayMounter } from './overlay-mounter';
import { LayerStore, type GcResult } from './layer-store';
import type { QuotaVolumes } from './quota-volumes';

/** DEFAULT_ROOTFS is where scripts/build-rootfs.sh puts the busybox rootfs. */
export const DEFAULT_ROOTFS = '/var/lib/arbor/rootfs/busybox';

/** MAX_MOUNT_OPTIONS is the longest mount data the kernel takes: one 4 KiB page with its NUL. */
const MAX_MOUNT_OPTIONS = 4095;

/** IMAGE_MARKER, in a container's overlay dir, says the container holds a reference in the LayerStore. */
const IMAGE_MARKER = 'image';

const NO_DEFAULTS: ImageDefaults = { env: [], user: '', workingDir: '', entrypoint: [], cmd: [] };

/** NO_UPPER_FILESYSTEMS names, by statfs type, filesystems the kernel refuses as overlay upper dirs. */
const NO_UPPER_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x794c7630, 'overlayfs (as inside a container, without a volume)'],
  [0x6969, 'NFS'],
]);

export interface OverlayVolumizerOptions {
  /** stateDir is like /var/lib/arbor; overlays live in <stateDir>/overlays/<handle>. */
  stateDir: string;
  /** defaultRootfs is a directory or 'raw:///dir' used when a spec has no image; '' means DEFAULT_ROOTFS. */
  defaultRootfs: string;
  /** docker serves docker-daemon: images; by default the engine at DOCKER_HOST or /var/run/docker.sock. */
  docker?: Dockerode;
  logger?: Logger;
  /** quotaSizeBytes sizes <stateDir>/volumes.btrfs when it is made; absent means 90% of the free space, at most 256 GiB. */
  quotaSizeBytes?: number;
  /** mountHelperPath is the arbor-mount coprocess, like native/build/arbor-mount; '' spawns mount(8)/umount(8); absent means found beside the repository. */
  mountHelperPath?: string;
  /** volumes holds the per-container dirs; absent means BtrfsQuotaVolumes over stateDir (or, where it cannot work, UnenforcedQuotaVolumes). */
  volumes?: QuotaVolumes;
  /** maxUnpackedBytes bounds what one image pull unpacks (see LayerStoreOptions); absent means DEFAULT_MAX_UNPACKED_BYTES. */
  maxUnpackedBytes?: number;
}

/**
 * OverlayVolumizer gives each container an overlay root: the image's read-only layers below
 * and a per-container upper layer, so containers never change the image or each other.
 * A directory ('raw:///abs/dir' or the default rootfs) is one lower layer; any other image
 * URI is pulled by an ImagePuller into one LayerStore under <stateDir>/images, and the
 * container keeps its layers alive with the reference 'container:<handle>' until destroy.
 *
 * Disk limits: each container dir (upper, work, rootfs mount point) is one QuotaVolumes
 * volume, by default a btrfs subvolume with a qgroup limit (see BtrfsQuotaVolumes). Scope
 * 'exclusive' caps the container's writes at byteHard; 'total' caps them at byteHard minus
 * the image's size. Where the host cannot enforce (no btrfs-progs, no loop device), the
 * volumizer logs 'disk-quotas-unavailable' with the reason at first use and keeps working
 * without limits, but a create or limitDisk asking for a byteHard > 0 fails with
 * failedPrecondition naming that reason. inodeHard is accepted and not enforced.
 */
export class OverlayVolumizer implements Volumizer {
  private readonly baseSizes = new Map<string, Promise<{ bytes: number; inodes: number }>>();
  private images: Promise<{ store: LayerStore; puller: ImagePuller }> | undefined;
  private gcQueued: Promise<GcResult> | undefined;
  private gcDone: Promise<unknown> = Promise.resolve();
  private quotaVolumes: Promise<QuotaVolumes> | undefined;
  private readonly mounter: OverlayMounter;

  constructor(private readonly options: OverlayVolumizerOptions) {
    this.mounter = new OverlayMounter(options.mountHelperPath);
  }

  /** dir is like /var/lib/arbor/overlays/<handle>; handles over 128 characters are shortened with a hash. */
  dir(handle: string): string {
    validateHandle(handle);
    const name = handle.length <= 128 ? handle : `${handle.slice(0, 64)}-${createHash('sha256').update(handle).digest('hex').slice(0, 32)}`;
    return join(this.options.stateDir, 'overlays', name);
  }

  /**
   * create mounts the container's root; with disk.byteHard > 0 its writes are capped first.
   * @throws InvalidArgumentError for a bad image URI, or a 'total' byteHard the image alone fills
   * @throws ArborError failedPrecondition for a byteHard > 0 on a host that cannot enforce it
   * @throws HostPreconditionError when the state dir is on a filesystem overlay cannot write to (overlayfs, NFS)
   */
  async create(handle: string, image: ImageRef, disk: DiskLimits | undefined, ctx?: CallContext, userIds?: UserIds): Promise<Rootfs> {
    const dir = this.dir(handle);
    const upper = join(dir, 'upper');
    const work = join(dir, 'work');
    const rootfs = join(dir, 'rootfs');
    // a bad image URI fails before the quota filesystem is touched
    let lowerDirs: string[] = [];
    if (isDirectoryUri(image.uri)) lowerDirs = [await this.baseDir(image.uri)];
    else parseImageUri(image.uri);
    const volumes = await this.volumes();
    if (disk && disk.byteHard > 0) assertEnforced(volumes, handle, disk.byteHard);
    let defaults = NO_DEFAULTS;
    if (isDirectoryUri(image.uri)) {
      await volumes.create(dir);
    } else {
      const { puller } = await this.imageStore();
      await volumes.create(dir);
      // written before the pull so that destroy, even of a half-made container, drops the reference
      await writeFile(join(dir, IMAGE_MARKER), image.uri);
      const pulled = await puller.pull(image, { owner: containerOwner(handle) });
      lowerDirs = pulled.layerDirs;
      defaults = pulled.defaults;
    }
    for (const lower of lowerDirs) {
      if (/[,:\\]/.test(lower)) {
        throw new InvalidArgumentError('image.uri', `layer directory '${lower}' must not contain ',', ':' or '\\' (overlay options)`);
      }
    }
    const options = `lowerdir=${lowerDirs.join(':')},upperdir=${upper},workdir=${work}`;
    if (Buffer.byteLength(options) > MAX_MOUNT_OPTIONS) {
      throw new InvalidArgumentError(
        'image.uri',
        `'${image.uri}' has ${lowerDirs.length} layers: their overlay mount options take ${Buffer.byteLength(options)} bytes, over the kernel's ${MAX_MOUNT_OPTIONS}; images with this many layers are not supported yet`,
      );
    }
    if (disk && disk.byteHard > 0) await volumes.limit(dir, await this.quotaBytes(disk, lowerDirs, this.imageName(image.uri, lowerDirs)));
    // the upper dir's mode becomes the mode of the container's / : it must be 0755
    for (const p of [upper, work, rootfs]) await mkdir(p, { recursive: true, mode: 0o755 });
    // for a user namespace, one mount idmapped at once (without the helper, the containerizer idmaps it)
    const idmappedFor = userIds && this.mounter.canIdmap ? userIds : undefined;
    if (!(await isMountPoint(rootfs))) {
      try {
        if (idmappedFor) await this.mounter.idmappedOverlay(rootfs, idmappedFor, options);
        else await this.mounter.overlay(rootfs, options);
      } catch (err) {
        if (ArborError.is(err) && err.kind === 'failedPrecondition') throw err;
        const refused = NO_UPPER_FILESYSTEMS.get((await statfs(upper).catch(() => undefined))?.type ?? 0);
        if (refused) {
          throw new HostPreconditionError(
            `volumizer.create ${handle}: ${upper} is on ${refused}, which overlay cannot use for a container's writes: ` +
              `put arbord's state dir (${this.options.stateDir}) on ext4, xfs or btrfs`,
            { cause: err },
          );
        }
        throw new ArborError('internal', `volumizer.create ${handle}: ${(err as Error).message}`, { cause: err });
      }
    }
    (ctx?.logger ?? this.options.logger)?.debug('rootfs-mounted', { rootfs, layers: lowerDirs.length, idmapped: idmappedFor !== undefined });
    return { path: rootfs, ...defaults, ...(idmappedFor && { idmappedFor }) };
  }

  /** pull fetches image into the layer store ahead of create (Client.pullImage); a directory needs no pull. */
  async pull(image: ImageRef, onProgress: (progress: ImagePullProgress) => void): Promise<PulledImageInfo> {
    if (isDirectoryUri(image.uri)) {
      await this.baseDir(image.uri); // a missing directory fails here, as it would in create
      return { id: '', layers: 0, ...NO_DEFAULTS };
    }
    const { puller } = await this.imageStore();
    return pulledImageInfo(await puller.pull(image, { onPullProgress: onProgress }));
  }

  /**
   * destroy unmounts the container's root, drops its reference to image layers and then
   * collects the layers no container uses (see gc).
   */
  async destroy(handle: string, ctx?: CallContext): Promise<void> {
    const log = ctx?.logger ?? this.options.logger;
    const dir = this.dir(handle);
    const rootfs = join(dir, 'rootfs');
    if (await isMountPoint(rootfs)) {
      try {
        await this.mounter.umount(rootfs);
      } catch (err) {
        throw new ArborError('internal', `volumizer.destroy ${handle}: ${(err as Error).message}`, { cause: err });
      }
    }
    if (await exists(join(dir, IMAGE_MARKER))) {
      const { store } = await this.imageStore();
      await store.removeReference(containerOwner(handle));
      await this.gc().catch((err: unknown) => log?.error('image-gc-failed', { handle, error: String(err) }));
    }
    // a container never made needs no quota filesystem mounted to be destroyed; one made
    // before a reboot (its dir unseen until the filesystem is mounted again) does
    if (this.quotaVolumes === undefined && !(await exists(dir)) && !(await exists(join(this.options.stateDir, 'volumes.btrfs')))) return;
    const volumes = await this.volumes();
    await volumes.remove(dir);
  }

  /**
   * gc removes the pulled layers no container references (image references are dropped,
   * so an image no container uses is pulled again next time). Calls made while one gc waits
   * to start share it, so a burst of destroys costs at most two passes over the store.
   */
  gc(): Promise<GcResult> {
    if (this.gcQueued !== undefined) return this.gcQueued;
    const queued = this.gcDone.then(async () => {
      this.gcQueued = undefined;
      const { store } = await this.imageStore();
      return store.gc({ dropImages: true });
    });
    this.gcQueued = queued;
    this.gcDone = queued.catch(() => undefined);
    return queued;
  }

  /** layerStore is the store pulled images live in, <stateDir>/images, made on first use. */
  async layerStore(): Promise<LayerStore> {
    return (await this.imageStore()).store;
  }

  /**
   * limitDisk changes the cap on a live container's writes (byteHard 0 removes it); writes
   * already made stay, further ones fail with EDQUOT once over.
   * @throws InvalidArgumentError for a 'total' byteHard the image alone fills
   * @throws ArborError failedPrecondition for a byteHard > 0 on a host that cannot enforce it
   */
  async limitDisk(handle: string, disk: DiskLimits): Promise<void> {
    const dir = this.dir(handle);
    const volumes = await this.volumes();
    if (disk.byteHard > 0) assertEnforced(volumes, handle, disk.byteHard);
    const lowerDirs = (await readLowerDir(join(dir, 'rootfs')))?.split(':') ?? [];
    const pulled = await readFile(join(dir, IMAGE_MARKER), 'utf8').catch(() => undefined);
    await volumes.limit(dir, await this.quotaBytes(disk, lowerDirs, this.imageName(pulled ?? `raw://${lowerDirs[0] ?? ''}`, lowerDirs)));
  }

  /**
   * metrics: with quotas on, exclusiveBytesUsed is the container volume's bytes on disk from
   * its qgroup (blocks, not file sizes) and inodes are counted from directory entries alone;
   * without quotas both come from a walk of the upper dir.
   */
  async metrics(handle: string): Promise<DiskStat> {
    const dir = this.dir(handle);
    const volumes = await this.volumes();
    const quotaBytes = await volumes.usage(dir);
    const upper = quotaBytes === undefined ? await usage(join(dir, 'upper')) : { bytes: quotaBytes, inodes: await countEntries(join(dir, 'upper')) };
    const base = await this.imageUsage((await readLowerDir(join(dir, 'rootfs')))?.split(':') ?? []);
    return {
      totalBytesUsed: upper.bytes + base.bytes,
      totalInodesUsed: upper.inodes + base.inodes,
      exclusiveBytesUsed: upper.bytes,
      exclusiveInodesUsed: upper.inodes,
    };
  }

  async capacity(): Promise<{ diskInBytes: number; schedulableDiskInBytes: number }> {
    await mkdir(this.options.stateDir, { recursive: true });
    const fs = await statfs(this.options.stateDir);
    return { diskInBytes: fs.blocks * fs.bsize, schedulableDiskInBytes: fs.bavail * fs.bsize };
  }

  /**
   * close lets go of the quota filesystem's loop mount when no container is left (arbord
   * stops); it stays mounted while containers run, and the next create mounts it again.
   * Destroy does not do this itself: a mount and unmount per container would cost ~20 ms
   * a cycle, and a file re-attached to a fresh loop device while the old one is still being
   * torn down can fail to mount.
   */
  async close(): Promise<void> {
    // another volumizer over this state dir (an arbord before a restart) may have mounted it
    if (this.quotaVolumes === undefined && !(await isMountPoint(join(this.options.stateDir, 'overlays')))) return;
    await (await this.volumes()).release();
  }

  /** volumes are opened at first use: that is when a host without quotas logs why (with the volumizer's logger: they outlive every call). */
  private volumes(): Promise<QuotaVolumes> {
    this.quotaVolumes ??= this.options.volumes
      ? Promise.resolve(this.options.volumes)
      : BtrfsQuotaVolumes.open({
          stateDir: this.options.stateDir,
          mounter: this.mounter,
          ...(this.options.quotaSizeBytes !== undefined && { sizeBytes: this.options.quotaSizeBytes }),
          ...(this.options.logger && { logger: this.options.logger }),
        });
    return this.quotaVolumes;
  }

  /**
   * quotaBytes is the cap on a container's own writes: byteHard, less the image for scope
   * 'total'; 0 is none. imageName names the image in errors, like 'docker:///busybox'.
   * @throws InvalidArgumentError for a 'total' byteHard that leaves less than MIN_DISK_LIMIT_BYTES beside the image
   */
  private async quotaBytes(disk: DiskLimits, lowerDirs: string[], imageName: string): Promise<number> {
    if (disk.byteHard <= 0) return 0;
    if (disk.scope === 'exclusive') return disk.byteHard;
    const image = await this.imageUsage(lowerDirs);
    const left = disk.byteHard - image.bytes;
    // under about 256 KiB the root filesystem cannot even be made (see MIN_DISK_LIMIT_BYTES)
    if (left < MIN_DISK_LIMIT_BYTES) {
      const leaves = left <= 0 ? 'leaves nothing to write' : `leaves ${left} bytes to write, under the ${MIN_DISK_LIMIT_BYTES} a container needs`;
      throw new InvalidArgumentError(
        'limits.disk.byteHard',
        `${disk.byteHard} bytes with scope 'total' ${leaves}: the image, ${imageName}, alone takes ${image.bytes} bytes; give at least ${image.bytes + MIN_DISK_LIMIT_BYTES}, or scope 'exclusive'`,
      );
    }
    return left;
  }

  /** imageName is how errors name the image of uri: the URI, or for '' the default rootfs by its directory (the first of lowerDirs). */
  private imageName(uri: string, lowerDirs: string[]): string {
    return uri === '' ? `the default rootfs ${lowerDirs[0] ?? this.options.defaultRootfs}` : `'${uri}'`;
  }

  private async imageUsage(lowerDirs: string[]): Promise<{ bytes: number; inodes: number }> {
    let base = { bytes: 0, inodes: 0 };
    for (const lower of lowerDirs) {
      const layer = await this.baseUsage(lower);
      base = { bytes: base.bytes + layer.bytes, inodes: base.inodes + layer.inodes };
    }
    return base;
  }

  private imageStore(): Promise<{ store: LayerStore; puller: ImagePuller }> {
    this.images ??= (async () => {
      const store = new LayerStore({
        stateDir: this.options.stateDir,
        ...(this.options.logger && { logger: this.options.logger }),
        ...(this.options.maxUnpackedBytes !== undefined && { maxUnpackedBytes: this.options.maxUnpackedBytes }),
      });
      await store.init();
      const puller = new ImagePuller({
        store,
        ...(this.options.docker && { docker: this.options.docker }),
        ...(this.options.logger && { logger: this.options.logger }),
      });
      return { store, puller };
    })();
    // a failed init (say a read-only disk) is retried by the next create
    this.images.catch(() => {
      this.images = undefined;
    });
    return this.images;
  }

  private async baseDir(uri: string): Promise<string> {
    let dir: string;
    if (uri === '') {
      const configured = this.options.defaultRootfs;
      dir = configured === '' ? DEFAULT_ROOTFS : configured.startsWith('raw://') ? configured.slice('raw://'.length) : configured;
    } else if (uri.startsWith('raw://')) {
      dir = uri.slice('raw://'.length);
    } else {
      throw new InvalidArgumentError('image.uri', `'${uri}' is not a directory URI`);
    }
    if (!dir.startsWith('/')) throw new InvalidArgumentError('image.uri', `'${uri}' must name an absolute directory, like raw:///var/lib/rootfs`);
    if (/[,:\\]/.test(dir)) throw new InvalidArgumentError('image.uri', `'${dir}' must not contain ',', ':' or '\\' (overlay options)`);
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new InvalidArgumentError('image.uri', `rootfs directory ${dir} does not exist${uri === '' ? ': run scripts/build-rootfs.sh' : ''}`);
    }
    return dir;
  }

  private baseUsage(dir: string | undefined): Promise<{ bytes: number; inodes: number }> {
    if (!dir) return Promise.resolve({ bytes: 0, inodes: 0 });
    let size = this.baseSizes.get(dir);
    if (!size) {
      size = usage(dir);
      this.baseSizes.set(dir, size);
    }
    return size;
  }
}

/** isDirectoryUri tells the URIs served by a plain directory: '' (the default rootfs) and raw://. */
function isDirectoryUri(uri: string): boolean {
  return uri === '' || uri.startsWith('raw://');
}

function containerOwner(handle: string): string {
  return `container:${handle}`;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** usage counts the bytes and inodes under dir (hard links once), like du. */
async function usage(dir: string): Promise<{ bytes: number; inodes: number }> {
  const seen = new Set<number>();
  let bytes = 0;
  let inodes = 0;
  const walk = async (path: string): Promise<void> => {
    const st = await lstat(path).catch(() => undefined);
    if (!st || seen.has(st.ino)) return;
    seen.add(st.ino);
    inodes += 1;
    bytes += st.isDirectory() ? 0 : st.size;
    if (st.isDirectory()) {
      const names = await readdir(path).catch(() => [] as string[]);
      for (const name of names) await walk(join(path, name));
    }
  };
  await walk(dir);
  return { bytes, inodes };
}

/** countEntries counts the entries under dir and dir itself from directory reads alone (no stat per file). */
async function countEntries(dir: string): Promise<number> {
  let count = 1;
  const handle = await opendir(dir).catch(() => undefined);
  if (!handle) return 0;
  for await (const entry of handle) {
    count += entry.isDirectory() ? await countEntries(join(dir, entry.name)) : 1;
  }
  return count;
}

/** assertEnforced fails a real byte limit on a host where QuotaVolumes cannot enforce one. */
function assertEnforced(volumes: QuotaVolumes, handle: string, byteHard: number): void {
  if (volumes.unenforcedReason) {
    throw new ArborError(
      'failedPrecondition',
      `volumizer ${handle}: disk limit byteHard ${byteHard} cannot be enforced on this host: ${volumes.unenforcedReason}`,
    );
  }
}

/** isMountPoint tells whether path is a mount point in arbord's mount namespace. */
async function isMountPoint(path: string): Promise<boolean> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === path);
}

/** readLowerDir returns the lowerdir of the overlay mounted at path. */
async function readLowerDir(path: string): Promise<string | undefined> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const line = mountinfo.split('\n').find((l) => l.split(' ')[4] === path);
  return line?.match(/lowerdir=([^,\s]+)/)?.[1];
}
