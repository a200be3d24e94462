import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ArborError, InvalidArgumentError, validateHandle } from '@arbor/core';
import type { DiskLimits, DiskStat, ImageRef, Rootfs, Volumizer } from '@arbor/core';

const run = promisify(execFile);

/** DEFAULT_ROOTFS is where scripts/build-rootfs.sh puts the busybox rootfs. */
export const DEFAULT_ROOTFS = '/var/lib/arbor/rootfs/busybox';

export interface OverlayVolumizerOptions {
  /** stateDir is like /var/lib/arbor; overlays live in <stateDir>/overlays/<handle>. */
  stateDir: string;
  /** defaultRootfs is a directory or 'raw:///dir' used when a spec has no image; '' means DEFAULT_ROOTFS. */
  defaultRootfs: string;
}

/**
 * OverlayVolumizer gives each container an overlay root: the image directory as the
 * read-only lower layer and a per-container upper layer, so containers never change the
 * image or each other. Only directories ('raw:///abs/dir' or the default rootfs) for now.
 */
export class OverlayVolumizer implements Volumizer {
  private readonly baseSizes = new Map<string, Promise<{ bytes: number; inodes: number }>>();

  constructor(private readonly options: OverlayVolumizerOptions) {}

  /** dir is like /var/lib/arbor/overlays/<handle>; handles over 128 characters are shortened with a hash. */
  dir(handle: string): string {
    validateHandle(handle);
    const name = handle.length <= 128 ? handle : `${handle.slice(0, 64)}-${createHash('sha256').update(handle).digest('hex').slice(0, 32)}`;
    return join(this.options.stateDir, 'overlays', name);
  }

  async create(handle: string, image: ImageRef, _disk: DiskLimits | undefined): Promise<Rootfs> {
    const base = await this.baseDir(image.uri);
    const dir = this.dir(handle);
    const upper = join(dir, 'upper');
    const work = join(dir, 'work');
    const rootfs = join(dir, 'rootfs');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // the upper dir's mode becomes the mode of the container's / : it must be 0755
    for (const p of [upper, work, rootfs]) await mkdir(p, { recursive: true, mode: 0o755 });
    if (!(await isMountPoint(rootfs))) {
      try {
        await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${upper},workdir=${work}`, rootfs]);
      } catch (err) {
        throw new ArborError('internal', `volumizer.create ${handle}: mount overlay: ${stderrOf(err)}`, { cause: err });
      }
    }
    return { path: rootfs, env: [], user: '', workingDir: '', entrypoint: [], cmd: [] };
  }

  async destroy(handle: string): Promise<void> {
    const dir = this.dir(handle);
    const rootfs = join(dir, 'rootfs');
    if (await isMountPoint(rootfs)) {
      try {
        await run('umount', [rootfs]);
      } catch (err) {
        throw new ArborError('internal', `volumizer.destroy ${handle}: umount: ${stderrOf(err)}`, { cause: err });
      }
    }
    await rm(dir, { recursive: true, force: true });
  }

  /** limitDisk is accepted and not enforced yet: disk quotas come with the images work. */
  async limitDisk(_handle: string, _disk: DiskLimits): Promise<void> {}

  async metrics(handle: string): Promise<DiskStat> {
    const dir = this.dir(handle);
    const upper = await usage(join(dir, 'upper'));
    const base = await this.baseUsage(await readLowerDir(join(dir, 'rootfs')));
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

  private async baseDir(uri: string): Promise<string> {
    let dir: string;
    if (uri === '') {
      const configured = this.options.defaultRootfs;
      dir = configured === '' ? DEFAULT_ROOTFS : configured.startsWith('raw://') ? configured.slice('raw://'.length) : configured;
    } else if (uri.startsWith('raw://')) {
      dir = uri.slice('raw://'.length);
    } else {
      throw new InvalidArgumentError(
        'image.uri',
        `'${uri}' is not supported by this backend yet: use 'raw:///abs/dir' or leave it empty (docker and OCI images come with the images work)`,
      );
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

function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim();
}
