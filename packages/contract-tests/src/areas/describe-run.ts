import { ROOT_PATH, USER_PATH, ExecutableNotFoundError, InvalidArgumentError, ProcessAlreadyExistsError } from '@arbor/core';
import { steps } from '@arbor/probes';
import type { BackendCapabilities } from '../contract-setup';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { finish, probe, probeWith, runToEnd, sh, startProcess } from '../helpers/run-process';
import { eventually } from '@arbor/testkit';

const { line, print, zeros, copyStdin, sleep, env: printEnv, printArgs, uid, user, pwd, writeFile, readFile, list, exit } = steps;

function envMap(stdout: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) map.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return map;
}

/**
 * describeRun asks its processes through probes, which every backend runs. The few tests of the
 * rootfs's own shell and programs (busybox's ash, false, true) run only where capabilities say
 * the backend runs the image's programs (runsImagePrograms); the fake runs probes only. The
 * privileged subset passes no capabilities: who root is does not change what ash does.
 */
export function describeRun(ctx: ContractContext, capabilities?: BackendCapabilities): void {
  const describeIfRealShell = capabilities?.runsImagePrograms ? describe : describe.skip;

  describe('run', () => {
    describe('output and exit status', () => {
      it('keeps stdout and stderr apart', async () => {
        const container = await ctx.create();
        const result = await runToEnd(container, probe(line('out'), line('err', 'stderr'), line('more')));
        expect(result).toMatchObject({ exitCode: 0, stdout: 'out\nmore\n', stderr: 'err\n' });
      });

      it('delivers all of stdout and stderr before the exit status', async () => {
        const container = await ctx.create();
        const result = await runToEnd(container, probe(zeros(1048576), line('last-words', 'stderr'), exit(3)));
        expect(result.exitCode).toBe(3);
        expect(result.stdoutBytes.length).toBe(1048576);
        expect(result.stderr).toBe('last-words\n');
      });

      it.each([0, 1, 2, 42, 127, 128, 200, 255])('reports exit code %i exactly', async (code) => {
        const container = await ctx.create();
        expect((await runToEnd(container, probe(exit(code)))).exitCode).toBe(code);
      });

      it('passes arguments verbatim, spaces and quotes included', async () => {
        const container = await ctx.create();
        const { stdout } = await runToEnd(container, probeWith({ args: ['a  b', "it's", '"q"', '$HOME'] }, printArgs()));
        expect(stdout).toBe('a  b\nit\'s\n"q"\n$HOME\n');
      });

      it('delivers output that does not end in a newline as it is', async () => {
        const container = await ctx.create();
        expect((await runToEnd(container, probe(print('no newline')))).stdout).toBe('no newline');
      });

      it('delivers 8 MiB of output complete and unchanged', async () => {
        const container = await ctx.create();
        const size = 8 * 1024 * 1024;
        const result = await runToEnd(container, probe(zeros(size)));
        expect(result.exitCode).toBe(0);
        expect(result.stdoutBytes.length).toBe(size);
        expect(result.stdoutBytes.every((b) => b === 0)).toBe(true);
      }, 30_000);
    });

    describe('stdin', () => {
      it('pipes stdin to the process and closes it at the end', async () => {
        const container = await ctx.create();
        const result = await runToEnd(container, probe(copyStdin()), 'line one\nline two\n');
        expect(result).toMatchObject({ exitCode: 0, stdout: 'line one\nline two\n' });
      });

      it('carries every byte value 0..255 unchanged', async () => {
        const container = await ctx.create();
        const input = Buffer.alloc(256 * 64);
        for (let i = 0; i < input.length; i++) input[i] = i % 256;
        const result = await runToEnd(container, probe(copyStdin()), input);
        expect(result.exitCode).toBe(0);
        expect(result.stdoutBytes.equals(input)).toBe(true);
      });

      it('gives a process run without stdin an empty one', async () => {
        const container = await ctx.create();
        const result = await runToEnd(container, probe(copyStdin()));
        expect(result).toMatchObject({ exitCode: 0, stdout: '' });
      });
    });

    describe('environment', () => {
      it('gives root the default root PATH, USER=root and HOME=/root', async () => {
        const container = await ctx.create();
        const env = envMap((await runToEnd(container, probe(printEnv()))).stdout);
        expect(env.get('PATH')).toBe(ROOT_PATH);
        expect(env.get('USER')).toBe('root');
        expect(env.get('HOME')).toBe('/root');
      });

      it('gives other users a PATH without sbin, their USER and HOME', async () => {
        const container = await ctx.create();
        const env = envMap((await runToEnd(container, probeWith({ user: 'vcap' }, printEnv()))).stdout);
        expect(env.get('PATH')).toBe(USER_PATH);
        expect(env.get('USER')).toBe('vcap');
        expect(env.get('HOME')).toBe('/home/vcap');
      });

      it('layers container env under process env, process env winning', async () => {
        const container = await ctx.create({ env: ['SHARED=container', 'ONLY_CONTAINER=c'] });
        const env = envMap((await runToEnd(container, probeWith({ env: ['SHARED=process', 'ONLY_PROCESS=p'] }, printEnv()))).stdout);
        expect(env.get('SHARED')).toBe('process');
        expect(env.get('ONLY_CONTAINER')).toBe('c');
        expect(env.get('ONLY_PROCESS')).toBe('p');
      });

      it('lets the container or the process set PATH, USER and HOME', async () => {
        const container = await ctx.create({ env: ['PATH=/bin:/custom'] });
        const fromContainer = envMap((await runToEnd(container, probe(printEnv()))).stdout);
        expect(fromContainer.get('PATH')).toBe('/bin:/custom');
        const fromProcess = envMap((await runToEnd(container, probeWith({ env: ['HOME=/elsewhere', 'USER=alias'] }, printEnv()))).stdout);
        expect(fromProcess.get('HOME')).toBe('/elsewhere');
        expect(fromProcess.get('USER')).toBe('alias');
      });

      it('refuses a malformed process env entry naming it', async () => {
        const container = await ctx.create();
        await expectRejection(container.run(probeWith({ env: ['GOOD=1', '=nokey'] }, printEnv()), {}), InvalidArgumentError, {
          field: 'env[1]',
        });
      });
    });

    describe('user and working directory', () => {
      it('runs as root by default', async () => {
        const container = await ctx.create();
        expect((await runToEnd(container, probe(uid()))).stdout).toBe('0\n');
        expect((await runToEnd(container, probe(user()))).stdout).toBe('root\n');
      });

      it('runs as a user given by name', async () => {
        const container = await ctx.create();
        expect((await runToEnd(container, probeWith({ user: 'vcap' }, uid()))).stdout).toBe('1000\n');
        expect((await runToEnd(container, probeWith({ user: 'vcap' }, user()))).stdout).toBe('vcap\n');
        expect((await runToEnd(container, probeWith({ user: 'nobody' }, uid()))).stdout).toBe('65534\n');
      });

      it('runs as a user given by uid:gid', async () => {
        const container = await ctx.create();
        expect((await runToEnd(container, probeWith({ user: '1000:1000' }, uid()))).stdout).toBe('1000\n');
        expect((await runToEnd(container, probeWith({ user: '0:0' }, uid()))).stdout).toBe('0\n');
      });

      it("starts in the user's home by default", async () => {
        const container = await ctx.create();
        expect((await runToEnd(container, probe(pwd()))).stdout).toBe('/root\n');
        expect((await runToEnd(container, probeWith({ user: 'vcap' }, pwd()))).stdout).toBe('/home/vcap\n');
      });

      it('gives the user a home of their own to write in', async () => {
        const container = await ctx.create();
        const result = await runToEnd(container, probeWith({ user: 'vcap' }, pwd(), writeFile('owned.txt', 'mine\n'), readFile('owned.txt')));
        expect(result).toMatchObject({ exitCode: 0, stdout: '/home/vcap\nmine\n' });
      });

      it("creates the user's home when it is missing", async () => {
        const container = await ctx.create();
        // nobody's home in the default rootfs is /nonexistent
        expect((await runToEnd(container, probe(list('/nonexistent')))).exitCode).not.toBe(0);
        const { stdout, exitCode } = await runToEnd(container, probeWith({ user: 'nobody' }, pwd()));
        expect({ stdout, exitCode }).toEqual({ stdout: '/nonexistent\n', exitCode: 0 });
      });

      it('starts in the given directory, creating it when missing', async () => {
        const container = await ctx.create();
        const { stdout, exitCode } = await runToEnd(container, probeWith({ dir: '/srv/app/current' }, pwd()));
        expect({ stdout, exitCode }).toEqual({ stdout: '/srv/app/current\n', exitCode: 0 });
        expect((await runToEnd(container, probe(list('/srv/app')))).stdout).toBe('current\n');
      });
    });

    describe('process ids and errors', () => {
      it('refuses a missing executable with ExecutableNotFoundError', async () => {
        const container = await ctx.create();
        await expectRejection(container.run({ path: '/bin/no-such-binary' }, {}), ExecutableNotFoundError, {
          path: '/bin/no-such-binary',
          kind: 'notFound',
        });
        await expectRejection(container.run({ path: 'no-such-binary-on-path' }, {}), ExecutableNotFoundError, {
          path: 'no-such-binary-on-path',
        });
      });

      it('refuses an empty path and a malformed id with InvalidArgumentError', async () => {
        const container = await ctx.create();
        await expectRejection(container.run({ path: '' }, {}), InvalidArgumentError, { field: 'path' });
        await expectRejection(container.run(probeWith({ id: 'bad id/x' }, exit(0)), {}), InvalidArgumentError, { field: 'id' });
      });

      it('generates a unique id when none is given', async () => {
        const container = await ctx.create();
        const a = await startProcess(container, probe(sleep(100)));
        const b = await startProcess(container, probe(sleep(100)));
        expect(a.process.id).not.toBe('');
        expect(a.process.id).not.toBe(b.process.id);
        expect((await container.info()).processIds.sort()).toEqual([a.process.id, b.process.id].sort());
      });

      it('keeps the id it is given', async () => {
        const container = await ctx.create();
        const running = await startProcess(container, probeWith({ id: 'my-proc' }, sleep(100)));
        expect(running.process.id).toBe('my-proc');
        expect((await container.info()).processIds).toEqual(['my-proc']);
      });

      it("refuses an id already running with ProcessAlreadyExistsError in Garden's words, leaving the first alone", async () => {
        const container = await ctx.create();
        const first = await startProcess(container, probeWith({ id: 'dup' }, sleep(100)));
        const err = await expectRejection(container.run(probeWith({ id: 'dup' }, line('second')), {}), ProcessAlreadyExistsError, {
          processId: 'dup',
          kind: 'alreadyExists',
        });
        // Garden's clients match on "process ID 'dup' already in use"
        expect(err.message).toContain("process ID 'dup' already in use");
        expect((await container.info()).processIds).toEqual(['dup']);
        await first.process.signal('SIGTERM');
        expect(await first.process.wait()).toBe(143);
      });

      it('lets an id be used again once its process has exited', async () => {
        const container = await ctx.create();
        expect((await runToEnd(container, probeWith({ id: 'again' }, line('one')))).stdout).toBe('one\n');
        await eventually(async () => expect((await container.info()).processIds).toEqual([]), 2000);
        expect((await runToEnd(container, probeWith({ id: 'again' }, line('two')))).stdout).toBe('two\n');
      });

      it('runs processes concurrently, each with its own output', async () => {
        const container = await ctx.create();
        const runs = await Promise.all([1, 2, 3, 4].map((n) => startProcess(container, probe(sleep(0.2), line(`proc-${n}`), exit(n)))));
        const results = await Promise.all(runs.map(finish));
        expect(results.map((r) => [r.stdout, r.exitCode])).toEqual([
          ['proc-1\n', 1],
          ['proc-2\n', 2],
          ['proc-3\n', 3],
          ['proc-4\n', 4],
        ]);
      });
    });

    describeIfRealShell("the rootfs's shell and programs (runsImagePrograms)", () => {
      it('reports 1 for false and 0 for true', async () => {
        const container = await ctx.create();
        expect((await runToEnd(container, { path: 'false' })).exitCode).toBe(1);
        expect((await runToEnd(container, { path: 'true' })).exitCode).toBe(0);
      });

      it('runs shell scripts with ; && || $? ${VAR} and redirections', async () => {
        const container = await ctx.create();
        const script = [
          'NAME=world',
          'echo "hello ${NAME}" > /tmp/greeting',
          'echo again >> /tmp/greeting',
          'cat /tmp/greeting',
          'false || echo "after false: $?"',
          'true && echo "after true"',
          'false && echo never',
          'exit 0',
        ].join('; ');
        const { stdout, exitCode } = await runToEnd(container, sh(script));
        expect(exitCode).toBe(0);
        expect(stdout).toBe('hello world\nagain\nafter false: 1\nafter true\n');
      });

      it('reports 127 for a command the shell cannot find', async () => {
        const container = await ctx.create();
        const result = await runToEnd(container, sh('no-such-command-xyz'));
        expect(result.exitCode).toBe(127);
        expect(result.stderr).toContain('no-such-command-xyz');
      });
    });
  });
}
