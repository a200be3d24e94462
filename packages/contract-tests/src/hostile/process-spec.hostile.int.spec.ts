// A process spec's data on a real arbord on each host backend (hostile-input issue, items 1,
// 3 and 9): env values never show in a host command line (ps, or /proc/*/cmdline) nor stay on
// disk while the process runs, and specs that once became helper options are refused while
// arbord keeps serving. Specs that bypass the API are tested at the containerizers (backend-linux
// and backend-runc int specs). Each runs with userns.enabled off and on (issue #12): a user
// outside an unprivileged container's user namespace is the caller's mistake.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { InvalidArgumentError } from '@arbor/core';
import type { Container } from '@arbor/core';
import { expectRejection } from '../helpers/expect-rejection';
import { finish, runToEnd, sh, startProcess } from '../helpers/run-process';
import { waitForOutput } from '../helpers/wait-for-output';
import { describeIf, expectAlive, filesHolding, HOST_BACKENDS, hostCmdlines } from '@arbor/testkit';
import { startRealArbord, type RealArbord } from './real-arbord';

describeIf({ root: true })('process specs on a real arbord', () => {
  jest.setTimeout(120_000);

  describe.each(HOST_BACKENDS.flatMap((backend) => [[backend, false] as const, [backend, true] as const]))(
    'on %s with userns.enabled %s',
    (backend, userns) => {
      let arbord: RealArbord;
      let container: Container;

      beforeAll(async () => {
        arbord = await startRealArbord(backend, [], { userns });
        container = await arbord.client.create({});
      });
      afterAll(async () => {
        await arbord?.stop();
      });

      it('keeps a process env value out of every host command line and off the disk while the process runs', async () => {
        const secret = `s3cret-${randomBytes(8).toString('hex')}`;
        const running = await startProcess(container, sh('echo "started $SECRET"; exec sleep 30', { env: [`SECRET=${secret}`] }));
        await waitForOutput(running.stdout, `started ${secret}\n`);
        expect((await hostCmdlines()).filter((line) => line.includes(secret))).toEqual([]);
        // the overlays hold the container's own files, which its processes may write at will
        const depot = join(arbord.stateDir, 'depot');
        expect(await filesHolding(depot, secret)).toEqual([]);
        await running.process.signal('SIGKILL');
        expect((await finish(running)).exitCode).toBe(137);
      });

      it.each([
        ['an env entry', { env: ['X=1\u0000--privileged'] }, 'env[0]'],
        ['a user', { user: 'root\u0000--privileged' }, 'user'],
        ['a working dir', { dir: '/tmp\u0000--privileged' }, 'dir'],
      ])('refuses a NUL in %s and keeps serving', async (_name, extra, field) => {
        await expectRejection(runToEnd(container, sh('true', extra)), InvalidArgumentError, { field });
        await expectAlive(arbord);
      });

      it.each([['4294967295'], ['4294967296:0'], ['1000:4294967295']])('refuses user %s, beyond the last uid or gid, and keeps serving', async (user) => {
        await expectRejection(runToEnd(container, sh('true', { user })), InvalidArgumentError, { field: 'user' });
        await expectAlive(arbord);
      });

      // runc itself stops at 2^31-1, so that is the highest id both backends can run
      const HIGH_USER = '2147483647:2147483647';

      it(`runs user ${HIGH_USER} in a privileged container, which has the host's ids`, async () => {
        const privileged = await arbord.client.create({ privileged: true });
        try {
          expect((await runToEnd(privileged, sh('cat /proc/self/uid_map'))).stdout.trim().split(/\s+/)).toEqual(['0', '0', '4294967295']);
          expect((await runToEnd(privileged, sh('id -u; id -g', { user: HIGH_USER }))).stdout).toBe('2147483647\n2147483647\n');
        } finally {
          await arbord.client.destroy(privileged.handle);
        }
      });

      it(`refuses user ${HIGH_USER} in an unprivileged container when its user namespace ends before it, naming the range, and keeps serving`, async () => {
        const uidMap = (await runToEnd(container, sh('cat /proc/self/uid_map'))).stdout.trim().split(/\s+/);
        const hostIds = uidMap.join(' ') === '0 0 4294967295';
        // the linux backend runs user namespaces exactly with userns.enabled; runc too once it maps them (#12)
        if (backend === 'linux') expect(hostIds).toBe(!userns);
        if (hostIds) {
          expect((await runToEnd(container, sh('id -u', { user: HIGH_USER }))).stdout).toBe('2147483647\n');
        } else {
          expect(uidMap).toEqual(['0', expect.stringMatching(/^[1-9]\d*$/), '65536']);
          await expectRejection(runToEnd(container, sh('true', { user: HIGH_USER })), InvalidArgumentError, {
            field: 'user',
            message: expect.stringContaining('uid 2147483647 is not mapped in this container: its user namespace has ids 0-65535'),
          });
          await expectRejection(runToEnd(container, sh('true', { user: '0:65536' })), InvalidArgumentError, {
            field: 'user',
            message: expect.stringContaining('gid 65536 is not mapped in this container: its user namespace has ids 0-65535'),
          });
          // the range's edge is in it
          expect((await runToEnd(container, sh('id -u; id -g', { user: '65535:65535' }))).stdout).toBe('65535\n65535\n');
        }
        await expectAlive(arbord);
      });

      it("makes a missing working dir as the user, owned by the user's ids as the container sees them (a user namespace's, not the host's)", async () => {
        const made = await runToEnd(
          container,
          sh('stat -c %u:%g /srv/made /srv/made/here && touch new && echo wrote', { user: '1000:1000', dir: '/srv/made/here' }),
        );
        expect(made.stdout).toBe('1000:1000\n1000:1000\nwrote\n');
      });

      it('refuses a working dir that is not absolute', async () => {
        await expectRejection(runToEnd(container, sh('true', { dir: 'tmp' })), InvalidArgumentError, { field: 'dir' });
      });
    },
  );
});
