import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, open, readFile, readdir, rm, statfs } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { ArborError, HostPreconditionError } from '@arbor/core';
import { replaceAtomically } from '@arbor/depot';
import type { Logger } from '@arbor/core';
import { OverlayMounter } from './overlay-mounter';
import type { QuotaVolumes } from './quota-volumes';
import { UnenforcedQuotaVolumes } from './unenforced-quota-volumes';

const run = promisify(execFile);

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** DEFAULT_MAX_SIZE caps the backing file made when no size is given: it is sparse, but a cap keeps a full fs from looking roomy. */
const DEFAULT_MAX_SIZE = 256 * GiB;
/** MIN_SIZE: mkfs.btrfs refuses much less (two copies of metadata, system chunks). */
const MIN_SIZE = 256 * MiB;

/**
 * LOOP_DETACH_TIMEOUT_MS bounds release's wait for the loop device to go. It outlives the
 * unmount while another mount namespace holds a copy of the mount: one made by arbor-create or
 * runc for a container copies it for the few milliseconds until its pivot_root.
 */
const LOOP_DETACH_TIMEOUT_MS = 5000;

/** SUBVOLUME_INO is the inode number of every btrfs subvolume's root directory. */
const SUBVOLUME_INO = 256;

export interface BtrfsQuotaVolumesOptions {
  /** stateDir is like /var/lib/arbor: volumes live in <stateDir>/overlays, backed by <stateDir>/volumes.btrfs. */
  stateDir: string;
  /** sizeBytes is the backing file's size when it is made; 0 or absent means 90% of the free space, at most 256 GiB. */
  sizeBytes?: number;
  logger?: Logger;
  /** mkfsPath is mkfs.btrfs, like /usr/sbin/mkfs.btrfs; absent means found on PATH. */
  mkfsPath?: string;
  /**
   * mounter is the arbor-mount coprocess (the volumizer's own): with its helper, the filesystem
   * is mounted and unmounted and subvolumes are made, capped, counted and deleted with syscalls
   * in it (about a millisecond each); absent or without a helper, each of those spawns mount(8),
   * umount(8) or btrfs(8) (around 10 ms each, a commit on delete).
   */
  mounter?: OverlayMounter;
  /** loopDetachTimeoutMs bounds each wait for the loop device to go after an unmount; absent means LOOP_DETACH_TIMEOUT_MS. */
  loopDetachTimeoutMs?: number;
}

/**
 * BtrfsQuotaVolumes makes each container dir a btrfs subvolume with a qgroup limit, on a
 * btrfs filesystem in a sparse file (<stateDir>/volumes.btrfs) loop-mounted at
 * <stateDir>/overlays. Why btrfs: XFS project quotas and ext4 project quotas need
 * CONFIG_XFS_QUOTA and CONFIG_QFMT_V2, which kernels like this host's leave out, while btrfs
 * qgroups come with btrfs itself. A qgroup is named by its subvolume's id, which btrfs never
 * reuses, lives inside the filesystem (so limits survive a restart of arbord or of the host)
 * and is dropped by the kernel once its deleted subvolume is cleaned.
 *
 * The filesystem is mounted at first use when the file exists (after a reboot) and is
 * unmounted by release() when no container dir is left, so that an idle arbord holds no
 * loop device and a state dir can be removed. inodeHard is not enforced: qgroups count bytes.
 */
export class BtrfsQuotaVolumes implements QuotaVolumes {
  readonly unenforcedReason = '';
  private queue: Promise<unknown> = Promise.resolve();
  /** helper does the btrfs ioctls; undefined means btrfs(8). */
  private readonly helper: OverlayMounter | undefined;
  /** counter runs usage's commits in a coprocess of their own: a commit of much dirty data must not hold up creates and destroys queued behind it. */
  private counter: OverlayMounter | undefined;
  /** lingering is a loop device, like /dev/loop3, still backing the image when release gave up waiting for it. */
  private lingering: string | undefined;

  private constructor(private readonly options: BtrfsQuotaVolumesOptions) {
    this.helper = options.mounter?.helperPath ? options.mounter : undefined;
  }

  /** root is like /var/lib/arbor/overlays. */
  get root(): string {
    return join(this.options.stateDir, 'overlays');
  }

  /** image is like /var/lib/arbor/volumes.btrfs. */
  get image(): string {
    return join(this.options.stateDir, 'volumes.btrfs');
  }

  /**
   * open mounts (making it first if needed) the quota filesystem of stateDir and returns it;
   * when this host cannot (no btrfs-progs, no loop device, the overlays dir already holds
   * containers made without quotas) it logs why once and returns UnenforcedQuotaVolumes.
   * Later, create throws HostPreconditionError for the same reasons (the filesystem is
   * mounted again after release).
   */
  static async open(options: BtrfsQuotaVolumesOptions): Promise<QuotaVolumes> {
    const volumes = new BtrfsQuotaVolumes(options);
    try {
      await volumes.serial(() => volumes.ensureMounted());
      return volumes;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      options.logger?.error('disk-quotas-unavailable', { stateDir: options.stateDir, reason });
      return new UnenforcedQuotaVolumes(reason);
    }
  }

