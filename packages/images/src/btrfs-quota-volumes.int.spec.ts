import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HostPreconditionError } from '@arbor/core';
import { RecordingLogger, describeIf } from '@arbor/testkit';
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

  // A process that makes a mount namespace (arbor-create or runc making a container) copies the
  // quota filesystem's mount for a moment; an unmount here then leaves the loop device attached
  // until that copy goes, and a mount made meanwhile would be a second instance of the same btrfs.
  it('release returns once the loop device is detached, even while a copy of the mount outlives the unmount for a moment', async () => {
    const volumes = await BtrfsQuotaVolumes.open({ stateDir, sizeBytes: 256 * 1024 ** 2 });
    const image = join(stateDir, 'volumes.btrfs');
    expect((await run('losetup', ['-j', image])).stdout).toMatch(/^\/dev\/loop\d+:/);
    const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'echo copied; sleep 0.5'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    try {
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      await volumes.release();
      expect((await run('losetup', ['-j', image])).stdout).toBe('');
    } finally {
      if (holder.exitCode === null) holder.kill('SIGKILL');
      await exited;
    }
  });

  it('refuses to mount the image again while the loop device release gave up on still backs it, and mounts it once that is gone', async () => {
    const logger = new RecordingLogger();
    const volumes = await BtrfsQuotaVolumes.open({ stateDir, sizeBytes: 256 * 1024 ** 2, loopDetachTimeoutMs: 100, logger });
    const image = join(stateDir, 'volumes.btrfs');
    const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'echo copied; read _'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    try {
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      await volumes.release();
      const device = (await run('losetup', ['-j', image])).stdout.split(':')[0] ?? '';
      expect(device).toMatch(/^\/dev\/loop\d+$/);
      expect(logger.lines.filter((l) => l.event === 'disk-quota-loop-still-attached')).toEqual([expect.objectContaining({ device, image })]);
      const err = await volumes.create(join(stateDir, 'overlays', 'h')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HostPreconditionError);
      expect((err as Error).message).toContain(`${image} is still attached to ${device}`);
      holder.stdin.end(); // the copy goes with the holder's namespace
      await exited;
      await volumes.create(join(stateDir, 'overlays', 'h'));
      expect((await run('losetup', ['-j', image])).stdout.split('\n').filter(Boolean)).toHaveLength(1);
      await volumes.remove(join(stateDir, 'overlays', 'h'));
      await volumes.release();
    } finally {
      if (holder.exitCode === null) holder.kill('SIGKILL');
      await exited;
    }
  });
});
