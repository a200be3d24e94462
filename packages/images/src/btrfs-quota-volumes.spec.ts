import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArborError } from '@arbor/core';
import { BtrfsQuotaVolumes } from './btrfs-quota-volumes';

describe('BtrfsQuotaVolumes on a host without mkfs.btrfs', () => {
  let stateDir: string;
  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-quota-'));
  });
  afterEach(() => rm(stateDir, { recursive: true, force: true }));

  it('turns quotas off, saying to install btrfs-progs, and refuses a byte limit with failedPrecondition', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      error: (event: string, data?: Record<string, unknown>) => void logged.push({ event, ...data }),
      child: () => logger,
    };
    const volumes = await BtrfsQuotaVolumes.open({ stateDir, sizeBytes: 256 * 1024 ** 2, mkfsPath: '/nonexistent/mkfs.btrfs', logger });
    expect(volumes.unenforcedReason).toBe('volumizer: /nonexistent/mkfs.btrfs not found: install btrfs-progs (apt-get install btrfs-progs)');
    expect(logged).toEqual([expect.objectContaining({ event: 'disk-quotas-unavailable', reason: volumes.unenforcedReason })]);
    const err = await volumes.limit(join(stateDir, 'overlays', 'h'), 1024).catch((e: unknown) => e);
    expect(ArborError.is(err) && err.kind).toBe('failedPrecondition');
  });
});
