// The `arbor` executable (dist/cli.js) runs its bundles with code caches kept under
// XDG_CACHE_HOME/arbor; these check that the caches are made, used, and survive being
// spoiled, and that a command loads only what it uses.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFixture } from './arbord-fixture.testkit';

const CLI = require.resolve('../dist/cli.js');

let cacheHome: string;
beforeEach(() => {
  cacheHome = mkdtempSync(join(tmpdir(), 'arbor-cli-cache-'));
});
afterEach(() => rmSync(cacheHome, { recursive: true, force: true }));

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** arbor runs the built CLI; not spawnSync, which would block the fixture's arbord in this process. */
function arbor(args: string[], env: NodeJS.ProcessEnv = { XDG_CACHE_HOME: cacheHome }, nodeArgs: string[] = []): Promise<Result> {
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], { env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const cacheFiles = (): string[] => readdirSync(join(cacheHome, 'arbor'));

test('the first start writes the code cache, one file per node and bundle; the next uses it with the same output', async () => {
  const first = await arbor(['--help']);
  expect(first).toMatchObject({ status: 0, stderr: '' });
  expect(first.stdout).toContain('Usage: arbor');
  expect(cacheFiles()).toEqual([expect.stringMatching(new RegExp(`^cli-${process.version}-${process.arch}-\\d+-\\d+-local\\.v8$`))]);
  const file = join(cacheHome, 'arbor', cacheFiles()[0] ?? '');
  const written = statSync(file).mtimeMs;
  expect(await arbor(['--help'])).toEqual(first);
  // an accepted cache is not written again
  expect(statSync(file).mtimeMs).toBe(written);
});

test('a spoiled cache is rejected by V8 and written anew; the command still runs', async () => {
  await arbor(['--help']);
  const file = join(cacheHome, 'arbor', cacheFiles()[0] ?? '');
  writeFileSync(file, 'not a code cache');
  expect(await arbor(['completion', 'bash'])).toMatchObject({ status: 0, stdout: expect.stringContaining('complete -o default -F _arbor arbor') });
  expect(statSync(file).size).toBeGreaterThan(1000);
});

test('a command that talks to arbord writes caches of its own: the CLI part as it ran, and the client bundle (grpc-js)', async () => {
  const f = await startFixture();
  try {
    const ping = (): Promise<Result> => arbor(['--address', f.arbord.address, 'ping']);
    expect((await arbor(['--help'])).status).toBe(0);
    expect(await ping()).toMatchObject({ status: 0, stdout: 'ok\n' });
    expect(cacheFiles().sort()).toEqual([
      expect.stringMatching(/^cli-.*\d-client\.v8$/),
      expect.stringMatching(/^cli-.*\d-local\.v8$/),
      expect.stringMatching(/^client-.*\d\.v8$/),
    ]);
    const written = cacheFiles().map((name) => statSync(join(cacheHome, 'arbor', name)).mtimeMs);
    expect(await ping()).toMatchObject({ status: 0, stdout: 'ok\n' });
    expect((await arbor(['--help'])).status).toBe(0);
    expect(cacheFiles().map((name) => statSync(join(cacheHome, 'arbor', name)).mtimeMs)).toEqual(written);
  } finally {
    await f.stop();
  }
});

test.each([[['--help']], [['completion', 'bash']], [['ping', '--help']]])('arbor %j loads neither grpc-js nor node:http2', async (args) => {
  // the preload lists, at exit, the node modules this process loaded
  const preload = join(cacheHome, 'loaded.js');
  writeFileSync(preload, "process.on('exit', () => require('fs').writeFileSync(__dirname + '/loaded.txt', process.moduleLoadList.join('\\n')));");
  expect(await arbor(args, { XDG_CACHE_HOME: cacheHome }, ['--require', preload])).toMatchObject({ status: 0, stderr: '' });
  expect(readFileSync(join(cacheHome, 'loaded.txt'), 'utf8').split('\n')).not.toContain('NativeModule http2');
  expect(cacheFiles()).not.toContainEqual(expect.stringMatching(/^client-/));
});

test("a new build's cache replaces this node's caches of earlier builds, not other nodes'", async () => {
  mkdirSync(join(cacheHome, 'arbor'));
  const earlier = `cli-${process.version}-${process.arch}-1-2.v8`;
  const otherNode = 'cli-v0.0.1-x64-1-2.v8';
  for (const name of [earlier, otherNode]) writeFileSync(join(cacheHome, 'arbor', name), 'old');
  expect((await arbor(['--help'])).status).toBe(0);
  expect(cacheFiles()).toContain(otherNode);
  expect(cacheFiles()).not.toContain(earlier);
  expect(cacheFiles()).toHaveLength(2);
});

test('with neither XDG_CACHE_HOME nor HOME it runs without a cache', async () => {
  expect(await arbor(['--help'], {})).toMatchObject({ status: 0, stderr: '' });
});

it('ends quietly when its reader stops early (`arbor --help | head -c 5`), as other Unix tools do', async () => {
  const child = spawn(process.execPath, [CLI, '--help'], { env: { PATH: process.env['PATH'], XDG_CACHE_HOME: cacheHome }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // the reader goes away at once, before the help is written
  child.stdout.destroy();
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(stderr).toBe('');
  expect(status).toBe(141);
});
