import { ProcessNotFoundError } from '@arbor/core';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { steps } from '@arbor/probes';
import { finish, probe, probeWith, runToEnd, startProcess } from '../helpers/run-process';
import { waitForOutput } from '../helpers/wait-for-output';

const { line, sleep, ttySize, exit } = steps;

export function describeTty(ctx: ContractContext): void {
  describe('tty', () => {
    it('defaults to 24 rows and 80 columns', async () => {
      const container = await ctx.create();
      const { stdout, exitCode } = await runToEnd(container, probeWith({ tty: {} }, ttySize()));
      expect({ stdout, exitCode }).toEqual({ stdout: '24 80\r\n', exitCode: 0 });
    });

    it('uses the window size it is given', async () => {
      const container = await ctx.create();
      const { stdout } = await runToEnd(container, probeWith({ tty: { windowSize: { columns: 132, rows: 43 } } }, ttySize()));
      expect(stdout).toBe('43 132\r\n');
    });

    it('resizes the terminal of a running process', async () => {
      const container = await ctx.create();
      const running = await startProcess(container, probeWith({ tty: {} }, line('ready'), sleep(0.5), ttySize()));
      await waitForOutput(running.stdout, 'ready\r\n');
      await running.process.setTty({ windowSize: { columns: 100, rows: 30 } });
      const result = await finish(running);
      expect(result.stdout).toBe('ready\r\n30 100\r\n');
    });

    it('turns newlines into CRLF on a terminal, and not without one', async () => {
      const container = await ctx.create();
      expect((await runToEnd(container, probeWith({ tty: {} }, line('one'), line('two')))).stdout).toBe('one\r\ntwo\r\n');
      expect((await runToEnd(container, probe(line('one'), line('two')))).stdout).toBe('one\ntwo\n');
    });

    it('sends what the process writes to stderr through the terminal', async () => {
      const container = await ctx.create();
      const result = await runToEnd(container, probeWith({ tty: {} }, line('to-err', 'stderr')));
      expect(result.stdout).toBe('to-err\r\n');
      expect(result.stderr).toBe('');
    });

    it('reports the exit code of a process on a terminal', async () => {
      const container = await ctx.create();
      expect((await runToEnd(container, probeWith({ tty: {} }, exit(17)))).exitCode).toBe(17);
    });

    it('refuses a resize after exit with ProcessNotFoundError', async () => {
      const container = await ctx.create();
      const running = await startProcess(container, probeWith({ tty: {} }, exit(0)));
      await running.process.wait();
      await expectRejection(running.process.setTty({ windowSize: { columns: 10, rows: 10 } }), ProcessNotFoundError, {
        processId: running.process.id,
      });
    });
  });
}
