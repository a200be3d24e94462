import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { ContainerSpec, GardenClient } from '@arbor/proto';

// These tests run the built daemon (dist/main.js), as an operator would.
const MAIN = join(__dirname, '..', 'dist', 'main.js');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arbord-main-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Daemon {
  child: ChildProcessWithoutNullStreams;
  events: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  stderr(): string;
}

function spawnArbord(args: string[]): Daemon {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'] } });
  const events: Array<Record<string, unknown>> = [];
  let buffered = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) events.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, events, exited, stderr: () => stderr };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('SIGTERM stops arbord gracefully: exit 0, socket removed, stop logged', async () => {
  const socket = join(dir, 'run', 'arbord.sock');
  const daemon = spawnArbord(['--backend', 'fake', '--listen', `unix://${socket}`, '--state-dir', join(dir, 'state')]);
  await until(() => daemon.events.some((e) => e['event'] === 'arbord-started'), `arbord-started (stderr: ${daemon.stderr()})`);
  expect((await stat(socket)).mode & 0o777).toBe(0o600);

  const client = new GardenClient(`unix://${socket}`, credentials.createInsecure());
  const created = await new Promise<{ handle: string }>((resolve, reject) =>
    client.create({ spec: { ...ContainerSpec.create(), handle: 'sigterm-1' } }, (err, res) => (err ? reject(err) : resolve(res))),
  );
  expect(created.handle).toBe('sigterm-1');
  client.close();

  daemon.child.kill('SIGTERM');
  expect(await daemon.exited).toBe(0);
  await expect(stat(socket)).rejects.toMatchObject({ code: 'ENOENT' });
  expect(daemon.events.map((e) => e['event'])).toEqual(expect.arrayContaining(['arbord-stopping', 'arbord-stopped']));
}, 30_000);

test('a bad config exits 1 with a message naming the field', async () => {
  const daemon = spawnArbord(['--listen', 'tcp://127.0.0.1:0', '--state-dir', join(dir, 'state')]);
  expect(await daemon.exited).toBe(1);
  expect(daemon.stderr()).toMatch(/^arbord: invalid config: listen: TCP without TLS is refused/);
});

test('an unknown flag is a usage error: exit 2', async () => {
  const daemon = spawnArbord(['--no-such-flag']);
  expect(await daemon.exited).toBe(2);
  expect(daemon.stderr()).toContain("Unknown option '--no-such-flag'");
});

test("--version prints arbord's version, from the repository's package.json, and exits 0", async () => {
  const daemon = spawnArbord(['--version']);
  let stdout = '';
  daemon.child.stdout.removeAllListeners('data');
  daemon.child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  expect(await daemon.exited).toBe(0);
  const { version } = JSON.parse(await readFile(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  expect(stdout).toBe(`arbord ${version}\n`);
});
