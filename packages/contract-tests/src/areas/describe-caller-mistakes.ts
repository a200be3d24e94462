import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, MIN_DISK_LIMIT_BYTES, MIN_MEMORY_LIMIT_BYTES } from '@arbor/core';
import { steps } from '@arbor/probes';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { probe, probeWith, runToEnd } from '../helpers/run-process';

const { exit } = steps;

/**
 * describeCallerMistakes: a mistake a caller can make is never INTERNAL: it comes back as
 * INVALID_ARGUMENT (or another caller-side code) with a message naming what to change, on
 * every backend alike, and changes nothing.
 */
export function describeCallerMistakes(ctx: ContractContext): void {
  describe('caller mistakes', () => {
    it('refuses a Run as a user the container does not know with InvalidArgumentError naming the user', async () => {
      const container = await ctx.create();
      const err = await expectRejection(container.run(probeWith({ user: 'no-such-user' }, exit(0)), {}), InvalidArgumentError, {
        field: 'user',
        kind: 'invalidArgument',
      });
      expect(err.message).toContain('no-such-user');
      expect((await container.info()).processIds).toEqual([]);
    });

    it('refuses a memory limit too small to start a process with InvalidArgumentError, at create and on a live container', async () => {
      const handle = ctx.unique('tiny-memory');
      ctx.track(handle);
      const field = 'limits.memory.limitInBytes';
      await expectRejection(ctx.client.create({ handle, limits: { memory: { limitInBytes: 1 << 20 } } }), InvalidArgumentError, { field });
      expect((await ctx.client.containers()).map((c) => c.handle)).not.toContain(handle);
      const container = await ctx.create({ limits: { memory: { limitInBytes: 64 << 20 } } });
      const err = await expectRejection(container.limitMemory({ limitInBytes: 4096 }), InvalidArgumentError, { field });
      expect(err.message).toContain(String(MIN_MEMORY_LIMIT_BYTES));
      expect(await container.currentMemoryLimits()).toEqual({ limitInBytes: 64 << 20 });
      // the floor itself is a limit a container lives under
      await container.limitMemory({ limitInBytes: MIN_MEMORY_LIMIT_BYTES });
      expect((await runToEnd(container, probe(exit(0)))).exitCode).toBe(0);
    });

    it("refuses a disk limit of scope 'total' that the image alone fills with InvalidArgumentError, at create and on a live container", async () => {
      const disk = { byteSoft: 0, byteHard: 1, inodeSoft: 0, inodeHard: 0, scope: 'total' as const };
      const field = 'limits.disk.byteHard';
      const handle = ctx.unique('tiny-disk');
      ctx.track(handle);
      const err = await expectRejection(ctx.client.create({ handle, limits: { disk } }), InvalidArgumentError, { field });
      expect(err.message).toContain('leaves nothing to write');
      expect((await ctx.client.containers()).map((c) => c.handle)).not.toContain(handle);
      const container = await ctx.create();
      await expectRejection(container.limitDisk(disk), InvalidArgumentError, { field });
      expect((await container.currentDiskLimits()).byteHard).toBe(0);
    });

    it('refuses a disk limit too small to make a root filesystem in with InvalidArgumentError, at create and on a live container', async () => {
      const disk = { byteSoft: 0, byteHard: 1, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' as const };
      const field = 'limits.disk.byteHard';
      const handle = ctx.unique('one-byte-disk');
      ctx.track(handle);
      const err = await expectRejection(ctx.client.create({ handle, limits: { disk } }), InvalidArgumentError, { field });
      expect(err.message).toContain(String(MIN_DISK_LIMIT_BYTES));
      expect((await ctx.client.containers()).map((c) => c.handle)).not.toContain(handle);
      const container = await ctx.create();
      await expectRejection(container.limitDisk(disk), InvalidArgumentError, { field });
      expect((await container.currentDiskLimits()).byteHard).toBe(0);
      // the floor itself is a limit a container lives under
      const small = await ctx.create({ limits: { disk: { ...disk, byteHard: MIN_DISK_LIMIT_BYTES } } });
      expect((await runToEnd(small, probe(exit(0)))).exitCode).toBe(0);
      await container.limitDisk({ ...disk, byteHard: MIN_DISK_LIMIT_BYTES });
      expect((await container.currentDiskLimits()).byteHard).toBe(MIN_DISK_LIMIT_BYTES);
    });

    it('refuses a bind mount of origin container whose source the container lacks with InvalidArgumentError naming it, and creates nothing', async () => {
      const handle = ctx.unique('bind-missing-inside');
      ctx.track(handle);
      const missing = '/no-such-dir-in-the-image';
      const err = await expectRejection(
        ctx.client.create({ handle, bindMounts: [{ srcPath: missing, dstPath: '/mnt/data', mode: 'ro', origin: 'container' }] }),
        InvalidArgumentError,
        { field: 'bindMounts[0].srcPath', kind: 'invalidArgument' },
      );
      expect(err.message).toContain(missing);
      expect(err.message).toContain('in the container');
      expect((await ctx.client.containers()).map((c) => c.handle)).not.toContain(handle);
    });

    it('refuses a host bind-mount source that does not exist with InvalidArgumentError naming it, and creates nothing', async () => {
      const parent = await mkdtemp(join(tmpdir(), 'arbor-ct-bind-'));
      const missing = join(parent, 'no-such-dir');
      const handle = ctx.unique('bind-missing');
      try {
        const err = await expectRejection(
          ctx.client.create({ handle, bindMounts: [{ srcPath: missing, dstPath: '/mnt/data', mode: 'ro', origin: 'host' }] }),
          InvalidArgumentError,
          { field: 'bindMounts[0].srcPath', kind: 'invalidArgument' },
        );
        expect(err.message).toContain(missing);
        expect((await ctx.client.containers()).map((c) => c.handle)).not.toContain(handle);
      } finally {
        ctx.track(handle);
        await rm(parent, { recursive: true, force: true });
      }
    });
  });
}
