import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostResolvConf } from './etc-files';

describe('HostResolvConf', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-resolv-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("gives the host's nameservers without loopback ones, and 8.8.8.8 when none is left", async () => {
    const path = join(dir, 'resolv.conf');
    await writeFile(path, 'search example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n  nameserver ::1\nnameserver 1.1.1.1\n');
    expect(await new HostResolvConf(path).text()).toBe('nameserver 10.0.0.2\nnameserver 1.1.1.1\n');
    expect(await new HostResolvConf(join(dir, 'missing')).text()).toBe('nameserver 8.8.8.8\n');
  });

  it('reads the host file again once a second has passed, not before', async () => {
    const path = join(dir, 'resolv.conf');
    await writeFile(path, 'nameserver 10.0.0.1\n');
    let now = 5000;
    const resolv = new HostResolvConf(path, () => now);
    expect(await resolv.text()).toBe('nameserver 10.0.0.1\n');
    await writeFile(path, 'nameserver 10.0.0.2\n');
    now += 999;
    expect(await resolv.text()).toBe('nameserver 10.0.0.1\n');
    now += 1;
    expect(await resolv.text()).toBe('nameserver 10.0.0.2\n');
  });
});
