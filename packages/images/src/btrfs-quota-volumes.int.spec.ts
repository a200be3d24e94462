import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HostPreconditionError } from '@arbor/core';
import { describeIf } from '@arbor/testkit';
import { BtrfsQuotaVolumes } from './btrfs-quota-volumes';

const run = promisify(execFile);
describeIf({ root: true })('BtrfsQuotaVolumes (root: loop mounts)', () => {
  let stateDir: string;
  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-quota-'));
  });
  afterEach(async () => {
    await run('umount', ['-R', join(stateDir, 'overlays')]).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  });

  it('fails a create with HostPreconditionError when something else is mounted where the quota filesystem goes', async () => {
    const volumes = await BtrfsQuotaVolumes.open({ stateDir, sizeBytes: 256 * 1024 ** 2 });
    expect(volumes.unenforcedReason).toBe('');
    await volumes.release();
    const overlays = join(stateDir, 'overlays');
    await run('mount', ['-t', 'tmpfs', 'tmpfs', overlays]);
    const err = await volumes.create(join(overlays, 'h')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostPreconditionError);
    expect((err as Error).message).toBe(`volumizer: ${overlays} is a tmpfs mount, not the btrfs this volumizer makes: unmount it (umount ${overlays})`);
  });
});
