// Many Runs against a real arbord on each host backend must not leave arbord holding an fd
// per run: a Run without stdin sends its stdin_close only once it hears 'started', and a
// process quicker than that round trip used to keep arbord's end of its stdin FIFO open
// for good (hostile-input issue, item 5).
import { readdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { Container } from '@arbor/core';
import { runToEnd } from '../helpers/run-process';
import { describeIf, expectAlive, HOST_BACKENDS } from '@arbor/testkit';
import { startRealArbord, type RealArbord } from './real-arbord';

/** RUNS is how many processes each case runs; CONCURRENCY how many at once (the race is likelier under load). */
const RUNS = 200;
const CONCURRENCY = 16;
/** SLACK is the growth allowed for what arbord opens lazily (a socket, an inotify), not per run. */
const SLACK = 2;

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** runMany runs `true` count times, concurrency at a time, each with the stdin makeStdin gives. */
async function runMany(container: Container, count: number, makeStdin: () => PassThrough | undefined): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        next += 1;
        const result = await runToEnd(container, { path: 'true' }, makeStdin());
        expect(result.exitCode).toBe(0);
      }
    }),
  );
}

/** settledFdCount waits a moment for closes in flight, then counts arbord's fds. */
async function settledFdCount(arbord: RealArbord): Promise<number> {
  await new Promise((r) => setTimeout(r, 300));
  return fdCount(arbord.pid);
}

describeIf({ root: true })('arbord fds over many Runs on a real arbord', () => {
  jest.setTimeout(120_000);

  describe.each(HOST_BACKENDS)('on %s', (backend) => {
    let arbord: RealArbord;
    let container: Container;

    beforeAll(async () => {
      arbord = await startRealArbord(backend);
      container = await arbord.client.create({});
      // warm up: the first runs open what arbord keeps for good (the fork server, its pipes),
      // and grpc-js opens a few more connections to arbord while many Runs start at once (a
      // one-off: the count then holds over thousands of Runs); 20 runs were not always enough
      await runMany(container, 100, () => undefined);
    });

    afterAll(async () => {
      await arbord?.stop();
    });

    it(`keeps no fd per Run without stdin (${RUNS} runs of true)`, async () => {
      const before = await settledFdCount(arbord);
      await runMany(container, RUNS, () => undefined);
      expect((await settledFdCount(arbord)) - before).toBeLessThanOrEqual(SLACK);
      await expectAlive(arbord);
    });

    it('keeps no fd per Run whose caller never closes stdin (100 runs of true)', async () => {
      const before = await settledFdCount(arbord);
      await runMany(container, 100, () => new PassThrough());
      expect((await settledFdCount(arbord)) - before).toBeLessThanOrEqual(SLACK);
      await expectAlive(arbord);
    });
  });
});
