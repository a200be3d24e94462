import type { ImagePullProgress } from '@arbor/core';
import type { ContractContext } from '../contract-context';
import type { BackendCapabilities } from '../contract-setup';

export function describePullImage(ctx: ContractContext, capabilities: BackendCapabilities): void {
  describe('pull image', () => {
    const images = capabilities.images;
    (images.length > 0 ? it.each(images) : it.skip.each(['(no extra images)']))(
      'pulls %s ahead of create, ending with exactly one done event, and a create from it works',
      async (uri) => {
        const events: ImagePullProgress[] = [];
        const pulled = await ctx.client.pullImage({ uri }, (p) => events.push(p));
        expect(events.filter((e) => e.phase === 'done')).toHaveLength(1);
        expect(events[events.length - 1]?.phase).toBe('done');
        expect(events[events.length - 1]?.image).toEqual(pulled);
        const container = await ctx.create({ image: { uri } });
        expect((await container.info()).state).toBe('active');
      },
    );

    it('refuses an image URI of an unknown kind with InvalidArgumentError, pulling nothing', async () => {
      await expect(ctx.client.pullImage({ uri: 'ftp://example.invalid/image' })).rejects.toMatchObject({ kind: 'invalidArgument' });
    });
  });
}
