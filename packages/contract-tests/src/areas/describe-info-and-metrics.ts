import { ContainerNotFoundError } from '@arbor/core';
import type { BackendCapabilities } from '@arbor/core';
import { steps } from '@arbor/probes';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { probe, probeWith, runToEnd, startProcess } from '../helpers/run-process';
import { eventually, sleep } from '@arbor/testkit';

const { exit, spin } = steps;

const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** describeInfoAndMetrics: capabilities.enforcesLimits says the backend counts memory and cpu (cgroups); the fake reports them as 0. */
export function describeInfoAndMetrics(ctx: ContractContext, capabilities?: BackendCapabilities): void {
  describe('info', () => {
    it('describes a new container as active, with no processes, events or ports', async () => {
      const container = await ctx.create();
      const info = await container.info();
      expect(info.state).toBe('active');
      expect(info.processIds).toEqual([]);
      expect(info.events).toEqual([]);
      expect(info.mappedPorts).toEqual([]);
      expect(info.properties).toEqual({});
    });

    it('lists the ids of running processes and drops them when they exit', async () => {
      const container = await ctx.create();
      const a = await startProcess(container, probeWith({ id: 'long-a' }, steps.sleep(100)));
      const b = await startProcess(container, probeWith({ id: 'long-b' }, steps.sleep(100)));
      expect((await container.info()).processIds.sort()).toEqual(['long-a', 'long-b']);
      await a.process.signal('SIGKILL');
      await a.process.wait();
      await eventually(async () => expect((await container.info()).processIds).toEqual(['long-b']), 2000);
      await b.process.signal('SIGKILL');
      await b.process.wait();
      await eventually(async () => expect((await container.info()).processIds).toEqual([]), 2000);
    });

    it('gives each container a host and a container IPv4 address, distinct from every other', async () => {
      const [a, b] = await Promise.all([ctx.create(), ctx.create()]);
      const [ia, ib] = await Promise.all([a.info(), b.info()]);
      for (const ip of [ia.containerIp, ia.hostIp, ib.containerIp, ib.hostIp]) expect(ip).toMatch(ipv4);
      expect(ia.containerIp).not.toBe(ia.hostIp);
      expect(ia.containerIp).not.toBe(ib.containerIp);
    });

    it('reports addresses from the configured network pool', async () => {
      const info = await (await ctx.create()).info();
      // the pools are a /22 like 10.253.0.0/22: the address's third octet is one of four
      const [a, b, c] = ctx.pools.networkPool.split('.').map(Number);
      const inPool = (ip: string): boolean => {
        const [ia, ib, ic] = ip.split('.').map(Number);
        return ia === a && ib === b && ic !== undefined && c !== undefined && ic >= c && ic < c + 4;
      };
      expect(ctx.pools.networkPool).toMatch(/\/22$/);
      expect(inPool(info.containerIp)).toBe(true);
      expect(inPool(info.hostIp)).toBe(true);
    });

    it('shows the mapped ports in the order they were mapped', async () => {
      const container = await ctx.create();
      const first = await container.netIn(60351, 80);
      const second = await container.netIn(0, 443);
      expect((await container.info()).mappedPorts).toEqual([first, second]);
    });
  });

  describe('bulkInfo', () => {
    it('answers known handles with info and unknown ones with ContainerNotFoundError', async () => {
      const [a, b] = await Promise.all([ctx.create({ properties: { name: 'a' } }), ctx.create({ properties: { name: 'b' } })]);
      const ghost = ctx.unique('ghost');
      const result = await ctx.client.bulkInfo([a.handle, ghost, b.handle]);
      expect(Object.keys(result).sort()).toEqual([a.handle, b.handle, ghost].sort());
      expect(result[a.handle]?.value?.properties).toEqual({ name: 'a' });
      expect(result[b.handle]?.value?.properties).toEqual({ name: 'b' });
      expect(result[a.handle]?.value?.state).toBe('active');
      const err = result[ghost]?.error;
      expect(err).toBeInstanceOf(ContainerNotFoundError);
      expect(err).toMatchObject({ handle: ghost, kind: 'notFound' });
      expect(result[ghost]?.value).toBeUndefined();
    });

    it('answers an empty list with an empty map', async () => {
      expect(await ctx.client.bulkInfo([])).toEqual({});
    });
  });

  describe('metrics', () => {
    it('reports an age that grows', async () => {
      const container = await ctx.create();
      const first = (await container.metrics()).ageMs;
      await sleep(150);
      const second = (await container.metrics()).ageMs;
      expect(first).toBeGreaterThanOrEqual(0);
      expect(second - first).toBeGreaterThanOrEqual(100);
    });

    it('counts the running processes in pid.current', async () => {
      const container = await ctx.create();
      await startProcess(container, probe(steps.sleep(100)));
      await startProcess(container, probe(steps.sleep(100)));
      expect((await container.metrics()).pid.current).toBeGreaterThanOrEqual(2);
    });

    it('reports the pid limit in pid.max and numbers everywhere', async () => {
      const container = await ctx.create({ limits: { pid: { max: 50 } } });
      await runToEnd(container, probe(exit(0)));
      const metrics = await container.metrics();
      expect(metrics.pid.max).toBe(50);
      // a healthy container's network counters are readable: absent only when they are not
      expect(metrics.network).toBeDefined();
      for (const group of [metrics.memory, metrics.cpu, metrics.disk, metrics.network ?? { rxBytes: -1, txBytes: -1 }]) {
        for (const value of Object.values(group)) {
          expect(Number.isFinite(value) && value >= 0).toBe(true);
        }
      }
    });

    it('reports the memory, cpu and pids of a container that ran something, in full, and ContainerNotFoundError once it is gone', async () => {
      const container = await ctx.create();
      await startProcess(container, probe(steps.sleep(100)));
      // a little cpu time for the counters to show
      expect((await runToEnd(container, probe(spin(2000)))).exitCode).toBe(0);
      const metrics = await container.metrics();
      const count = expect.any(Number);
      expect(metrics).toEqual({
        memory: { usageInBytes: count, limitInBytes: count, rss: count, cache: count, swap: count, totalUsageTowardLimit: count },
        cpu: { usage: count, user: count, system: count },
        disk: { totalBytesUsed: count, totalInodesUsed: count, exclusiveBytesUsed: count, exclusiveInodesUsed: count },
        network: { rxBytes: count, txBytes: count },
        pid: { current: count, max: count },
        ageMs: count,
      });
      expect(metrics.pid.current).toBeGreaterThanOrEqual(1); // the sleep
      if (capabilities?.enforcesLimits) {
        expect(metrics.memory.usageInBytes).toBeGreaterThan(0);
        expect(metrics.cpu.usage).toBeGreaterThan(0);
        expect(metrics.cpu.usage).toBeGreaterThanOrEqual(metrics.cpu.user);
      }
      await ctx.client.destroy(container.handle);
      await expectRejection(container.metrics(), ContainerNotFoundError, { handle: container.handle, kind: 'notFound' });
    });
  });

  describe('bulkMetrics', () => {
    it('answers known handles with metrics and unknown ones with ContainerNotFoundError', async () => {
      const container = await ctx.create();
      const ghost = ctx.unique('ghost');
      const result = await ctx.client.bulkMetrics([container.handle, ghost]);
      expect(result[container.handle]?.value?.ageMs).toBeGreaterThanOrEqual(0);
      expect(result[ghost]?.error).toBeInstanceOf(ContainerNotFoundError);
      expect(result[ghost]?.error).toMatchObject({ handle: ghost });
    });
  });
}
