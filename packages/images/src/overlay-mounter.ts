import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { ArborError } from '@arbor/core';
import type { UserIds } from '@arbor/core';
import { Coprocess, helperEnvVariable, helperPath, idmapUnsupported, lineCodec } from '@arbor/host';

const run = promisify(execFile);

/**
 * findMountHelper locates arbor-mount through helperPath: ARBOR_MOUNT_HELPER, else
 * native/build/arbor-mount of this repository (like /work/main/native/build/arbor-mount);
 * '' when that is absent.
 */
export function findMountHelper(): string {
  const path = helperPath('arbor-mount');
  return process.env[helperEnvVariable('arbor-mount')] || existsSync(path) ? path : '';
}

/**
 * OverlayMounter mounts and unmounts container overlays through arbor-mount, a coprocess
 * doing mount(2)/umount2(2) (see native/arbor-mount): a syscall per mount instead of a
 * mount(8) process. Without the helper (helperPath '') it runs mount(8)/umount(8). The
 * same coprocess mounts the quota filesystem and makes, caps, counts and deletes its btrfs
 * subvolumes for BtrfsQuotaVolumes (btrfsLoop, quotaEnable, subvolume*, qgroup*: these need
 * the helper). The helper is a Coprocess: it starts on first use and again after it dies
 * (requests in flight then fail with CoprocessExitedError), and holds the event loop only
 * while a request waits, so an idle volumizer never keeps arbord (or a test run) alive.
 * Requests are answered in order, one at a time.
 */
export class OverlayMounter {
  private readonly coprocess: Coprocess<string, string>;

  /** helperPath is like /opt/arbor/native/build/arbor-mount; '' means spawn mount(8)/umount(8). */
  constructor(readonly helperPath: string = findMountHelper()) {
    this.coprocess = new Coprocess(helperPath, lineCodec, { name: 'arbor-mount', missingHint: "build it with 'make -C native'" });
  }

  /** overlay mounts an overlay at target with options like 'lowerdir=/a,upperdir=/u,workdir=/w'. @throws ArborError */
  async overlay(target: string, options: string): Promise<void> {
    if (!this.helperPath) {
      await run('mount', ['-t', 'overlay', 'overlay', '-o', options, target]).catch((err: unknown) => {
        throw new ArborError('internal', `mount overlay at ${target}: ${stderrOf(err)}`, { cause: err });
      });
      return;
    }
    await this.request('overlay', target, options);
  }

  /**
   * idmappedOverlay mounts at target the overlay of options with its lower layers idmapped
   * into ids and its upper dir owned by ids.hostId (arbor-mount idmapped-overlay): a user
   * namespace's root filesystem in one mount. Needs the helper (canIdmap).
   * @throws ArborError failedPrecondition where the kernel cannot (no idmapped overlay layers), internal otherwise
   */
  async idmappedOverlay(target: string, ids: UserIds, options: string): Promise<void> {
    try {
      await this.request('idmapped-overlay', target, `${ids.hostId}:${ids.size}`, options);
    } catch (err) {
      // arbor-mount answers EOPNOTSUPP for what this kernel cannot do
      if (err instanceof MountHelperError && err.errno === EOPNOTSUPP) {
        throw idmapUnsupported(err.message, err);
      }
      throw err;
    }
  }

  /** canIdmap says idmappedOverlay works here: the helper is built. */
  get canIdmap(): boolean {
    return this.helperPath !== '';
  }

  /** umount unmounts target; one not mounted is fine with the helper. @throws ArborError */
  async umount(target: string): Promise<void> {
    if (!this.helperPath) {
      await run('umount', [target]).catch((err: unknown) => {
        throw new ArborError('internal', `umount ${target}: ${stderrOf(err)}`, { cause: err });
      });
      return;
    }
    await this.request('umount', target);
  }

  /** btrfsLoop mounts the btrfs in image, like /var/lib/arbor/volumes.btrfs, at target through a loop device that goes at unmount. @throws ArborError */
  async btrfsLoop(target: string, image: string): Promise<void> {
    await this.request('btrfs-loop', target, image);
  }

  /** quotaEnable turns on qgroups for the btrfs mounted at target; already on is fine. @throws ArborError */
  async quotaEnable(target: string): Promise<void> {
    await this.request('quota-enable', target);
  }

  /** subvolumeCreate makes dir, like /var/lib/arbor/overlays/<handle>, a btrfs subvolume with mode 0700. @throws ArborError */
  async subvolumeCreate(dir: string): Promise<void> {
    await this.request('subvolume-create', dir);
  }

  /** subvolumeDelete deletes the btrfs subvolume dir and starts a commit so its qgroup goes soon; one already gone is fine. @throws ArborError */
  async subvolumeDelete(dir: string): Promise<void> {
    await this.request('subvolume-delete', dir);
  }

  /** qgroupLimit caps the referenced bytes of dir's subvolume; 0 removes the cap. @throws ArborError */
  async qgroupLimit(dir: string, bytes: number): Promise<void> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ArborError('internal', `arbor-mount: qgroup limit ${bytes} for ${dir} is not a byte count`);
    await this.request('qgroup-limit', dir, String(bytes));
  }

  /** qgroupUsage commits dir's filesystem and returns the bytes its subvolume's qgroup counts. @throws ArborError */
  async qgroupUsage(dir: string): Promise<{ referenced: number; exclusive: number }> {
    const values = await this.request('qgroup-usage', dir);
    const [referenced, exclusive] = values.split(' ').map(Number);
    if (referenced === undefined || exclusive === undefined || !Number.isFinite(referenced) || !Number.isFinite(exclusive)) {
      throw new ArborError('internal', `arbor-mount: 'qgroup-usage ${dir}' answered '${values}', not two byte counts`);
    }
    return { referenced, exclusive };
  }

  /** close ends the coprocess; a later request starts it again. */
  close(): Promise<void> {
    return this.coprocess.close();
  }

  /**
   * request sends one line and resolves with what follows 'ok' in the reply ('' for a bare 'ok').
   * @throws ArborError 'internal' when arbor-mount answers an error; CoprocessExitedError when it dies first
   */
  private async request(...tokens: string[]): Promise<string> {
    const line = tokens.join(' ');
    if (!this.helperPath) throw new ArborError('internal', `arbor-mount: '${line}' needs the helper, which is not built`);
    if (tokens.some((t) => t === '' || /\s/.test(t))) {
      throw new ArborError('internal', `arbor-mount: '${line}' has an empty token or whitespace in a path`);
    }
    const reply = await this.coprocess.request(line);
    if (reply === 'ok' || reply.startsWith('ok ')) return reply.slice(3);
    // an arbor-mount built before a request existed answers 'unknown request'
    const stale = reply.endsWith('unknown request: Invalid argument') ? ` (rebuild it: make -C native)` : '';
    throw new MountHelperError(Number(/^err (\d+) /.exec(reply)?.[1] ?? 0), `arbor-mount: '${line}' failed: ${reply.replace(/^err \d+ /, '')}${stale}`);
  }
}

/** EOPNOTSUPP is Linux's errno for an operation not supported, as arbor-mount answers it. */
const EOPNOTSUPP = 95;

/** MountHelperError is a request arbor-mount refused, with the errno it answered. */
class MountHelperError extends ArborError {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super('internal', message);
  }
}

function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim();
}
