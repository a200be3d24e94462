import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@arbor/core';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';

/**
 * describeCallerMistakes: a mistake a caller can make is never INTERNAL: it comes back as
 * INVALID_ARGUMENT (or another caller-side code) with a message naming what to change, on
 * every backend alike, and changes nothing.
 */
export function describeCallerMistakes(ctx: ContractContext): void {
  describe('caller mistakes', () => {
    it('refuses a Run as a user the container does not know with InvalidArgumentError naming the user', async () => {
      const container = await ctx.create();
      const err = await expectRejection(container.run({ path: 'true', user: 'no-such-user' }, {}), InvalidArgumentError, {
        field: 'user',
        kind: 'invalidArgument',
      });
      expect(err.message).toContain('no-such-user');
      expect((await container.info()).processIds).toEqual([]);
    });

    it('refuses a host bind-mount source that does not exist with InvalidArgumentError naming it, and creates nothing', async () => {
      const parent = await mkdtemp(join(tmpdir(), 'arbor-ct-bind-'));
      const missing = join(parent, 'no-such-dir');
      const handle = ctx.unique('bind-missing');
      try {
        const err = await expectRejection(
          ctx.client.create({ handle, bindMounts: [{ srcPath: missing, dstPath: '/mnt/data', mode: 'ro', origin: 'host' }] }),
          InvalidArgumentError,
          { field: 'bindMounts[0].srcPath', kind: 'invalidArgument' },
        );
        expect(err.message).toContain(missing);
        expect((await ctx.client.containers()).map((c) => c.handle)).not.toContain(handle);
      } finally {
        ctx.track(handle);
        await rm(parent, { recursive: true, force: true });
      }
    });
  });
}
