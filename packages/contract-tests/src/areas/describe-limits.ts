import { InvalidArgumentError, ResourceExhaustedError } from '@arbor/core';
import { steps } from '@arbor/probes';
import type { Container, Limits } from '@arbor/core';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { probe, runToEnd, startProcess, type RunningProcess } from '../helpers/run-process';

const full: Required<Limits> = {
  bandwidth: { rateInBytesPerSecond: 1_000_000, burstRateInBytesPerSecond: 2_000_000 },
  cpu: { weight: 512 },
  disk: { byteSoft: 50 * 1024 * 1024, byteHard: 100 * 1024 * 1024, inodeSoft: 500, inodeHard: 1000, scope: 'exclusive' },
  memory: { limitInBytes: 128 * 1024 * 1024 },
  pid: { max: 64 },
};

/** LiveSetter names one live setter with a valid value, a getter, and its field name on failure. */
interface LiveSetter {
  kind: keyof Limits;
  set(c: Container, value: number): Promise<void>;
  get(c: Container): Promise<number>;
  field: string;
  /** other is a valid value different from the one in full. */
  other: number;
}

const setters: LiveSetter[] = [
  {
    kind: 'memory',
    set: (c, v) => c.limitMemory({ limitInBytes: v }),
    get: async (c) => (await c.currentMemoryLimits()).limitInBytes,
    field: 'limits.memory.limitInBytes',
    other: 256 * 1024 * 1024,
  },
  {
    kind: 'cpu',
    set: (c, v) => c.limitCpu({ weight: v }),
    get: async (c) => (await c.currentCpuLimits()).weight,
    field: 'limits.cpu.weight',
    other: 100,
  },
  {
    kind: 'pid',
    set: (c, v) => c.limitPids({ max: v }),
    get: async (c) => (await c.currentPidLimits()).max,
    field: 'limits.pid.max',
    other: 200,
  },
  {
    kind: 'bandwidth',
    set: (c, v) => c.limitBandwidth({ rateInBytesPerSecond: v, burstRateInBytesPerSecond: v }),
    get: async (c) => (await c.currentBandwidthLimits()).rateInBytesPerSecond,
    field: 'limits.bandwidth.rateInBytesPerSecond',
    other: 5_000_000,
  },
  {
    kind: 'disk',
    set: (c, v) => c.limitDisk({ byteSoft: 0, byteHard: v, inodeSoft: 0, inodeHard: 0, scope: 'total' }),
    get: async (c) => (await c.currentDiskLimits()).byteHard,
    field: 'limits.disk.byteHard',
    other: 200 * 1024 * 1024,
  },
];

