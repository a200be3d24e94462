// The `arbor` executable (dist/cli.js) runs the bundle with a code cache kept under
// XDG_CACHE_HOME/arbor; these check that the cache is made, used, and survives being spoiled.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
function arbor(args: string[], env: NodeJS.ProcessEnv = { XDG_CACHE_HOME: cacheHome }): Promise<Result> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
  expect(cacheFiles()).toEqual([expect.stringMatching(new RegExp(`^cli-${process.version}-${process.arch}-\\d+-\\d+\\.v8$`))]);
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

test('a command that talks to arbord writes a cache of its own (with grpc-js), which later starts prefer', async () => {
  const f = await startFixture();
  try {
    const ping = (): Promise<Result> => arbor(['--address', f.arbord.address, 'ping']);
    expect((await arbor(['--help'])).status).toBe(0);
    expect(await ping()).toMatchObject({ status: 0, stdout: 'ok\n' });
    expect(cacheFiles().sort()).toEqual([expect.stringMatching(/\d-client\.v8$/), expect.stringMatching(/\d\.v8$/)]);
    const client = join(cacheHome, 'arbor', cacheFiles().find((name) => name.endsWith('-client.v8')) ?? '');
    const written = statSync(client).mtimeMs;
    expect(await ping()).toMatchObject({ status: 0, stdout: 'ok\n' });
    expect((await arbor(['--help'])).status).toBe(0);
    expect(statSync(client).mtimeMs).toBe(written);
  } finally {
    await f.stop();
  }
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
