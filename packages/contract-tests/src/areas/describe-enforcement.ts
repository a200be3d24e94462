import type { BackendCapabilities } from '../contract-setup';
import type { ContractContext } from '../contract-context';
import { steps } from '@arbor/probes';
import { probe, runToEnd, sh } from '../helpers/run-process';
import { eventually } from '@arbor/testkit';

const MiB = 1024 * 1024;
const { fillFile, remove } = steps;

// These need a backend whose limits bite (cgroups, quotas, setrlimit). The memory, pid and
// rlimit tests run busybox itself (dd's buffer, ash's fork, ulimit): real backends only. The
// disk-limit writers are probes, which a fake that models quotas runs too.
export function describeEnforcement(ctx: ContractContext, capabilities: BackendCapabilities): void {
  const describeIf = capabilities.enforcesLimits ? describe : describe.skip;

  describeIf('limits enforced (enforcesLimits)', () => {
    it('kills a process that exceeds the memory limit and records an "out of memory" event', async () => {
      const container = await ctx.create({ limits: { memory: { limitInBytes: 64 * MiB } } });
      // dd holds one block of bs bytes in memory
      const result = await runToEnd(container, { path: 'dd', args: ['if=/dev/zero', 'of=/dev/null', 'bs=128M', 'count=1'] });
      expect(result.exitCode).toBe(137);
      await eventually(async () => expect((await container.info()).events).toContain('out of memory'), 3000);
    }, 20_000);

    it('lets the same allocation succeed without a memory limit', async () => {
      const container = await ctx.create();
      const result = await runToEnd(container, { path: 'dd', args: ['if=/dev/zero', 'of=/dev/null', 'bs=128M', 'count=1'] });
      expect(result.exitCode).toBe(0);
    }, 20_000);

    it('refuses to fork beyond the pid limit', async () => {
      const container = await ctx.create({ limits: { pid: { max: 5 } } });
      const result = await runToEnd(container, sh('for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; echo spawned-all'));
      // ash gives up at the first fork that fails: it says so and exits 2 before the echo
      expect(result.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
      expect(result.stdout).not.toContain('spawned-all');
      expect(result.exitCode).not.toBe(0);
    }, 20_000);

    it('applies process rlimits', async () => {
      const container = await ctx.create();
      const result = await runToEnd(container, sh('ulimit -n', { rlimits: { nofile: 123 } }));
      expect(result.stdout).toBe('123\n');
    });

    it('applies a memory limit set on a running container', async () => {
      const container = await ctx.create();
      await container.limitMemory({ limitInBytes: 64 * MiB });
      const result = await runToEnd(container, { path: 'dd', args: ['if=/dev/zero', 'of=/dev/null', 'bs=128M', 'count=1'] });
      expect(result.exitCode).toBe(137);
    }, 20_000);
  });

  const describeDiskIf = capabilities.enforcesDiskLimits ? describe : describe.skip;

  describeDiskIf('disk limits enforced (enforcesDiskLimits)', () => {
    it('fails writes beyond the exclusive disk byteHard limit', async () => {
      const container = await ctx.create({
        limits: { disk: { byteSoft: 0, byteHard: 20 * MiB, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' } },
      });
      const within = await runToEnd(container, probe(fillFile('/root/small', 5)));
      expect(within.exitCode).toBe(0);
      const beyond = await runToEnd(container, probe(fillFile('/root/big', 40)));
      expect(beyond.exitCode).not.toBe(0);
      expect(beyond.stderr).toMatch(/space|quota/i);
    }, 30_000);

    it("counts the image against a 'total' byteHard", async () => {
      const container = await ctx.create({
        limits: { disk: { byteSoft: 0, byteHard: 20 * MiB, inodeSoft: 0, inodeHard: 0, scope: 'total' } },
      });
      const within = await runToEnd(container, probe(fillFile('/root/small', 5)));
      expect(within.exitCode).toBe(0);
      // 5 MiB written, the image takes some more: 15 MiB no longer fits under 20 MiB in all
      const beyond = await runToEnd(container, probe(fillFile('/root/big', 15)));
      expect(beyond.exitCode).not.toBe(0);
      expect(beyond.stderr).toMatch(/space|quota/i);
    }, 30_000);

    it('applies a disk limit set on a running container, and lets writes through again once raised', async () => {
      const container = await ctx.create();
      const before = await ctx.client.capacity();
      expect((await runToEnd(container, probe(fillFile('/root/a', 5)))).exitCode).toBe(0);
      await container.limitDisk({ byteSoft: 0, byteHard: 10 * MiB, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' });
      const capped = await runToEnd(container, probe(fillFile('/root/b', 40)));
      expect(capped.exitCode).not.toBe(0);
      expect(capped.stderr).toMatch(/space|quota/i);
      await container.limitDisk({ byteSoft: 0, byteHard: 100 * MiB, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' });
      expect((await runToEnd(container, probe(remove('/root/b'), fillFile('/root/c', 40)))).exitCode).toBe(0);
      // the host's disk paid for the writes and no more: the cap did not come from a full host disk
      const after = await ctx.client.capacity();
      expect(before.schedulableDiskInBytes - after.schedulableDiskInBytes).toBeLessThan(before.schedulableDiskInBytes / 2);
      expect(after.schedulableDiskInBytes).toBeGreaterThan(100 * MiB);
    }, 30_000);
  });
}
