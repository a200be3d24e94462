import { spawn } from 'node:child_process';
import { arborVersion } from '@arbor/core';
import type { Logger } from '@arbor/core';
import { startFixture } from './arbord-fixture.testkit';
import type { ArbordFixture } from './arbord-fixture.testkit';

const CLI = require.resolve('../dist/cli.js');

interface Cli {
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  interrupt(): void;
}

let f: ArbordFixture;

/** arbor starts the built CLI against the test server. */
function arbor(args: string[], address = f.arbord.address): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env['PATH'], ARBOR_ADDRESS: address }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    exited: new Promise((resolve) => child.on('close', (code) => resolve(code))),
    interrupt: () => child.kill('SIGINT'),
  };
}

async function settle(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

// subscriptions counts arbord's 'events-subscribed' log events: a CLI has subscribed once it grows.
let subscriptions = 0;
const countingLogger: Logger = {
  debug: (event) => void (event === 'events-subscribed' && subscriptions++),
  info: () => undefined,
  error: () => undefined,
  child: () => countingLogger,
};

/** subscribed waits for the next subscription, so that the CLI sees what the test does next. */
async function subscribed(before: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (subscriptions === before) {
    if (Date.now() > deadline) throw new Error('the CLI did not subscribe within 10 s');
    await settle(10);
  }
}

beforeAll(async () => {
  f = await startFixture({}, { logger: countingLogger });
});
afterAll(async () => {
  await f.stop();
});

describe('arbor events', () => {
  test('prints one line per event, time kind handle [process exit], until interrupted', async () => {
    const before = subscriptions;
    const cli = arbor(['events', '--handle', 'cli-ev-1']);
    await subscribed(before);
    const c = await f.client.create({ handle: 'cli-ev-1' });
    const p = await c.run({ path: 'sh', args: ['-c', 'exit 3'], id: 'job' }, {});
    await p.wait();
    await f.client.destroy('cli-ev-1');
    const deadline = Date.now() + 5000;
    while (cli.stdout().split('\n').length < 4 && Date.now() < deadline) await settle(20);
    cli.interrupt();
    expect(await cli.exited).toBe(0);
    const lines = cli.stdout().trimEnd().split('\n');
    expect(lines.map((l) => l.replace(/^\S+ /, ''))).toEqual(['created cli-ev-1', 'process-exited cli-ev-1 job 3', 'destroyed cli-ev-1']);
    expect(Number.isNaN(Date.parse(lines[0]?.split(' ')[0] ?? ''))).toBe(false);
  }, 15_000);

  test('--json --count 1 prints one JSON event and exits', async () => {
    const before = subscriptions;
    const cli = arbor(['--json', 'events', '--count', '1']);
    await subscribed(before);
    await f.client.create({ handle: 'cli-ev-2' });
    expect(await cli.exited).toBe(0);
    expect(JSON.parse(cli.stdout())).toMatchObject({ kind: 'created', handle: 'cli-ev-2', message: 'container cli-ev-2 created' });
    await f.client.destroy('cli-ev-2');
  }, 15_000);
});

describe('arbor version', () => {
  test("prints the client's version and the server's", async () => {
    const cli = arbor(['version']);
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toBe(`client: ${arborVersion()}\nserver: ${arborVersion()}\n`);
    const json = arbor(['--json', 'version']);
    expect(await json.exited).toBe(0);
    expect(JSON.parse(json.stdout())).toEqual({ client: arborVersion(), server: arborVersion() });
  });

  test("still prints the client's version when arbord cannot be reached, and exits 1", async () => {
    const cli = arbor(['version'], `unix://${f.dir}/nobody-here.sock`);
    expect(await cli.exited).toBe(1);
    expect(cli.stdout()).toBe(`client: ${arborVersion()}\n`);
    expect(cli.stderr()).toMatch(/^arbor: /);
  });
});
