// What code in a container can do to the process-start path, on a real arbord on each host
// backend (hostile-input issue, items 6 and 8): an fd arbord inherited never reaches a
// container process, and an /etc/passwd that is a FIFO or a symlink to /dev/zero makes a run
// or a stream out as a named user fail at once, not hang, while arbord keeps serving.
import type { Container } from '@arbor/core';
import { describeIf, expectAlive, HOST_BACKENDS } from '@arbor/testkit';
import { runToEnd, sh } from '../helpers/run-process';
import { startRealArbord, type RealArbord } from './real-arbord';

/** LEAKED_FD is the fd number arbord inherits from its parent without having opened it. */
const LEAKED_FD = 9;

/**
 * startLeakyArbord starts arbord as startRealArbord does, but with the write end of a pipe on
 * LEAKED_FD, as a careless parent (a shell, a supervisor) would hand it down.
 */
function startLeakyArbord(backend: string): Promise<RealArbord> {
  const stdio: ('ignore' | 'inherit' | 'pipe')[] = ['ignore', 'ignore', 'inherit'];
  while (stdio.length < LEAKED_FD) stdio.push('ignore');
  stdio.push('pipe');
  return startRealArbord(backend, [], { stdio });
}

/** within rejects when promise has not settled after ms: what "fails at once, not hangs" means here. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describeIf({ root: true })('the container side of process starts on a real arbord', () => {
  jest.setTimeout(120_000);

  describe.each(HOST_BACKENDS)('on %s', (backend) => {
    it('lets no fd that arbord inherited reach a container process', async () => {
      const leaky = await startLeakyArbord(backend);
      try {
        const container = await leaky.client.create({});
        // ls opens the directory it lists: that is the one fd beyond 0, 1 and 2
        const listed = await runToEnd(container, sh('ls -1 /proc/self/fd'));
        expect(listed.stdout.split('\n').filter(Boolean)).toEqual(['0', '1', '2', '3']);
        const tty = await runToEnd(container, sh('ls -1 /proc/self/fd', { tty: {} }));
        expect(tty.stdout.split(/\r?\n/).filter(Boolean)).toEqual(['0', '1', '2', '3']);
      } finally {
        await leaky.stop();
      }
    });

    describe('an /etc/passwd that would hang a reader', () => {
      let arbord: RealArbord;

      beforeAll(async () => {
        arbord = await startRealArbord(backend);
      });
      afterAll(async () => {
        await arbord?.stop();
      });

      it.each([
        ['a FIFO', 'rm /etc/passwd && mkfifo /etc/passwd', /\/etc\/passwd.*not a regular file/],
        ['a symlink to /dev/zero', 'rm /etc/passwd && ln -s /dev/zero /etc/passwd', /\/etc\/passwd.*symbolic link/],
      ])('makes a run and a stream out as vcap fail at once when it is %s, and arbord serves other runs', async (_name, script, message) => {
        const container: Container = await arbord.client.create({});
        const other: Container = await arbord.client.create({});
        try {
          expect((await runToEnd(container, sh(script))).exitCode).toBe(0);
          const started = Date.now();
          await expect(within(runToEnd(container, sh('id', { user: 'vcap' })), 5000, 'the run')).rejects.toThrow(message);
          await expect(within(container.streamOut({ path: '/etc/hostname', user: 'vcap' }), 5000, 'the stream out')).rejects.toThrow(/\/etc\/passwd/);
          expect(Date.now() - started).toBeLessThan(5000);
          expect((await runToEnd(other, sh('id -un', { user: 'vcap' }))).stdout).toBe('vcap\n');
          await expectAlive(arbord);
        } finally {
          await Promise.allSettled([arbord.client.destroy(container.handle), arbord.client.destroy(other.handle)]);
        }
      });
    });
  });
});
