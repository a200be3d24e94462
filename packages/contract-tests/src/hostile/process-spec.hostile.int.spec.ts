// A process spec's data on a real arbord on each host backend (hostile-input issue, items 1,
// 3 and 9): env values never show in a host command line (ps, or /proc/*/cmdline) nor stay on
// disk while the process runs, and specs that once became helper options are refused while
// arbord keeps serving. Specs that bypass the API are tested at the containerizers (backend-linux
// and backend-runc int specs).
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

  describe.each(HOST_BACKENDS)('on %s', (backend) => {
    let arbord: RealArbord;
    let container: Container;

    beforeAll(async () => {
      arbord = await startRealArbord(backend);
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
      // runc itself stops at 2^31-1
      expect((await runToEnd(container, sh('id -u', { user: '2147483647:2147483647' }))).stdout).toBe('2147483647\n');
      await expectAlive(arbord);
    });

    it('refuses a working dir that is not absolute', async () => {
      await expectRejection(runToEnd(container, sh('true', { dir: 'tmp' })), InvalidArgumentError, { field: 'dir' });
    });
  });
});
