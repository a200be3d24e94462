import { PassThrough } from 'node:stream';
import { ContainerNotFoundError, InvalidArgumentError } from '@arbor/core';
import type { Client } from '@arbor/core';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { steps } from '@arbor/probes';
import { finish, probe, startProcess } from '../helpers/run-process';
import { packTar } from '../helpers/tar';
import { eventually, sleep } from '@arbor/testkit';

// Listing does not touch a container, so polling the list watches the reaper without pausing it.
async function listed(client: Client, handle: string): Promise<boolean> {
  return (await client.containers()).some((c) => c.handle === handle);
}

async function reapedWithin(client: Client, handle: string, ms: number): Promise<void> {
  await eventually(async () => expect(await listed(client, handle)).toBe(false), ms);
}

export function describeGraceTime(ctx: ContractContext): void {
  describe('grace time', () => {
    it('destroys a container left alone for its grace time', async () => {
      const container = await ctx.create({ graceTimeMs: 300 });
      expect(await listed(ctx.client, container.handle)).toBe(true);
      await reapedWithin(ctx.client, container.handle, 2000);
      await expectRejection(ctx.client.lookup(container.handle), ContainerNotFoundError, { handle: container.handle });
    }, 5000);

    it('never destroys a container with grace time 0', async () => {
      const forever = await ctx.create({ graceTimeMs: 0 });
      const brief = await ctx.create({ graceTimeMs: 300 });
      await reapedWithin(ctx.client, brief.handle, 2000);
      await sleep(300);
      expect(await listed(ctx.client, forever.handle)).toBe(true);
    }, 5000);

    it('restarts the timer in full after each request', async () => {
      const container = await ctx.create({ graceTimeMs: 800 });
      await sleep(500);
      await container.info();
      await sleep(500);
      // 1000 ms after create, but only 500 ms after the last request
      expect(await listed(ctx.client, container.handle)).toBe(true);
      await reapedWithin(ctx.client, container.handle, 2000);
    }, 6000);

    it('holds the container while a request is in progress', async () => {
      const container = await ctx.create({ graceTimeMs: 300 });
      const tar = await packTar([{ name: 'slow.txt', content: 'x'.repeat(4096) }]);
      const slow = new PassThrough();
      const streaming = container.streamIn({ path: '/slow', tar: slow });
      slow.write(tar.subarray(0, 512));
      await sleep(800);
      expect(await listed(ctx.client, container.handle)).toBe(true);
      slow.end(tar.subarray(512));
      await streaming;
      await reapedWithin(ctx.client, container.handle, 2000);
    }, 6000);

    it('holds the container while a Run stream is open, and reaps it after the process exits', async () => {
      const container = await ctx.create({ graceTimeMs: 300 });
      const running = await startProcess(container, probe(steps.sleep(0.8), steps.line('done')));
      await sleep(600);
      expect(await listed(ctx.client, container.handle)).toBe(true);
      expect(await finish(running)).toMatchObject({ exitCode: 0, stdout: 'done\n' });
      await reapedWithin(ctx.client, container.handle, 2000);
    }, 6000);

    it('re-arms the timer with setGraceTime', async () => {
      const container = await ctx.create({ graceTimeMs: 0 });
      await container.setGraceTime(300);
      await reapedWithin(ctx.client, container.handle, 2000);
    }, 5000);

    it('cancels reaping with setGraceTime(0)', async () => {
      const container = await ctx.create({ graceTimeMs: 400 });
      await container.setGraceTime(0);
      await sleep(900);
      expect(await listed(ctx.client, container.handle)).toBe(true);
    }, 5000);

    it("applies the server's default grace time to containers created without one", async () => {
      const server = await ctx.extraServer({ defaultGraceTimeMs: 300 });
      const defaulted = await ctx.create({}, server.client);
      const kept = await ctx.create({ graceTimeMs: 0 }, server.client);
      await reapedWithin(server.client, defaulted.handle, 2000);
      expect(await listed(server.client, kept.handle)).toBe(true);
    }, 5000);

    it('refuses a negative or fractional grace time with InvalidArgumentError', async () => {
      const container = await ctx.create({ graceTimeMs: 0 });
      await expectRejection(container.setGraceTime(-1), InvalidArgumentError, { field: 'graceTimeMs' });
      await expectRejection(container.setGraceTime(0.5), InvalidArgumentError, { field: 'graceTimeMs' });
      await sleep(200);
      expect(await listed(ctx.client, container.handle)).toBe(true);
    });
  });
}
