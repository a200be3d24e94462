import { ContainerNotFoundError, InvalidArgumentError } from '@arbor/core';
import type { Container } from '@arbor/core';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';

function sortedHandles(containers: Container[]): string[] {
  return containers.map((c) => c.handle).sort();
}

export function describeListAndLookup(ctx: ContractContext): void {
  describe('containers (list)', () => {
    it('lists every container without a filter', async () => {
      const made = await Promise.all([ctx.create(), ctx.create()]);
      const listed = (await ctx.client.containers()).map((c) => c.handle);
      expect(listed).toEqual(expect.arrayContaining(made.map((c) => c.handle)));
      expect(new Set(listed).size).toBe(listed.length);
    });

    it('lists only the containers whose properties match the filter', async () => {
      const run = ctx.unique('run');
      const web = await ctx.create({ properties: { run, role: 'web' } });
      await ctx.create({ properties: { run, role: 'db' } });
      await ctx.create({ properties: { role: 'web' } });
      expect(sortedHandles(await ctx.client.containers({ run, role: 'web' }))).toEqual([web.handle]);
    });

    it('requires every pair of the filter to match', async () => {
      const run = ctx.unique('run');
      const both = await ctx.create({ properties: { run, a: '1', b: '2' } });
      await ctx.create({ properties: { run, a: '1', b: 'other' } });
      await ctx.create({ properties: { run, a: '1' } });
      expect(sortedHandles(await ctx.client.containers({ run, a: '1', b: '2' }))).toEqual([both.handle]);
      expect(await ctx.client.containers({ run, a: '1' })).toHaveLength(3);
    });

    it('lists nothing when no container has the filtered value', async () => {
      await ctx.create({ properties: { color: 'red' } });
      expect(await ctx.client.containers({ color: ctx.unique('no-such-color') })).toEqual([]);
    });

    it('follows property changes made after create', async () => {
      const run = ctx.unique('run');
      const container = await ctx.create({ properties: { run } });
      expect(await ctx.client.containers({ run, stage: 'ready' })).toEqual([]);
      await container.setProperty('stage', 'ready');
      expect(sortedHandles(await ctx.client.containers({ run, stage: 'ready' }))).toEqual([container.handle]);
      await container.removeProperty('stage');
      expect(await ctx.client.containers({ run, stage: 'ready' })).toEqual([]);
    });

    it('returns containers that work', async () => {
      const run = ctx.unique('run');
      await ctx.create({ properties: { run, x: 'y' } });
      const [listed] = await ctx.client.containers({ run });
      expect(await listed?.property('x')).toBe('y');
    });
  });

  describe('lookup', () => {
    it('returns a working container for a known handle', async () => {
      const made = await ctx.create({ properties: { found: 'yes' } });
      const found = await ctx.client.lookup(made.handle);
      expect(found.handle).toBe(made.handle);
      expect(await found.properties()).toEqual({ found: 'yes' });
    });

    it('refuses an unknown handle with ContainerNotFoundError', async () => {
      const handle = ctx.unique('ghost');
      await expectRejection(ctx.client.lookup(handle), ContainerNotFoundError, { handle, message: `unknown handle: ${handle}` });
    });

    it('refuses a malformed handle with InvalidArgumentError', async () => {
      await expectRejection(ctx.client.lookup('../etc'), InvalidArgumentError, { field: 'handle' });
    });
  });
}
