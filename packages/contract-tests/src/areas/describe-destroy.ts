import { ContainerNotFoundError, InvalidArgumentError } from '@arbor/core';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { steps } from '@arbor/probes';
import { attachProcess, probe, runToEnd, startProcess } from '../helpers/run-process';
import { settlesWithin } from '../helpers/timing';

const { print, printVar, sleep, exit } = steps;

export function describeDestroy(ctx: ContractContext): void {
  describe('destroy', () => {
    it('refuses an unknown handle with ContainerNotFoundError "unknown handle: x"', async () => {
      const handle = ctx.unique('nobody');
      await expectRejection(ctx.client.destroy(handle), ContainerNotFoundError, {
        handle,
        kind: 'notFound',
        message: `unknown handle: ${handle}`,
      });
    });

    it('refuses a malformed handle with InvalidArgumentError', async () => {
      await expectRejection(ctx.client.destroy('no/such handle'), InvalidArgumentError, { field: 'handle' });
    });

    it('removes the container from the list and from lookup', async () => {
      const container = await ctx.create();
      await ctx.client.destroy(container.handle);
      expect((await ctx.client.containers()).map((c) => c.handle)).not.toContain(container.handle);
      await expectRejection(ctx.client.lookup(container.handle), ContainerNotFoundError, { handle: container.handle });
    });

    it('makes a second destroy of the same handle a ContainerNotFoundError', async () => {
      const container = await ctx.create();
      await ctx.client.destroy(container.handle);
      await expectRejection(ctx.client.destroy(container.handle), ContainerNotFoundError, { handle: container.handle });
    });

    it('makes every method of the destroyed container a ContainerNotFoundError', async () => {
      const container = await ctx.create({ properties: { a: '1' } });
      await ctx.client.destroy(container.handle);
      const expected = { handle: container.handle };
      await expectRejection(container.info(), ContainerNotFoundError, expected);
      await expectRejection(container.run(probe(exit(0)), {}), ContainerNotFoundError, expected);
      await expectRejection(container.properties(), ContainerNotFoundError, expected);
      await expectRejection(container.setProperty('b', '2'), ContainerNotFoundError, expected);
      await expectRejection(container.metrics(), ContainerNotFoundError, expected);
      await expectRejection(container.netIn(0, 0), ContainerNotFoundError, expected);
      await expectRejection(container.stop(false), ContainerNotFoundError, expected);
    });

    it('releases the handle: a new container can take it, with none of the old state', async () => {
      const handle = ctx.unique('reuse');
      const old = await ctx.create({ handle, properties: { generation: 'old' }, env: ['OLD=1'] });
      await old.netIn(60341, 80);
      await ctx.client.destroy(handle);
      const fresh = await ctx.create({ handle, properties: { generation: 'new' } });
      expect(await fresh.properties()).toEqual({ generation: 'new' });
      const info = await fresh.info();
      expect(info.mappedPorts).toEqual([]);
      expect(info.processIds).toEqual([]);
      const { stdout } = await runToEnd(fresh, probe(print('old='), printVar('OLD')));
      expect(stdout).toBe('old=\n');
    });

    it('ends the processes running in it', async () => {
      const container = await ctx.create();
      const running = await startProcess(container, probe(sleep(100)));
      await ctx.client.destroy(container.handle);
      expect(await settlesWithin(running.process.wait(), 3000)).toBe(true);
    });

    it("ends its processes' Run and Attach streams with exit status 137, as Garden does", async () => {
      const container = await ctx.create();
      const running = await startProcess(container, probe(sleep(100)));
      const attached = await attachProcess(container, running.process.id);
      await ctx.client.destroy(container.handle);
      await expect(running.process.wait()).resolves.toBe(137);
      await expect(attached.process.wait()).resolves.toBe(137);
    });

    it('releases a static address so another container can take it', async () => {
      const first = await ctx.create({ network: `${ctx.staticNet(2)}.6/30` });
      expect((await first.info()).containerIp).toBe(`${ctx.staticNet(2)}.6`);
      await ctx.client.destroy(first.handle);
      const second = await ctx.create({ network: `${ctx.staticNet(2)}.6/30` });
      expect((await second.info()).containerIp).toBe(`${ctx.staticNet(2)}.6`);
    });

    it('refuses a second container on a static address in use, and creates nothing', async () => {
      await ctx.create({ network: `${ctx.staticNet(3)}.6/30` });
      const handle = ctx.unique('ipclash');
      ctx.track(handle);
      await expect(ctx.client.create({ handle, network: `${ctx.staticNet(3)}.6/30` })).rejects.toMatchObject({
        kind: expect.stringMatching(/^(alreadyExists|resourceExhausted|invalidArgument|failedPrecondition)$/),
      });
      expect((await ctx.client.containers()).map((c) => c.handle)).not.toContain(handle);
    });
  });
}
