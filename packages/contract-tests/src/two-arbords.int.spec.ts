// Two real arbords (linux backend) side by side on one host, each with its own tag and pools:
// restarting one leaves the other's containers their network, and an arbord whose pools
// overlap a running one's, or that takes its tag, refuses to start and names it
// (operations issue: several arbords on one host). Root only.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Container } from '@arbor/core';
import { NetworkNames, prefixForTag } from '@arbor/network';
import { startProcess, sh } from './helpers/run-process';
import { freeTestNetwork, networkArgs, type TestNetwork } from './helpers/test-network';
import { ARBORD_MAIN, describeIf, eventually } from '@arbor/testkit';
import { startRealArbord, type RealArbord } from './hostile/real-arbord';

const run = promisify(execFile);

function readFromPort(port: number): Promise<string> {
  return new Promise((done, fail) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => done(Buffer.concat(chunks).toString()));
    socket.on('error', fail);
    socket.setTimeout(2000, () => socket.destroy(new Error('timed out')));
  });
}

/** refusedStart runs arbord expecting it not to start; it resolves to its exit code and stderr. */
async function refusedStart(network: TestNetwork): Promise<{ code: number | null; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'arbor-refused-'));
  try {
    const child = spawn(
      process.execPath,
      [ARBORD_MAIN, '--backend', 'linux', '--listen', `unix://${join(dir, 'arbord.sock')}`, '--state-dir', join(dir, 'state'), ...networkArgs(network)],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    clearTimeout(timer);
    return { code, stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describeIf({ root: true })('two arbords on one host', () => {
  jest.setTimeout(90_000);
  let a: RealArbord | undefined;
  let b: RealArbord | undefined;

  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
  });

  /** serve makes a container answering 'hello from <tag>' on a NetIn host port. */
  async function serve(arbord: RealArbord): Promise<{ container: Container; hostPort: number; veth: string }> {
    const container = await arbord.client.create({});
    const { hostPort } = await container.netIn(0, 8080);
    await startProcess(container, sh(`while true; do echo hello from ${arbord.network.tag} | nc -l -p 8080; done`));
    await eventually(() => readFromPort(hostPort), 5000, 200);
    const veth = new NetworkNames(prefixForTag(arbord.network.tag)).hostVeth((await container.info()).containerIp);
    return { container, hostPort, veth };
  }

  it("restarting one leaves the other's containers their network; an overlapping pool or a taken tag is refused, naming the running arbord", async () => {
    const netA = await freeTestNetwork();
    const netB = await freeTestNetwork([netA.tag]);
    a = await startRealArbord('linux', [], { network: netA });
    b = await startRealArbord('linux', [], { network: netB });
    const inA = await serve(a);
    const inB = await serve(b);
    expect(inA.hostPort).toBeGreaterThanOrEqual(netA.portPoolStart);
    expect(inA.hostPort).toBeLessThan(netA.portPoolStart + netA.portPoolSize);

    // restart B, as systemd does: TERM, then a new arbord over the same state dir and tag
    await b.terminate();
    b = await startRealArbord('linux', [], { network: netB, dir: b.dir });

    const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
    expect(links).toContain(`${inA.veth}@`);
    expect(await readFromPort(inA.hostPort)).toBe(`hello from ${netA.tag}\n`);
    // and B's own container came back with its network too
    expect(links).toContain(`${inB.veth}@`);
    expect(await eventually(() => readFromPort(inB.hostPort), 5000, 200)).toBe(`hello from ${netB.tag}\n`);

    // a third arbord on a pool overlapping A's, under a tag of its own, is refused and names A
    const netC = await freeTestNetwork([netA.tag, netB.tag]);
    const overlapping = await refusedStart({ ...netC, networkPool: netA.networkPool.replace(/\/22$/, '/24') });
    expect(overlapping.code).not.toBe(0);
    expect(overlapping.stderr).toContain(`overlap another arbord's: tag '${netA.tag}' (pid ${a.pid}) with network pool ${netA.networkPool}`);

    // one taking A's tag (on pools of its own) is refused and names A
    const sameTag = await refusedStart({ ...netC, tag: netA.tag });
    expect(sameTag.code).not.toBe(0);
    expect(sameTag.stderr).toContain(`tag '${netA.tag}' is taken by another arbord: tag '${netA.tag}' (pid ${a.pid})`);

    // neither refusal touched A's network
    expect((await run('ip', ['-o', 'link', 'show'])).stdout).toContain(`${inA.veth}@`);
    expect(await readFromPort(inA.hostPort)).toBe(`hello from ${netA.tag}\n`);
    expect(a.alive()).toBe(true);
  });
});
