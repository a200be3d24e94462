import { PassThrough } from 'node:stream';
import { ProcessNotFoundError, InvalidArgumentError } from '@arbor/core';
import { steps } from '@arbor/probes';
import { sleep as delay } from '@arbor/testkit';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { attachProcess, finish, probe, probeWith, runToEnd, startProcess } from '../helpers/run-process';
import { settlesWithin } from '../helpers/timing';
import { waitForOutput } from '../helpers/wait-for-output';

const { line, copyStdin, sleep, ignoreTerm, exit } = steps;

export function describeAttachAndSignals(ctx: ContractContext): void {
  describe('attach', () => {
    it('gets the output produced after attaching and the exit status', async () => {
      const container = await ctx.create();
      const started = await startProcess(container, probe(sleep(0.5), line('later'), line('later-err', 'stderr'), exit(3)));
      started.detach();
      const attached = await attachProcess(container, started.process.id);
      expect(attached.process.id).toBe(started.process.id);
      const result = await finish(attached);
      expect(result).toMatchObject({ exitCode: 3, stdout: 'later\n', stderr: 'later-err\n' });
    });

    it('lets several clients attach at once, each getting the output and the status', async () => {
      const container = await ctx.create();
      const started = await startProcess(container, probe(sleep(0.5), line('for-everyone'), exit(9)));
      const [one, two] = await Promise.all([attachProcess(container, started.process.id), attachProcess(container, started.process.id)]);
      const results = await Promise.all([finish(started), finish(one), finish(two)]);
      for (const result of results) expect(result).toMatchObject({ exitCode: 9, stdout: 'for-everyone\n' });
    });

    it('stops feeding a detached caller while another attach gets the rest', async () => {
      const container = await ctx.create();
      const started = await startProcess(container, probe(line('early'), sleep(1.5), line('late')));
      // 'early' is out before anyone attaches (a start is not the program's first write)
      await waitForOutput(started.stdout, 'early\n');
      const first = await attachProcess(container, started.process.id);
      first.detach();
      started.detach();
      const second = await attachProcess(container, started.process.id);
      const result = await finish(second);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe('late\n');
      expect(first.stdout.text()).not.toContain('late');
      expect(started.stdout.text()).not.toContain('late');
    });

    it('gets the exit status of a process that exited while nobody was attached', async () => {
      const container = await ctx.create();
      const started = await startProcess(container, probe(line('gone'), exit(7)));
      started.detach();
      await delay(300);
      const attached = await attachProcess(container, started.process.id);
      expect(await attached.process.wait()).toBe(7);
    });

    it('keeps a process running after the client that started it disconnects', async () => {
      const container = await ctx.create();
      const other = await ctx.server.connect();
      let id: string;
      try {
        const remote = await other.client.lookup(container.handle);
        const started = await startProcess(remote, probe(sleep(0.6), line('survived'), exit(4)));
        id = started.process.id;
      } finally {
        await other.close();
      }
      const attached = await attachProcess(container, id);
      expect(await finish(attached)).toMatchObject({ exitCode: 4, stdout: 'survived\n' });
    });

    it("sends an attaching caller's stdin to the process", async () => {
      const container = await ctx.create();
      const runStdin = new PassThrough();
      // the Run stays attached: a Run caller that detaches ends the process's input
      const started = await startProcess(container, probe(copyStdin()), runStdin);
      const attachStdin = new PassThrough();
      const attached = await attachProcess(container, started.process.id, attachStdin);
      attachStdin.write('typed later\n');
      await waitForOutput(attached.stdout, 'typed later\n');
      await attached.process.signal('SIGTERM');
      expect(await attached.process.wait()).toBe(143);
      runStdin.end();
      attachStdin.end();
    });

    it("closes the process's stdin when an attaching caller ends its stdin", async () => {
      const container = await ctx.create();
      const runStdin = new PassThrough();
      const started = await startProcess(container, probe(copyStdin()), runStdin);
      const attachStdin = new PassThrough();
      const attached = await attachProcess(container, started.process.id, attachStdin);
      attachStdin.end('last words\n');
      expect(await finish(attached)).toMatchObject({ exitCode: 0, stdout: 'last words\n' });
      runStdin.end();
    });

    it("closes the process's stdin when the Run caller detaches or disconnects, as Garden does (README: Runs and detach)", async () => {
      const container = await ctx.create();
      const runStdin = new PassThrough();
      // copying stdin ends only at the end of the input: exit 5 says the input was ended
      const started = await startProcess(container, probe(copyStdin(), exit(5)), runStdin);
      runStdin.write('before\n');
      await waitForOutput(started.stdout, 'before\n');
      started.detach();
      // this attacher's stdin stays open: only the Run caller's going can end the input
      const attachStdin = new PassThrough();
      const attached = await attachProcess(container, started.process.id, attachStdin);
      expect(await attached.process.wait()).toBe(5);
      runStdin.end();
      attachStdin.end();
    });

    it('refuses an unknown process id with ProcessNotFoundError "unknown process: id"', async () => {
      const container = await ctx.create();
      await expectRejection(attachProcess(container, 'no-such-process'), ProcessNotFoundError, {
        processId: 'no-such-process',
        kind: 'notFound',
        message: 'unknown process: no-such-process',
      });
    });

    it('refuses a malformed process id with InvalidArgumentError', async () => {
      const container = await ctx.create();
      await expectRejection(attachProcess(container, '../bad'), InvalidArgumentError, { field: 'processId' });
    });

    it('does not attach to a process of another container', async () => {
      const [a, b] = await Promise.all([ctx.create(), ctx.create()]);
      const started = await startProcess(a, probeWith({ id: 'only-in-a' }, sleep(100)));
      await expectRejection(attachProcess(b, started.process.id), ProcessNotFoundError, { processId: 'only-in-a' });
    });
  });

  describe('signals', () => {
    it('ends a process with SIGTERM as 143', async () => {
      const container = await ctx.create();
      const running = await startProcess(container, probe(sleep(100)));
      await running.process.signal('SIGTERM');
      expect(await running.process.wait()).toBe(143);
    });

    it('ends a process with SIGKILL as 137', async () => {
      const container = await ctx.create();
      const running = await startProcess(container, probe(sleep(100)));
      await running.process.signal('SIGKILL');
      expect(await running.process.wait()).toBe(137);
    });

    it('lets a process ignore SIGTERM, but not SIGKILL', async () => {
      const container = await ctx.create();
      const running = await startProcess(container, probe(ignoreTerm(), line('ready'), sleep(100)));
      await waitForOutput(running.stdout, 'ready\n');
      await running.process.signal('SIGTERM');
      expect(await settlesWithin(running.process.wait(), 500)).toBe(false);
      await running.process.signal('SIGKILL');
      expect(await running.process.wait()).toBe(137);
    });

    it('signals a process through an attached handle', async () => {
      const container = await ctx.create();
      const started = await startProcess(container, probe(sleep(100)));
      started.detach();
      const attached = await attachProcess(container, started.process.id);
      await attached.process.signal('SIGTERM');
      expect(await attached.process.wait()).toBe(143);
    });

    it('refuses a signal after exit with ProcessNotFoundError', async () => {
      const container = await ctx.create();
      const running = await startProcess(container, probe(exit(0)));
      expect(await running.process.wait()).toBe(0);
      await expectRejection(running.process.signal('SIGTERM'), ProcessNotFoundError, { processId: running.process.id });
    });

    it('reports a signalled process by the signal, not by the exit code it was going to give', async () => {
      const container = await ctx.create();
      const running = await startProcess(container, probe(line('started'), sleep(100), exit(5)));
      await waitForOutput(running.stdout, 'started\n');
      await running.process.signal('SIGKILL');
      const result = await finish(running);
      expect(result).toMatchObject({ exitCode: 137, stdout: 'started\n' });
    });
  });

  it('leaves other processes in the container running when one is killed', async () => {
    const container = await ctx.create();
    const victim = await startProcess(container, probeWith({ id: 'victim' }, sleep(100)));
    const bystander = await startProcess(container, probe(sleep(0.5), line('still-here')));
    await victim.process.signal('SIGKILL');
    expect(await victim.process.wait()).toBe(137);
    expect(await finish(bystander)).toMatchObject({ exitCode: 0, stdout: 'still-here\n' });
    expect((await runToEnd(container, probe(line('fine')))).stdout).toBe('fine\n');
  });
}