  create(dir: string): Promise<void> {
    return this.serial(async () => {
      await this.ensureMounted();
      if (await exists(dir)) return;
      if (this.helper) {
        await this.helped('create', dir, (helper) => helper.subvolumeCreate(dir));
        return;
      }
      await this.btrfs('create', ['subvolume', 'create', dir]);
      await chmod(dir, 0o700);
    });
  }

  async limit(dir: string, bytes: number): Promise<void> {
    if (this.helper) {
      await this.helped('limit', dir, (helper) => helper.qgroupLimit(dir, Math.max(0, bytes)));
      return;
    }
    await this.btrfs('limit', ['qgroup', 'limit', bytes > 0 ? String(bytes) : 'none', dir]);
  }

  /** usage commits the filesystem first: qgroups count a write only once its transaction is committed. */
  async usage(dir: string): Promise<number | undefined> {
    if (this.helper) {
      this.counter ??= new OverlayMounter(this.helper.helperPath);
      const counter = this.counter;
      return (await this.helped('usage', dir, () => counter.qgroupUsage(dir))).referenced;
    }
    await this.btrfs('usage', ['filesystem', 'sync', this.root]);
    const out = await this.btrfs('usage', ['qgroup', 'show', '--raw', '-f', dir]);
    const row = out.split('\n').find((line) => line.startsWith('0/'));
    const referenced = Number(row?.trim().split(/\s+/)[1]);
    if (!Number.isFinite(referenced)) throw new ArborError('internal', `volumizer.quota usage ${dir}: no qgroup in: ${out.trim()}`);
    return referenced;
  }

  remove(dir: string): Promise<void> {
    return this.serial(async () => {
      const st = await lstat(dir).catch(() => undefined);
      if (!st) return;
      // a dir made before this mechanism (or a half-made one) is a plain directory
      if (!st.isDirectory() || st.ino !== SUBVOLUME_INO) await rm(dir, { recursive: true, force: true });
      // the helper starts the commit that lets the cleaner drop the subvolume and its qgroup, and does not wait for it
      else if (this.helper) await this.helped('remove', dir, (helper) => helper.subvolumeDelete(dir));
      else await this.btrfs('remove', ['subvolume', 'delete', '--commit-after', dir]);
    });
  }

  release(): Promise<void> {
    return this.serial(async () => {
      if ((await mountType(this.root)) !== 'btrfs') return;
      if ((await readdir(this.root)).length > 0) return;
      const device = await mountSource(this.root);
      try {
        if (this.helper) await this.helper.umount(this.root);
        else await run('umount', [this.root]);
      } catch (err) {
        // busy (a shell cd'd into it, say): stay mounted, the next release tries again
        this.options.logger?.error('disk-quota-release-failed', { root: this.root, error: stderrOf(err) });
        return;
      }
      // so that a mount after release never attaches the image to a second loop device (a
      // second instance of the same btrfs) while the first is still there
      if (device && !(await this.loopDetached(device))) {
        this.lingering = device;
        this.options.logger?.error('disk-quota-loop-still-attached', {
          device,
          image: this.image,
          reason: `still attached ${this.loopDetachTimeoutMs} ms after the unmount: another mount namespace holds a copy of ${this.root}`,
        });
      }
    });
  }

