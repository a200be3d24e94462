// kill -9 of a real arbord process, for each real backend: processes keep running, and a new
// arbord over the same state dir gives their remaining output and exit status on Attach
// (root only; runc only where the runc binary is installed).
import { PassThrough } from 'node:stream';
import type { GrpcClient } from '@arbor/client';
import { describeIf, HOST_BACKENDS } from '@arbor/testkit';
import { OutputCollector } from './helpers/output-collector';
import { freeTestNetwork, type TestNetwork } from './helpers/test-network';
import { startRealArbord, type RealArbord } from './hostile/real-arbord';

describeIf({ root: true }).each(HOST_BACKENDS)('kill -9 of arbord (%s backend)', (backend) => {
  jest.setTimeout(60_000);
  // dir and network are this test's, kept across kill and restart: the restarted arbord finds its state and its own links
  let dir: string | undefined;
  let network: TestNetwork;
  let arbord: RealArbord | undefined;

  /** startArbord runs the real arbord binary over this test's dir and network and returns its client once it answers a Ping. */
  async function startArbord(): Promise<GrpcClient> {
    arbord = await startRealArbord(backend, [], { network, ...(dir === undefined ? {} : { dir }) });
    dir = arbord.dir;
    return arbord.client;
  }

  async function killArbord(): Promise<void> {
    await arbord?.kill();
  }

  beforeEach(async () => {
    dir = undefined;
    arbord = undefined;
    network = await freeTestNetwork();
  });
  afterEach(async () => {
    // a fresh arbord over the same dir destroys what the test left, then stops and removes dir
    await killArbord();
    await startArbord();
    await arbord?.stop();
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
      const ps = await again.run(
        { path: 'sh', args: ['-c', 'for p in /proc/[0-9]*; do [ "$(cat $p/comm)" = sleep ] && echo alive && exit 0; done; exit 1'] },
        { stdout },
      );
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
