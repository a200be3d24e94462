import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFixture } from './arbord-fixture.testkit';
import type { ArbordFixture } from './arbord-fixture.testkit';

const CLI = join(__dirname, '..', 'dist', 'cli.js');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let f: ArbordFixture;

/** arbor runs the built CLI against the test server. */
function arbor(args: string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env['PATH'], ARBOR_ADDRESS: f.arbord.address, ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) child.stdin?.end(input);
  });
}

beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => {
  await f.stop();
});

describe('arbor CLI', () => {
  test('create prints the handle; run echoes; destroy removes it', async () => {
    const created = await arbor(['create', '--handle', 'cli-1', '--property', 'app=web', '--memory', '64M', '--env', 'A=1']);
    expect(created).toMatchObject({ code: 0, stdout: 'cli-1\n' });
    const ran = await arbor(['run', 'cli-1', '--', 'echo', 'hi']);
    expect(ran).toMatchObject({ code: 0, stdout: 'hi\n' });
    const limits = await arbor(['--json', 'limits', 'cli-1']);
    // pid: arbord's defaultPidLimit, given to containers created without a pid limit
    expect(JSON.parse(limits.stdout)).toEqual({ memory: { limitInBytes: 64 * 1024 * 1024 }, pid: { max: 4096 } });
    expect(await arbor(['destroy', 'cli-1'])).toMatchObject({ code: 0 });
    expect(await arbor(['info', 'cli-1'])).toMatchObject({ code: 1, stderr: 'arbor: unknown handle: cli-1\n' });
  });

  describe('with a container', () => {
    beforeAll(async () => {
      expect((await arbor(['create', '--handle', 'cli-2', '--property', 'app=db'])).code).toBe(0);
    });
    afterAll(async () => {
      await arbor(['destroy', 'cli-2']);
    });

    test("run exits with the process's code and passes stderr through", async () => {
      expect(await arbor(['run', 'cli-2', '--', 'sh', '-c', 'echo failing >&2; exit 7'])).toMatchObject({ code: 7, stderr: 'failing\n' });
    });

    test('run pipes standard input', async () => {
      expect(await arbor(['run', 'cli-2', '--', 'cat'], 'piped data')).toMatchObject({ code: 0, stdout: 'piped data' });
    });

    test('--json gives machine-readable results', async () => {
      const list = await arbor(['--json', 'list', '--property', 'app=db']);
      expect(JSON.parse(list.stdout)).toEqual(['cli-2']);
      const info = await arbor(['info', 'cli-2', '--json']);
      expect(JSON.parse(info.stdout)).toMatchObject({ state: 'active', properties: { app: 'db' } });
      const bulk = await arbor(['--json', 'bulk-info', 'cli-2', 'nope']);
      const parsed = JSON.parse(bulk.stdout) as Record<string, { value?: unknown; error?: { name: string } }>;
      expect(parsed['cli-2']?.value).toMatchObject({ state: 'active' });
      expect(parsed['nope']?.error).toMatchObject({ name: 'ContainerNotFoundError', fields: { handle: 'nope' } });
    });

    test('plain output prints key: value lines', async () => {
      const info = await arbor(['info', 'cli-2']);
      expect(info.stdout).toContain('state: active\n');
      expect(info.stdout).toContain('properties.app: db\n');
    });

    test('properties can be set, read and removed', async () => {
      expect((await arbor(['set-property', 'cli-2', 'color', 'blue'])).code).toBe(0);
      expect(await arbor(['get-property', 'cli-2', 'color'])).toMatchObject({ code: 0, stdout: 'blue\n' });
      expect((await arbor(['remove-property', 'cli-2', 'color'])).code).toBe(0);
      const missing = await arbor(['--json', 'get-property', 'cli-2', 'color']);
      expect(missing.code).toBe(1);
      expect(JSON.parse(missing.stderr)).toMatchObject({ error: { name: 'PropertyNotFoundError', kind: 'notFound' } });
    });

    test('net-in prints the mapping', async () => {
      expect(await arbor(['net-in', 'cli-2', '--host-port', '0', '--container-port', '8080'])).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(/^\d+:8080\n$/),
      });
    });

    test('stream-in a directory and stream-out into another', async () => {
      const from = join(f.dir, 'from');
      const to = join(f.dir, 'to');
      await mkdir(join(from, 'sub'), { recursive: true });
      await writeFile(join(from, 'a.txt'), 'alpha');
      await writeFile(join(from, 'sub', 'b.txt'), 'beta');
      expect((await arbor(['stream-in', 'cli-2', '--path', '/app/', '--from-dir', from])).code).toBe(0);
      expect((await arbor(['stream-out', 'cli-2', '--path', '/app/', '--to-dir', to])).code).toBe(0);
      expect(await readFile(join(to, 'a.txt'), 'utf8')).toBe('alpha');
      expect(await readFile(join(to, 'sub', 'b.txt'), 'utf8')).toBe('beta');
    });
  });

  test('a bad flag value is a usage error: exit 2', async () => {
    const res = await arbor(['create', '--memory', 'lots']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("'lots' is not a size");
  });

  test('an unknown command is a usage error: exit 2', async () => {
    expect((await arbor(['frobnicate'])).code).toBe(2);
  });

  test('--help shows examples', async () => {
    const res = await arbor(['--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Examples:');
    expect(res.stdout).toContain('stream-out');
  });

  test('no server: exit 1 with a message that says how to start arbord', async () => {
    const res = await arbor(['--socket', join(f.dir, 'nobody.sock'), 'ping']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`cannot reach arbord at unix://${join(f.dir, 'nobody.sock')}`);
  });
});