export function describeLimits(ctx: ContractContext): void {
  describe('limits', () => {
    it('reads back every limit given at create', async () => {
      const container = await ctx.create({ limits: full });
      expect(await container.currentBandwidthLimits()).toEqual(full.bandwidth);
      expect(await container.currentCpuLimits()).toEqual(full.cpu);
      expect(await container.currentDiskLimits()).toEqual(full.disk);
      expect(await container.currentMemoryLimits()).toEqual(full.memory);
      expect(await container.currentPidLimits()).toEqual(full.pid);
      expect(await container.currentLimits()).toEqual(full);
    });

    it('reads limits never set as 0 (unlimited)', async () => {
      const container = await ctx.create();
      expect(await container.currentMemoryLimits()).toEqual({ limitInBytes: 0 });
      expect(await container.currentCpuLimits()).toEqual({ weight: 0 });
      expect(await container.currentPidLimits()).toEqual({ max: 0 });
      expect(await container.currentBandwidthLimits()).toEqual({ rateInBytesPerSecond: 0, burstRateInBytesPerSecond: 0 });
      expect((await container.currentDiskLimits()).byteHard).toBe(0);
    });

    it("gives a container created without a pid limit the server's default, and one that names its own that one", async () => {
      const server = await ctx.extraServer({ defaultPidLimit: 64 });
      const plain = await ctx.create({}, server.client);
      expect(await plain.currentPidLimits()).toEqual({ max: 64 });
      const own = await ctx.create({ limits: { pid: { max: 0 } } }, server.client);
      expect(await own.currentPidLimits()).toEqual({ max: 0 });
    });

    it.each(setters)('changes the $kind limit of a running container', async (setter) => {
      const container = await ctx.create({ limits: full });
      await setter.set(container, setter.other);
      expect(await setter.get(container)).toBe(setter.other);
      // the other limits stay as they were
      const others = Object.keys(full).filter((k) => k !== setter.kind) as Array<keyof Limits>;
      const current = await container.currentLimits();
      for (const kind of others) expect(current[kind]).toEqual(full[kind]);
    });

    it.each(setters)('refuses a negative $kind limit naming the field, changing nothing', async (setter) => {
      const container = await ctx.create({ limits: full });
      const before = await setter.get(container);
      await expectRejection(setter.set(container, -1), InvalidArgumentError, { field: setter.field });
      expect(await setter.get(container)).toBe(before);
    });

    it.each(setters)('refuses a fractional $kind limit naming the field, changing nothing', async (setter) => {
      const container = await ctx.create({ limits: full });
      const before = await setter.get(container);
      await expectRejection(setter.set(container, 1.5), InvalidArgumentError, { field: setter.field });
      expect(await setter.get(container)).toBe(before);
    });

    it.each(setters)('accepts 0 as an unlimited $kind limit', async (setter) => {
      const container = await ctx.create({ limits: full });
      await setter.set(container, 0);
      expect(await setter.get(container)).toBe(0);
    });

    it('refuses a Run at the pid limit with ResourceExhaustedError (pids), and runs again once a process ends', async () => {
      const max = 4;
      const container = await ctx.create({ limits: { pid: { max } } });
      // the limit counts whatever the backend keeps in the container (an init on the real ones)
      const running: RunningProcess[] = [];
      let refused: unknown;
      for (let i = 0; i < max + 1 && refused === undefined; i++) {
        try {
          running.push(await startProcess(container, probe(steps.sleep(100))));
        } catch (err) {
          refused = err;
        }
      }
      expect(running.length).toBeGreaterThan(0);
      expect(running.length).toBeLessThanOrEqual(max);
      expect(refused).toBeInstanceOf(ResourceExhaustedError);
      expect(refused).toMatchObject({ resource: 'pids' });
      await running[0]?.process.signal('SIGKILL');
      await running[0]?.process.wait();
      expect((await runToEnd(container, probe(steps.exit(0)))).exitCode).toBe(0);
    }, 20_000);

    it('refuses a disk scope other than total or exclusive', async () => {
      const container = await ctx.create();
      const scope = 'partial' as unknown as 'total';
      await expectRejection(container.limitDisk({ byteSoft: 0, byteHard: 1024, inodeSoft: 0, inodeHard: 0, scope }), InvalidArgumentError, {
        field: 'limits.disk.scope',
      });
    });

    it('refuses a disk byteSoft above byteHard', async () => {
      const container = await ctx.create();
      await expectRejection(container.limitDisk({ byteSoft: 2048, byteHard: 1024, inodeSoft: 0, inodeHard: 0, scope: 'total' }), InvalidArgumentError, {
        field: 'limits.disk.byteSoft',
      });
    });

    it("keeps one container's limits apart from another's", async () => {
      const [a, b] = await Promise.all([ctx.create({ limits: { memory: full.memory } }), ctx.create()]);
      await b.limitMemory({ limitInBytes: 64 * 1024 * 1024 });
      expect(await a.currentMemoryLimits()).toEqual(full.memory);
      expect(await b.currentMemoryLimits()).toEqual({ limitInBytes: 64 * 1024 * 1024 });
    });
  });
}
