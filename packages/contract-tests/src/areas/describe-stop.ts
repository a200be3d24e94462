import { ContainerStoppedError } from '@arbor/core';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { steps } from '@arbor/probes';
import { probe, runToEnd, startProcess } from '../helpers/run-process';
import { readTar, tarStream } from '../helpers/tar';
import { waitForOutput } from '../helpers/wait-for-output';

const { line, sleep, ignoreTerm } = steps;

// MAIN_STOP_TEST_TIMEOUT_MS covers a harness that cannot shorten Garden's 10 s stop timeout.
const MAIN_STOP_TEST_TIMEOUT_MS = 20_000;

export function describeStop(ctx: ContractContext): void {
  describe('stop', () => {
    it('marks the container stopped and ends a process that honours TERM with 143, at once', async () => {
      const container = await ctx.create();
      const running = await startProcess(container, probe(sleep(100)));
      const started = Date.now();
      await container.stop(false);
      expect(await running.process.wait()).toBe(143);
      expect(Date.now() - started).toBeLessThan(ctx.server.stopTimeoutMs);
      const info = await container.info();
      expect(info.state).toBe('stopped');
      expect(info.processIds).toEqual([]);
    });

    it(
      'sends KILL after the stop timeout to a process that ignores TERM',
      async () => {
        const container = await ctx.create();
        const running = await startProcess(container, probe(ignoreTerm(), line('ready'), sleep(100)));
        await waitForOutput(running.stdout, 'ready\n');
        const started = Date.now();
        await container.stop(false);
        expect(await running.process.wait()).toBe(137);
        const took = Date.now() - started;
        expect(took).toBeGreaterThanOrEqual(ctx.server.stopTimeoutMs * 0.9);
        expect((await container.info()).state).toBe('stopped');
      },
      MAIN_STOP_TEST_TIMEOUT_MS,
    );

    it('kills every process at once with stop(true)', async () => {
      const container = await ctx.create();
      const ignoring = await startProcess(container, probe(ignoreTerm(), line('ready'), sleep(100)));
      const plain = await startProcess(container, probe(sleep(100)));
      await waitForOutput(ignoring.stdout, 'ready\n');
      const started = Date.now();
      await container.stop(true);
      expect(await Promise.all([ignoring.process.wait(), plain.process.wait()])).toEqual([137, 137]);
      expect(Date.now() - started).toBeLessThan(ctx.server.stopTimeoutMs);
      expect((await container.info()).state).toBe('stopped');
    });

    it('stops a container with no processes', async () => {
      const container = await ctx.create();
      await container.stop(false);
      expect((await container.info()).state).toBe('stopped');
    });

    it('refuses to run a process in a stopped container with ContainerStoppedError', async () => {
      const container = await ctx.create();
      await container.stop(true);
      await expectRejection(container.run(probe(line('no')), {}), ContainerStoppedError, {
        handle: container.handle,
        kind: 'failedPrecondition',
      });
    });

    it('still streams files in and out of a stopped container', async () => {
      const container = await ctx.create();
      await container.streamIn({ path: '/root/before', tar: await tarStream([{ name: 'a.txt', content: 'A' }]) });
      await container.stop(false);
      await container.streamIn({ path: '/root/after', tar: await tarStream([{ name: 'b.txt', content: 'B' }]) });
      const before = await readTar(await container.streamOut({ path: '/root/before/a.txt' }));
      const after = await readTar(await container.streamOut({ path: '/root/after/b.txt' }));
      expect(before.map((e) => [e.name, e.content.toString()])).toEqual([['a.txt', 'A']]);
      expect(after.map((e) => [e.name, e.content.toString()])).toEqual([['b.txt', 'B']]);
    });

    it('keeps a stopped container listed with its properties until it is destroyed', async () => {
      const run = ctx.unique('run');
      const container = await ctx.create({ properties: { run } });
      await container.stop(true);
      expect((await ctx.client.containers({ run })).map((c) => c.handle)).toEqual([container.handle]);
      expect(await container.properties()).toEqual({ run });
      await ctx.client.destroy(container.handle);
      expect(await ctx.client.containers({ run })).toEqual([]);
    });

    it('does not touch other containers', async () => {
      const [stopped, running] = await Promise.all([ctx.create(), ctx.create()]);
      await stopped.stop(true);
      expect((await running.info()).state).toBe('active');
      expect((await runToEnd(running, probe(line('alive')))).stdout).toBe('alive\n');
    });
  });
}