  /** loopDetached waits up to LOOP_DETACH_TIMEOUT_MS for device, like /dev/loop3, to back this image no more, and says whether it did. */
  private async loopDetached(device: string): Promise<boolean> {
    const backingFile = `/sys/block/${basename(device)}/loop/backing_file`;
    const deadline = Date.now() + this.loopDetachTimeoutMs;
    for (;;) {
      const backing = await readFile(backingFile, 'utf8').catch(() => '');
      if (backing.trim() !== this.image) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private get loopDetachTimeoutMs(): number {
    return this.options.loopDetachTimeoutMs ?? LOOP_DETACH_TIMEOUT_MS;
  }

  /**
   * ensureMounted is idempotent; it runs under serial so that release cannot unmount beneath it.
   * It never attaches the image to a new loop device while the one release left still backs it:
   * that would be a second instance of the same btrfs, both writing the one file.
   */
  private async ensureMounted(): Promise<void> {
    const type = await mountType(this.root);
    if (type === 'btrfs') return;
    if (type !== undefined) {
      throw new HostPreconditionError(`volumizer: ${this.root} is a ${type} mount, not the btrfs this volumizer makes: unmount it (umount ${this.root})`);
    }
    if (this.lingering) {
      if (!(await this.loopDetached(this.lingering))) {
        throw new HostPreconditionError(
          `volumizer: ${this.image} is still attached to ${this.lingering}, because another mount namespace holds a copy of ${this.root} (a process that unshared its mounts while it was mounted): end that process, then create again`,
        );
      }
      this.lingering = undefined;
    }
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const entries = await readdir(this.root);
    if (entries.length > 0) {
      throw new HostPreconditionError(
        `volumizer: ${this.root} holds ${entries.length} entries on the state dir's own filesystem (containers made without disk quotas): destroy them to enable quotas`,
      );
    }
    if (!(await exists(this.image))) await this.makeImage();
    if (this.helper) {
      // the same steps as below without two processes: the bench's create-destroy cycle takes them each time
      const helper = this.helper;
      await helper.btrfsLoop(this.root, this.image).catch((err: unknown) => {
        throw loopMountError(this.image, this.root, (err as Error).message, err);
      });
      await this.helped('mount', this.root, () => helper.quotaEnable(this.root));
      await chmod(this.root, 0o700);
      return;
    }
    try {
      await run('mount', ['-t', 'btrfs', '-o', 'loop', this.image, this.root]);
    } catch (err) {
      throw loopMountError(this.image, this.root, stderrOf(err), err);
    }
    await this.btrfs('mount', ['quota', 'enable', this.root]);
    await chmod(this.root, 0o700);
  }

  /** makeImage makes the sparse backing file under a temporary name, so that a crash never leaves a half-made one. */
  private async makeImage(): Promise<void> {
    let size = this.options.sizeBytes ?? 0;
    if (size <= 0) {
      const fs = await statfs(this.options.stateDir);
      size = Math.min(DEFAULT_MAX_SIZE, Math.floor((fs.bavail * fs.bsize * 0.9) / MiB) * MiB);
    }
    if (size < MIN_SIZE) {
      throw new HostPreconditionError(
        `volumizer: ${this.image} would get ${Math.floor(size / MiB)} MiB, under the ${MIN_SIZE / MiB} MiB btrfs needs: free space in ${this.options.stateDir}`,
      );
    }
    // not synced: a host crash before the first container is a fresh image at the next start
    await replaceAtomically(
      this.image,
      async (tmp) => {
        const file = await open(tmp, 'wx', 0o600);
        try {
          await file.truncate(size);
        } finally {
          await file.close();
        }
        await run(this.options.mkfsPath ?? 'mkfs.btrfs', ['-q', '-f', tmp]).catch((err: unknown) => {
          throw mkfsError(this.options.mkfsPath ?? 'mkfs.btrfs', tmp, err);
        });
      },
      { sync: false },
    );
    this.options.logger?.info('disk-quota-filesystem-made', { image: this.image, sizeBytes: size });
  }

  private async helped<T>(step: string, dir: string, fn: (helper: OverlayMounter) => Promise<T>): Promise<T> {
    try {
      return await fn(this.helper as OverlayMounter);
    } catch (err) {
      throw new ArborError('internal', `volumizer.quota ${step} ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async btrfs(step: string, args: string[]): Promise<string> {
    try {
      return (await run('btrfs', args)).stdout;
    } catch (err) {
      throw new ArborError('internal', `volumizer.quota ${step}: btrfs ${args.join(' ')}: ${stderrOf(err)}`, { cause: err });
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** mkfsError says why mkfs (like 'mkfs.btrfs') failed on tmp: not installed is the host's to fix. */
function mkfsError(mkfs: string, tmp: string, err: unknown): ArborError {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    return new HostPreconditionError(`volumizer: ${mkfs} not found: install btrfs-progs (apt-get install btrfs-progs)`, { cause: err });
  }
  return new ArborError('internal', `volumizer: ${mkfs} ${tmp}: ${stderrOf(err)}`, { cause: err });
}

/** loopMountError: the quota filesystem would not mount, which takes loop devices and btrfs in the host's kernel. */
function loopMountError(image: string, root: string, why: string, cause: unknown): ArborError {
  return new HostPreconditionError(
    `volumizer: cannot mount ${image} (btrfs, loop) at ${root}: ${why}: the host needs free loop devices and btrfs (modprobe loop btrfs)`,
    { cause },
  );
}

/** mountType is the filesystem type mounted at path in arbord's mount namespace (the topmost), or undefined. */
async function mountType(path: string): Promise<string | undefined> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  let type: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const [fields = '', rest = ''] = line.split(' - ');
    if (fields.split(' ')[4] === path) type = rest.split(' ')[0];
  }
  return type;
}

/** mountSource is the device mounted at path in arbord's mount namespace (the topmost), like /dev/loop3, or undefined. */
async function mountSource(path: string): Promise<string | undefined> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  let source: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const [fields = '', rest = ''] = line.split(' - ');
    if (fields.split(' ')[4] === path) source = rest.split(' ')[1];
  }
  return source?.startsWith('/dev/loop') ? source : undefined;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim();
}
