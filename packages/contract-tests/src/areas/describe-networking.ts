import { InvalidArgumentError, PortInUseError, ResourceExhaustedError } from '@arbor/core';
import type { NetOutRule } from '@arbor/core';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';

export function describeNetworking(ctx: ContractContext): void {
  describe('netIn', () => {
    it('takes the host port from the pool for 0, and uses it as the container port for 0', async () => {
      const container = await ctx.create();
      const mapping = await container.netIn(0, 0);
      expect(mapping.hostPort).toBeGreaterThanOrEqual(ctx.pools.portPoolStart);
      expect(mapping.hostPort).toBeLessThan(ctx.pools.portPoolStart + ctx.pools.portPoolSize);
      expect(mapping.containerPort).toBe(mapping.hostPort);
    });

    it('keeps the container port it is given with a pool host port', async () => {
      const container = await ctx.create();
      const mapping = await container.netIn(0, 8080);
      expect(mapping.containerPort).toBe(8080);
      expect(mapping.hostPort).toBeGreaterThanOrEqual(ctx.pools.portPoolStart);
    });

    it('maps exactly the host and container ports it is given', async () => {
      const container = await ctx.create();
      expect(await container.netIn(60361, 9000)).toEqual({ hostPort: 60361, containerPort: 9000 });
      expect(await container.netIn(60362, 0)).toEqual({ hostPort: 60362, containerPort: 60362 });
    });

    it('never hands out the same pool port twice', async () => {
      const [a, b] = await Promise.all([ctx.create(), ctx.create()]);
      const ports = [...(await Promise.all([a.netIn(0, 80), a.netIn(0, 81), b.netIn(0, 80)])), await b.netIn(0, 81)].map((m) => m.hostPort);
      expect(new Set(ports).size).toBe(4);
    });

    it('refuses a host port already mapped with PortInUseError, in the same or another container', async () => {
      const [a, b] = await Promise.all([ctx.create(), ctx.create()]);
      await a.netIn(60363, 80);
      await expectRejection(a.netIn(60363, 81), PortInUseError, { port: 60363, kind: 'alreadyExists' });
      await expectRejection(b.netIn(60363, 80), PortInUseError, { port: 60363 });
      expect((await a.info()).mappedPorts).toEqual([{ hostPort: 60363, containerPort: 80 }]);
      expect((await b.info()).mappedPorts).toEqual([]);
    });

    it('refuses an explicit host port that the pool already handed out', async () => {
      const [a, b] = await Promise.all([ctx.create(), ctx.create()]);
      const { hostPort } = await a.netIn(0, 80);
      await expectRejection(b.netIn(hostPort, 80), PortInUseError, { port: hostPort });
    });

    it('frees the ports of a destroyed container for others', async () => {
      const first = await ctx.create();
      await first.netIn(60364, 80);
      await ctx.client.destroy(first.handle);
      const second = await ctx.create();
      expect(await second.netIn(60364, 80)).toEqual({ hostPort: 60364, containerPort: 80 });
    });

    it('refuses a port beyond 65535 or below 0 with InvalidArgumentError naming it', async () => {
      const container = await ctx.create();
      await expectRejection(container.netIn(70000, 80), InvalidArgumentError, { field: 'netIn.hostPort' });
      await expectRejection(container.netIn(0, -1), InvalidArgumentError, { field: 'netIn.containerPort' });
      expect((await container.info()).mappedPorts).toEqual([]);
    });

    it('reports an empty pool with ResourceExhaustedError, and refills it on destroy', async () => {
      // a server of its own with a pool of two ports: the first two of its own network's
      const server = await ctx.extraServer({ portPoolSize: 2 });
      const [p0, p1] = [server.pools.portPoolStart, server.pools.portPoolStart + 1];
      const a = await ctx.create({}, server.client);
      const b = await ctx.create({}, server.client);
      const taken = [await a.netIn(0, 80), await a.netIn(0, 81)].map((m) => m.hostPort).sort();
      expect(taken).toEqual([p0, p1]);
      await expectRejection(b.netIn(0, 80), ResourceExhaustedError, { kind: 'resourceExhausted' });
      await server.client.destroy(a.handle);
      const again = await b.netIn(0, 80);
      expect([p0, p1]).toContain(again.hostPort);
    });
  });

  describe('netOut', () => {
    const valid: NetOutRule[] = [
      { protocol: 'all' },
      { protocol: 'tcp', networks: [{ start: '10.0.0.1', end: '10.0.0.255' }], ports: [{ start: 80, end: 443 }] },
      { protocol: 'udp', ports: [{ start: 53, end: 53 }], log: true },
      { protocol: 'icmp', icmps: { type: 8, code: 0 } },
      { protocol: 'icmp', networks: [{ start: '8.8.8.8', end: '8.8.8.8' }], icmps: { type: 0 } },
    ];

    it.each(valid)('accepts the rule %j', async (rule) => {
      const container = await ctx.create();
      await expect(container.netOut(rule)).resolves.toBeUndefined();
    });

    it.each<[string, NetOutRule, string]>([
      ['a malformed address', { protocol: 'tcp', networks: [{ start: '10.0.0.300', end: '10.0.1.1' }] }, 'rule.networks[0].start'],
      ['a range whose start is after its end', { protocol: 'all', networks: [{ start: '10.0.0.9', end: '10.0.0.1' }] }, 'rule.networks[0]'],
      ['ports with icmp', { protocol: 'icmp', ports: [{ start: 80, end: 80 }] }, 'rule.ports'],
      ['ports with all', { protocol: 'all', ports: [{ start: 80, end: 80 }] }, 'rule.ports'],
      ['icmps with tcp', { protocol: 'tcp', icmps: { type: 8 } }, 'rule.icmps'],
      ['a port range whose start is after its end', { protocol: 'tcp', ports: [{ start: 90, end: 80 }] }, 'rule.ports[0]'],
      ['port 0', { protocol: 'udp', ports: [{ start: 0, end: 10 }] }, 'rule.ports[0].start'],
      ['an unknown protocol', { protocol: 'sctp' as unknown as 'tcp' }, 'rule.protocol'],
      ['an icmp type above 255', { protocol: 'icmp', icmps: { type: 256 } }, 'rule.icmps.type'],
    ])('refuses %s with InvalidArgumentError naming the field', async (_what, rule, field) => {
      const container = await ctx.create();
      await expectRejection(container.netOut(rule), InvalidArgumentError, { field, kind: 'invalidArgument' });
    });

    it('applies a valid bulk of rules', async () => {
      const container = await ctx.create();
      await expect(container.bulkNetOut(valid)).resolves.toBeUndefined();
    });

    it('refuses a bulk with one bad rule, naming its index, and can apply the good ones after', async () => {
      const container = await ctx.create();
      const rules: NetOutRule[] = [valid[1] as NetOutRule, { protocol: 'tcp', icmps: { type: 8 } }, valid[2] as NetOutRule];
      await expectRejection(container.bulkNetOut(rules), InvalidArgumentError, { field: 'rules[1].icmps' });
      await expect(container.bulkNetOut([rules[0] as NetOutRule, rules[2] as NetOutRule])).resolves.toBeUndefined();
    });
  });
}
