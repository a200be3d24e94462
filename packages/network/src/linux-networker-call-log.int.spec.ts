// LinuxNetworker logs a call's setup with the call's logger (CallContext). As root, on one
// network namespace this test makes ('arbe-' names, its own prefix and pool, apart from the
// other network tests); everything made is removed in afterAll.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { RecordingLogger, describeIf } from '@arbor/testkit';
import { LinuxNetworker } from './linux-networker';

const run = promisify(execFile);
const HELPER_DIR = path.resolve(__dirname, '../../../native/arbor-net');
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const NS = `arbe-${process.pid}`;

describeIf({ root: true })('LinuxNetworker call logs (root, a network namespace)', () => {
  const own: Record<string, unknown>[] = [];
  let networker: LinuxNetworker;
  let ipForwardBefore = '';

  beforeAll(async () => {
    await run('make', ['-s', '-C', HELPER_DIR]);
    ipForwardBefore = (await readFile(IP_FORWARD, 'utf8')).trim();
    await run('ip', ['netns', 'add', NS]);
    networker = new LinuxNetworker({
      logger: new RecordingLogger(own),
      prefix: 'arbe',
      networkPool: '10.249.8.0/24',
      portPoolStart: 43501,
      portPoolSize: 10,
      helperPath: path.join(HELPER_DIR, 'arbor-net'),
    });
  }, 60_000);

  afterAll(async () => {
    await networker?.removeAll().catch(() => undefined);
    await networker?.close();
    await run('ip', ['netns', 'del', NS]).catch(() => undefined);
    if (ipForwardBefore) await writeFile(IP_FORWARD, ipForwardBefore);
  }, 60_000);

  it("logs setup with the call's logger, and a setup without one with its own", async () => {
    const call: Record<string, unknown>[] = [];
    const info = await networker.setup('e-1', { network: '', netnsPath: `/var/run/netns/${NS}` }, { logger: new RecordingLogger(call, { requestId: 'r1' }) });
    await networker.destroy('e-1');
    expect(call).toContainEqual({ event: 'network-setup', requestId: 'r1', handle: 'e-1', containerIp: info.containerIp, bridge: undefined });
    expect(own.filter((l) => l['event'] === 'network-setup')).toEqual([]);
    await networker.setup('e-2', { network: '', netnsPath: `/var/run/netns/${NS}` });
    await networker.destroy('e-2');
    expect(own).toContainEqual(expect.objectContaining({ event: 'network-setup', handle: 'e-2' }));
  });
});
