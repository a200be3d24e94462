import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { ArborError, ContainerNotFoundError, InvalidArgumentError } from '@arbor/core';
import type { DiskLimits, DiskStat, ImageRef, PulledImageInfo, Rootfs, Volumizer } from '@arbor/core';
import { BUSYBOX_APPLETS, buildDefaultRootfs } from './fs/default-rootfs';
import { FakeFilesystem } from './fs/fake-filesystem';
import { readHostTree } from './fs/read-host-tree';

export interface FakeVolumizerOptions {
  /** diskInBytes is what capacity reports; absent: the size of the filesystem holding the tmp dir. */
  diskInBytes?: number;
  now?: () => number;
}

/**
 * checkRoomToWrite refuses a byteHard of scope 'total' that the image alone fills, as the
 * host's overlay volumizer does: the container could write nothing.
 * @throws InvalidArgumentError('limits.disk.byteHard')
 */
function checkRoomToWrite(fs: FakeFilesystem, disk: DiskLimits | undefined, what: string): void {
  if (!disk || disk.byteHard <= 0 || disk.scope !== 'total') return;
  const { totalBytesUsed, exclusiveBytesUsed } = fs.stat();
  const image = totalBytesUsed - exclusiveBytesUsed;
  if (image >= disk.byteHard) {
    throw new InvalidArgumentError(
      'limits.disk.byteHard',
      `${disk.byteHard} bytes with scope 'total' leaves nothing to write: the image of ${what} alone takes ${image} bytes`,
    );
  }
}

/**
 * FakeVolumizer gives each container its own in-memory filesystem: the fake busybox-like
 * default rootfs for image uri '', or a copy of a host directory for 'raw:///abs/dir'
 * (the directory itself is never written). Disk usage is counted exactly, and a byteHard
 * limit makes writes fail with ENOSPC.
 */
export class FakeVolumizer implements Volumizer {
  private readonly filesystems = new Map<string, FakeFilesystem>();
  private readonly now: () => number;
  // defaultImage is the default rootfs built at the first create that asks for it; each container gets a clone
  private defaultImage: FakeFilesystem | undefined;

  constructor(private readonly options: FakeVolumizerOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  async create(handle: string, image: ImageRef, disk: DiskLimits | undefined): Promise<Rootfs> {
    if (this.filesystems.has(handle)) {
      throw new ArborError('alreadyExists', `fake volumizer: '${handle}' already has a rootfs`);
    }
    const fs = await this.load(image.uri);
    fs.sealImage();
    checkRoomToWrite(fs, disk, image.uri);
    fs.setLimits(disk);
    this.filesystems.set(handle, fs);
    return { path: '', env: [], user: '', workingDir: '', entrypoint: [], cmd: [] };
  }

  /**
   * pull checks the image as create would (the fake keeps no image store, so nothing is
   * fetched) and reports it with no id and no defaults; the Gardener sends the 'done' event.
   */
  async pull(image: ImageRef): Promise<PulledImageInfo> {
    await this.load(image.uri);
    return { id: '', layers: 0, env: [], user: '', workingDir: '', entrypoint: [], cmd: [] };
  }

  async destroy(handle: string): Promise<void> {
    this.filesystems.delete(handle);
  }

  async limitDisk(handle: string, disk: DiskLimits): Promise<void> {
    const fs = this.filesystem(handle);
    checkRoomToWrite(fs, disk, handle);
    fs.setLimits(disk);
  }

  async metrics(handle: string): Promise<DiskStat> {
    return this.filesystem(handle).stat();
  }

  async capacity(): Promise<{ diskInBytes: number; schedulableDiskInBytes: number }> {
    let disk = this.options.diskInBytes ?? 0;
    if (disk <= 0) {
      const st = await statfs(tmpdir());
      disk = st.bsize * st.blocks;
    }
    return { diskInBytes: disk, schedulableDiskInBytes: disk };
  }

  hasFilesystem(handle: string): boolean {
    return this.filesystems.has(handle);
  }

  /** filesystem returns the container's filesystem. @throws ContainerNotFoundError */
  filesystem(handle: string): FakeFilesystem {
    const fs = this.filesystems.get(handle);
    if (!fs) throw new ContainerNotFoundError(handle);
    return fs;
  }

  private async load(uri: string): Promise<FakeFilesystem> {
    if (uri === '') return (this.defaultImage ??= buildDefaultRootfs(BUSYBOX_APPLETS, this.now)).clone();
    if (uri.startsWith('raw://')) {
      const dir = uri.slice('raw://'.length);
      if (!dir.startsWith('/')) {
        throw new InvalidArgumentError('image.uri', `'${uri}' must name an absolute directory, like raw:///var/lib/rootfs`);
      }
      const tree = await readHostTree(dir, 'directory', 'image.uri', `'${uri}'`);
      const fs = new FakeFilesystem(this.now);
      tree(fs, fs.root);
      addMounts(fs);
      return fs;
    }
    throw new InvalidArgumentError(
      'image.uri',
      `'${uri}' is not served by the fake backend: use '' for its default rootfs or raw:///abs/dir for a host directory`,
    );
  }
}

/** addMounts adds what every container gets whatever its image: /dev nodes, a sticky /tmp and /etc. */
function addMounts(fs: FakeFilesystem): void {
  for (const dir of ['/dev', '/etc']) if (!fs.tryResolve(dir)) fs.mkdir(dir, 0o755);
  const tmp = fs.tryResolve('/tmp');
  if (!tmp) fs.mkdir('/tmp', 0o1777);
  else if (tmp.inode.kind === 'dir') fs.chmod(tmp.inode, 0o1777);
  for (const kind of ['null', 'zero', 'urandom'] as const) {
    const found = fs.tryResolve(`/dev/${kind}`, { follow: false });
    if (found?.inode.kind === 'device') continue;
    if (found) fs.unlink(`/dev/${kind}`);
    fs.mknod(`/dev/${kind}`, kind, 0o666);
  }
}
