// kill -9 of a real arbord process, for each real backend: processes keep running, and a new
// arbord over the same state dir gives their remaining output and exit status on Attach
// (root only; runc only where the runc binary is installed).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { GrpcClient } from '@arbor/client';
import { describeIf, HOST_BACKENDS } from '@arbor/testkit';
import { OutputCollector } from './helpers/output-collector';
import { freeTestNetwork, networkArgs, type TestNetwork } from './helpers/test-network';

const ARBORD = resolve(__dirname, '..', '..', 'server', 'dist', 'main.js');
describeIf({ root: true }).each(HOST_BACKENDS)('kill -9 of arbord (%s backend)', (backend) => {
  jest.setTimeout(60_000);
  let dir: string;
  let arbord: ChildProcess | undefined;
  // network is this test's tag and pools, kept across kill and restart: the restarted arbord finds its own links
  let network: TestNetwork;
  const socket = () => join(dir, 'arbord.sock');

  /** startArbord runs the real arbord binary and waits until it answers a Ping. */
  async function startArbord(): Promise<GrpcClient> {
    if (!existsSync(ARBORD)) throw new Error(`${ARBORD} is missing: build @arbor/server first`);
    arbord = spawn(process.execPath, [ARBORD, '--backend', backend, '--listen', `unix://${socket()}`, '--state-dir', join(dir, 'state'), '--log-level', 'error', ...networkArgs(network)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const client = await GrpcClient.connect(`unix://${socket()}`);
        await client.ping();
        return client;
      } catch (err) {
        if (Date.now() > deadline || arbord.exitCode !== null) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async function killArbord(): Promise<void> {
    const child = arbord;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), `arbor-kill-${backend}-`));
    network = await freeTestNetwork();
  });
  afterEach(async () => {
    await killArbord();
    const client = await startArbord();
    for (const c of await client.containers()) await client.destroy(c.handle);
    client.close();
    arbord?.kill('SIGTERM');
    await new Promise((r) => arbord?.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps a process running: Attach after the restart gets its remaining output and exit status', async () => {
    const first = await startArbord();
    const container = await first.create({ properties: { owner: 'kill-test' } });
    await container.run({ id: 'survivor', path: 'sh', args: ['-c', 'read x; echo after $x; echo bye >&2; exit 7'] }, { stdin: new PassThrough() });
    await killArbord();
    first.close();

    const second = await startArbord();
    const again = await second.lookup(container.handle);
    expect(await again.properties()).toEqual({ owner: 'kill-test' });
    expect((await again.info()).processIds).toEqual(['survivor']);
    const stdout = new OutputCollector();
    const stderr = new OutputCollector();
    const process = await again.attach('survivor', { stdout, stderr, stdin: PassThrough.from(['restarted\n']) });
    expect(await process.wait()).toBe(7);
    expect(stdout.text()).toBe('after restarted\n');
    expect(stderr.text()).toBe('bye\n');
    second.close();
  });

  // what systemd's Restart=on-failure relies on (scripts/arbord.service): a crash and a fresh
  // start over the same state dir bring back every container, its processes and its network
  it('brings back every container after the restart, with its running process, properties and address', async () => {
    const first = await startArbord();
    const before = [];
    for (let i = 0; i < 3; i++) {
      const container = await first.create({ properties: { n: String(i) } });
      await container.run({ id: `sleeper-${i}`, path: 'sleep', args: ['600'] }, {});
      before.push({ handle: container.handle, ip: (await container.info()).containerIp });
    }
    await killArbord();
    first.close();

    const second = await startArbord();
    const handles = (await second.containers()).map((c) => c.handle).sort();
    expect(handles).toEqual(before.map((b) => b.handle).sort());
    for (const [i, { handle, ip }] of before.entries()) {
      const again = await second.lookup(handle);
      const info = await again.info();
      expect({ processIds: info.processIds, ip: info.containerIp, properties: await again.properties() }).toEqual({
        processIds: [`sleeper-${i}`],
        ip,
        properties: { n: String(i) },
      });
      const stdout = new OutputCollector();
      const ps = await again.run({ path: 'sh', args: ['-c', 'for p in /proc/[0-9]*; do [ "$(cat $p/comm)" = sleep ] && echo alive && exit 0; done; exit 1'] }, { stdout });
      expect(await ps.wait()).toBe(0);
      expect(stdout.text()).toBe('alive\n');
    }
    second.close();
  });

  it('gives the exit status and output of a process that ended while arbord was down', async () => {
    const first = await startArbord();
    const container = await first.create({});
    await container.run({ id: 'quick', path: 'sh', args: ['-c', 'sleep 0.5; echo late; exit 3'] }, {});
    await killArbord();
    first.close();
    await new Promise((r) => setTimeout(r, 1000));

    const second = await startArbord();
    const stdout = new OutputCollector();
    const process = await (await second.lookup(container.handle)).attach('quick', { stdout });
    expect(await process.wait()).toBe(3);
    expect(stdout.text()).toBe('late\n');
    second.close();
  });
});
