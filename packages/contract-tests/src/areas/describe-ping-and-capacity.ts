import { steps } from '@arbor/probes';
import type { ContractContext } from '../contract-context';
import { probe } from '../helpers/run-process';

export function describePingAndCapacity(ctx: ContractContext): void {
  describe('ping', () => {
    it('resolves on a healthy server', async () => {
      await expect(ctx.client.ping()).resolves.toBeUndefined();
    });

    it('still resolves while containers exist and processes run', async () => {
      const container = await ctx.create();
      await container.run(probe(steps.sleep(5)), {});
      await expect(ctx.client.ping()).resolves.toBeUndefined();
    });
  });

  describe('capacity', () => {
    it('reports every field as a whole number above 0', async () => {
      const capacity = await ctx.client.capacity();
      for (const [field, value] of Object.entries(capacity)) {
        expect({ field, positive: Number.isSafeInteger(value) && value > 0 }).toEqual({ field, positive: true });
      }
      expect(Object.keys(capacity).sort()).toEqual(['diskInBytes', 'maxContainers', 'memoryInBytes', 'schedulableDiskInBytes']);
    });

    it('reports the configured container cap as maxContainers', async () => {
      const server = await ctx.extraServer({ maxContainers: 3 });
      expect((await server.client.capacity()).maxContainers).toBe(3);
    });
  });
}
