import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostPreconditionError } from '@arbor/core';
import { LinuxNetworker } from './linux-networker';

describe('LinuxNetworker on a host without iptables', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-network-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['iptables-save', { savePath: '/nonexistent/iptables-save' }],
    ['iptables-restore', { restorePath: '/nonexistent/iptables-restore', mode: 'process-per-change' as const }],
  ])('fails setup with HostPreconditionError when %s is missing, saying to install iptables', async (tool, iptables) => {
    const ipForwardPath = join(dir, 'ip_forward');
    await writeFile(ipForwardPath, '0');
    const networker = new LinuxNetworker({ iptables, ipForwardPath, externalIp: '192.0.2.1', prefix: 'arbu' });
    try {
      // a namespace path that is not there: no link is ever made, on the host or anywhere
      const err = await networker.setup('h', { network: '', netnsPath: join(dir, 'no-netns') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HostPreconditionError);
      expect((err as Error).message).toBe(`network: /nonexistent/${tool} not found: install iptables (apt-get install iptables)`);
    } finally {
      await networker.close();
    }
  });
});
