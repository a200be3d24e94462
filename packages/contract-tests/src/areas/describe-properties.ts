import { InvalidArgumentError, PropertyNotFoundError } from '@arbor/core';
import { steps } from '@arbor/probes';
import type { ContractContext } from '../contract-context';
import { probe, runToEnd } from '../helpers/run-process';
import { expectRejection } from '../helpers/expect-rejection';

export function describeProperties(ctx: ContractContext): void {
  describe('properties', () => {
    it('has no properties but those the client set: {} for none', async () => {
      const container = await ctx.create();
      expect(await container.properties()).toEqual({});
      expect((await container.info()).properties).toEqual({});
    });

    it('shows no internal keys after the container has been used', async () => {
      const container = await ctx.create({
        properties: { mine: 'yes' },
        netIn: [{ hostPort: 0, containerPort: 80 }],
        limits: { memory: { limitInBytes: 64 * 1024 * 1024 } },
        env: ['A=1'],
      });
      await container.netOut({ protocol: 'tcp', ports: [{ start: 443, end: 443 }] });
      await runToEnd(container, probe(steps.exit(0)));
      await container.setGraceTime(0);
      expect(await container.properties()).toEqual({ mine: 'yes' });
      expect((await container.info()).properties).toEqual({ mine: 'yes' });
      expect((await ctx.client.bulkInfo([container.handle]))[container.handle]?.value?.properties).toEqual({ mine: 'yes' });
    });

    it('returns one property by name', async () => {
      const container = await ctx.create({ properties: { a: '1', b: '2' } });
      expect(await container.property('b')).toBe('2');
    });

    it('adds and overwrites properties with setProperty', async () => {
      const container = await ctx.create({ properties: { a: '1' } });
      await container.setProperty('b', '2');
      await container.setProperty('a', 'changed');
      expect(await container.properties()).toEqual({ a: 'changed', b: '2' });
      expect(await container.property('a')).toBe('changed');
    });

    it('removes a property with removeProperty', async () => {
      const container = await ctx.create({ properties: { keep: 'k', drop: 'd' } });
      await container.removeProperty('drop');
      expect(await container.properties()).toEqual({ keep: 'k' });
      await expectRejection(container.property('drop'), PropertyNotFoundError, { property: 'drop' });
    });

    it('refuses an unknown property with PropertyNotFoundError naming container and property', async () => {
      const container = await ctx.create();
      await expectRejection(container.property('missing'), PropertyNotFoundError, {
        handle: container.handle,
        property: 'missing',
        kind: 'notFound',
      });
    });

    it('refuses to remove an unknown property with PropertyNotFoundError', async () => {
      const container = await ctx.create({ properties: { other: 'x' } });
      await expectRejection(container.removeProperty('missing'), PropertyNotFoundError, { property: 'missing' });
      expect(await container.properties()).toEqual({ other: 'x' });
    });

    it('keeps values exactly: empty, spaces, =, newlines and unicode', async () => {
      const values = { empty: '', spaces: '  a b  ', equals: 'k=v=w', lines: 'one\ntwo', unicode: 'grüße 🌳', 'key with.dots-and space': 'v' };
      const container = await ctx.create({ properties: values });
      expect(await container.properties()).toEqual(values);
      await container.setProperty('later', 'x=y\tz');
      expect(await container.property('later')).toBe('x=y\tz');
    });

    it('refuses an empty property name with InvalidArgumentError', async () => {
      const container = await ctx.create();
      await expectRejection(container.setProperty('', 'v'), InvalidArgumentError, { field: 'name' });
      expect(await container.properties()).toEqual({});
    });

    it("keeps each container's properties to itself", async () => {
      const [a, b] = await Promise.all([ctx.create({ properties: { who: 'a' } }), ctx.create({ properties: { who: 'b' } })]);
      await a.setProperty('only', 'a');
      expect(await b.properties()).toEqual({ who: 'b' });
    });
  });
}
