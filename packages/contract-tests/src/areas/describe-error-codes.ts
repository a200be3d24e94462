import { Readable } from 'node:stream';
import { ExecutableNotFoundError, PermissionDeniedError, ResourceExhaustedError } from '@arbor/core';
import { steps } from '@arbor/probes';
import type { BackendCapabilities } from '../contract-setup';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { packTar } from '../helpers/tar';
import { probeWith, startProcess } from '../helpers/run-process';

/**
 * describeErrorCodes: the caller-caused errors that other areas do not provoke, each with
 * its code on every backend: a Run of a file that is no program (NOT_FOUND), a Run whose
 * working directory its user may not enter (PERMISSION_DENIED), a stream-in past the disk
 * limit (RESOURCE_EXHAUSTED 'disk', where disk limits are enforced).
 */
export function describeErrorCodes(ctx: ContractContext, capabilities: BackendCapabilities): void {
  describe('error codes a caller can provoke', () => {
    it('refuses a Run of a file that is no program (no x bit) with ExecutableNotFoundError, running nothing', async () => {
      const container = await ctx.create();
      await expectRejection(startProcess(container, { path: '/etc/passwd' }), ExecutableNotFoundError, { path: '/etc/passwd' });
      expect((await container.info()).processIds).toEqual([]);
    });

    it('refuses a Run whose working directory its user may not enter with PermissionDeniedError, running nothing', async () => {
      const container = await ctx.create();
      // /root is root's alone (0700): vcap may not enter a directory in it
      await expectRejection(startProcess(container, probeWith({ user: 'vcap', dir: '/root/work' }, steps.pwd())), PermissionDeniedError, {
        kind: 'permissionDenied',
      });
      expect((await container.info()).processIds).toEqual([]);
    });

    (capabilities.enforcesDiskLimits ? it : it.skip)(
      "refuses a stream-in past the container's disk limit with ResourceExhaustedError('disk') (enforcesDiskLimits)",
      async () => {
        const disk = { byteSoft: 0, byteHard: 8 * 1024 * 1024, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' as const };
        const container = await ctx.create({ limits: { disk } });
        const tar = await packTar([{ name: 'big.bin', content: Buffer.alloc(16 * 1024 * 1024, 1) }]);
        await expectRejection(container.streamIn({ path: '/srv', tar: Readable.from([tar]) }), ResourceExhaustedError, {
          resource: 'disk',
          kind: 'resourceExhausted',
        });
      },
      30_000,
    );
  });
}
