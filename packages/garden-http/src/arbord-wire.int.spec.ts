// The Garden wire suite against a real arbord started with --garden-listen: the fake backend
// (anywhere), and linux and runc (root only). Plus what only a whole arbord shows: one
// backend behind both fronts.
import { describeIf, HOST_BACKENDS } from '@arbor/testkit';
import { describeGardenWire } from './describe-garden-wire.testkit';
import { startRealArbord } from './real-arbord.testkit';
import type { RealArbord } from './real-arbord.testkit';
import { call, runToEnd } from './wire.testkit';

// arbord's default: output nobody attached to waits 10 s before it is discarded
const UNATTACHED_WAIT_MS = 10_000;

function wireOn(backend: string, transport: 'unix' | 'tcp'): void {
  describeGardenWire(
    `arbord --backend ${backend} over ${transport}`,
    async () => {
      const arbord = await startRealArbord(backend, transport);
      return { target: arbord.garden, close: () => arbord.stop() };
    },
    // the 10 s wait for unattached output is the front's, whatever the backend: once, on the fake
    { unattachedWaitMs: UNATTACHED_WAIT_MS, waitsOutUnattachedOutput: backend === 'fake' },
  );
}

wireOn('fake', 'unix');

describe('arbord serves one backend over gRPC and Garden HTTP', () => {
  jest.setTimeout(60_000);
  let arbord: RealArbord;
  beforeAll(async () => {
    arbord = await startRealArbord('fake', 'tcp');
  });
  afterAll(async () => {
    await arbord?.stop();
  });

  it('a container made over Garden HTTP is there over gRPC, and the other way round', async () => {
    const res = await call(arbord.garden, 'POST', '/containers', { body: { handle: 'from-http', properties: { front: 'http' } } });
    expect(res.status).toBe(200);
    expect(await arbord.grpc.properties('from-http')).toEqual({ front: 'http' });
    await arbord.grpc.create('from-grpc');
    const list = await call(arbord.garden, 'GET', '/containers');
    expect((list.json as { Handles: string[] }).Handles).toEqual(expect.arrayContaining(['from-http', 'from-grpc']));
    const result = await runToEnd(arbord.garden, 'from-grpc', { path: 'sh', args: ['-c', 'echo hi'] });
    expect(result).toMatchObject({ stdout: 'hi\n', exit: { exit_status: 0 } });
  });
});

describeIf({ root: true })('Garden HTTP on the host backends', () => {
  // TCP: the fake over TCP below and listen-garden-tls.spec; the backend does not change what the transport carries
  for (const backend of HOST_BACKENDS) wireOn(backend, 'unix');
});
