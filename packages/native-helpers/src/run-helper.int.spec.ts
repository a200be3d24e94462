// Needs the built helpers (make -C native): arbor-spawn, and shell scripts standing in for helpers.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_HELPERS_DIR, HelperError, HelperRunner } from './run-helper';
import { SpawnServer } from './spawn-server';

const SPAWN = join(DEFAULT_HELPERS_DIR, 'arbor-spawn');

beforeAll(() => {
  if (!existsSync(SPAWN)) execFileSync('make', ['-s', '-C', resolve(DEFAULT_HELPERS_DIR, '..')], { stdio: 'inherit' });
});

/** helperDir holds arbor-spawn and an 'arbor-exec' script that runs its arguments as a shell command. */
async function helperDir(withSpawn: boolean): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'arbor-helpers-'));
  if (withSpawn) await symlink(SPAWN, join(dir, 'arbor-spawn'));
  await writeFile(join(dir, 'arbor-exec'), '#!/bin/sh\neval "$1"\n');
  await chmod(join(dir, 'arbor-exec'), 0o755);
  return dir;
}

describe.each([
  ['through arbor-spawn', true],
  ['with node spawn (no arbor-spawn in dir)', false],
])('HelperRunner %s', (_name, withSpawn) => {
  let dir: string;
  let runner: HelperRunner;
  beforeEach(async () => {
    dir = await helperDir(withSpawn);
    runner = new HelperRunner(dir);
  });
  afterEach(async () => {
    runner.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('returns stdout of a helper that succeeds', async () => {
    expect(await runner.run('arbor-exec', ['printf "1234\\n"; echo ignored >&2'])).toBe('1234\n');
  });

  it('folds the exit code and stderr into a HelperError', async () => {
    const err = await runner.run('arbor-exec', ['echo "arbor-exec: no such file" >&2; exit 3']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HelperError);
    expect(err).toMatchObject({ helper: 'arbor-exec', exitCode: 3, stderr: 'arbor-exec: no such file\n' });
  });

  it('reports a helper killed by a signal with no exit code', async () => {
    const err = await runner.run('arbor-exec', ['kill -9 $$']).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: null });
  });

  it('says how to build a helper that is missing', async () => {
    await expect(runner.run('arbor-create', [])).rejects.toThrow(/arbor-create: cannot start .*arbor-create.*make -C native/);
  });

  it('runs helpers side by side, each answer to its own call', async () => {
    const outs = await Promise.all([3, 1, 2].map((n) => runner.run('arbor-exec', [`sleep 0.0${n}; echo ${n}`])));
    expect(outs).toEqual(['3\n', '1\n', '2\n']);
  });

  it('hands back output larger than a pipe buffer whole', async () => {
    const out = await runner.run('arbor-exec', ['head -c 300000 /dev/zero | tr "\\0" x']);
    expect(out).toBe('x'.repeat(300000));
  });

  it('waits for every writer of stdout, as node does', async () => {
    // the background writer outlives the helper by 50 ms
    expect(await runner.run('arbor-exec', ['(sleep 0.05; echo late) & echo early'])).toBe('early\nlate\n');
  });
});

describe('SpawnServer', () => {
  it('fails the runs in flight when it dies, saying so, and the runner starts a new one', async () => {
    const dir = await helperDir(true);
    const runner = new HelperRunner(dir);
    try {
      await runner.run('arbor-exec', ['true']);
      const slow = runner.run('arbor-exec', ['sleep 5']);
      // kill the server, found as the parent of the helper it started
      await new Promise((r) => setTimeout(r, 50));
      const server = execFileSync('pgrep', ['-f', '-n', `${dir}/arbor-spawn`]).toString().trim();
      process.kill(Number(server), 'SIGKILL');
      await expect(slow).rejects.toThrow(/arbor-spawn died while running .*arbor-exec, which may or may not have run/);
      expect(await runner.run('arbor-exec', ['echo again'])).toBe('again\n');
    } finally {
      runner.close();
      try {
        execFileSync('pkill', ['-f', `${dir}/arbor-exec`]);
      } catch {
        // already gone
      }
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves the runner on node spawn when arbor-spawn cannot start at all', async () => {
    const dir = await helperDir(false);
    // executable, but its interpreter is missing: the exec fails
    await writeFile(join(dir, 'arbor-spawn'), '#!/nonexistent/interpreter\n');
    await chmod(join(dir, 'arbor-spawn'), 0o755);
    const runner = new HelperRunner(dir);
    try {
      expect(await runner.run('arbor-exec', ['echo first'])).toBe('first\n');
      expect(await runner.run('arbor-exec', ['echo second'])).toBe('second\n');
    } finally {
      runner.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers a program that cannot start with its errno', async () => {
    const server = new SpawnServer(SPAWN);
    try {
      expect(await server.run(['/nonexistent/helper'])).toMatchObject({ exitCode: null, spawnErrno: 2 });
    } finally {
      server.close();
    }
  });

  it('refuses runs once it is dead', async () => {
    const server = new SpawnServer('/nonexistent/arbor-spawn');
    await new Promise((r) => setTimeout(r, 50));
    expect(server.dead).toBe(true);
    await expect(server.run(['/bin/true'])).rejects.toThrow(/arbor-spawn: cannot start \/nonexistent\/arbor-spawn/);
  });
});
