import { mkdir, rm } from 'node:fs/promises';
import { ArborError } from '@arbor/core';
import type { QuotaVolumes } from './quota-volumes';

/**
 * UnenforcedQuotaVolumes keeps container dirs as plain directories on the state dir's
 * filesystem. A limit of 0 (none) is accepted; any real byte limit fails with
 * failedPrecondition naming why quotas are off, so a client never believes a limit holds
 * when it does not.
 */
export class UnenforcedQuotaVolumes implements QuotaVolumes {
  /** unenforcedReason is like 'mkfs.btrfs not found: install btrfs-progs'. */
  constructor(readonly unenforcedReason: string) {}

  async create(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }

  async limit(dir: string, bytes: number): Promise<void> {
    if (bytes > 0) {
      throw new ArborError(
        'failedPrecondition',
        `volumizer: disk limits are not enforced on this host (${this.unenforcedReason}); cannot cap ${dir} at ${bytes} bytes`,
      );
    }
  }

  async usage(_dir: string): Promise<number | undefined> {
    return undefined;
  }

  async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }

  async release(): Promise<void> {}
}
