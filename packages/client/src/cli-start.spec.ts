// The `arbor` executable (dist/cli.js) runs the bundle with a code cache kept under
// XDG_CACHE_HOME/arbor; these check that the cache is made, used, and survives being spoiled.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = require.resolve('../dist/cli.js');

let cacheHome: string;
beforeEach(() => {
  cacheHome = mkdtempSync(join(tmpdir(), 'arbor-cli-cache-'));
});
afterEach(() => rmSync(cacheHome, { recursive: true, force: true }));

function arbor(args: string[], env: NodeJS.ProcessEnv = { XDG_CACHE_HOME: cacheHome }): { status: number | null; stdout: string; stderr: string } {
  const { status, stdout, stderr } = spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env['PATH'], ...env }, encoding: 'utf8' });
  return { status, stdout, stderr };
}

const cacheFiles = (): string[] => readdirSync(join(cacheHome, 'arbor'));

test('the first start writes the code cache, one file per node and bundle; the next uses it with the same output', () => {
  const first = arbor(['--help']);
  expect(first).toMatchObject({ status: 0, stderr: '' });
  expect(first.stdout).toContain('Usage: arbor');
  expect(cacheFiles()).toEqual([expect.stringMatching(new RegExp(`^cli-${process.version}-${process.arch}-\\d+-\\d+\\.v8$`))]);
  const file = join(cacheHome, 'arbor', cacheFiles()[0] ?? '');
  const written = statSync(file).mtimeMs;
  expect(arbor(['--help'])).toEqual(first);
  // an accepted cache is not written again
  expect(statSync(file).mtimeMs).toBe(written);
});

test('a spoiled cache is rejected by V8 and written anew; the command still runs', () => {
  arbor(['--help']);
  const file = join(cacheHome, 'arbor', cacheFiles()[0] ?? '');
  writeFileSync(file, 'not a code cache');
  expect(arbor(['completion', 'bash'])).toMatchObject({ status: 0, stdout: expect.stringContaining('complete -o default -F _arbor arbor') });
  expect(statSync(file).size).toBeGreaterThan(1000);
});

test('with neither XDG_CACHE_HOME nor HOME it runs without a cache', () => {
  expect(arbor(['--help'], {})).toMatchObject({ status: 0, stderr: '' });
});
