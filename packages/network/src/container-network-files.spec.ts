import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseResolvConf, writeContainerNetworkFiles } from './container-network-files';

describe('writeContainerNetworkFiles', () => {
  let dir: string;
  let rootfs: string;
  let hostResolvConf: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'arbt-files-'));
    rootfs = path.join(dir, 'rootfs');
    await mkdir(rootfs);
    hostResolvConf = path.join(dir, 'host-resolv.conf');
    await writeFile(hostResolvConf, 'nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.test\noptions ndots:2\n# comment\n');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the container's hostname into hosts and the host's non-loopback nameservers into resolv.conf", async () => {
    await writeContainerNetworkFiles(rootfs, { hostname: 'web-1', containerIp: '10.254.0.2', hostResolvConf });
    const hosts = await readFile(path.join(rootfs, 'etc/hosts'), 'utf8');
    expect(hosts).toContain('127.0.0.1 localhost\n');
    expect(hosts).toContain('10.254.0.2 web-1\n');
    expect(await readFile(path.join(rootfs, 'etc/resolv.conf'), 'utf8')).toBe('nameserver 192.0.2.53\nsearch example.test\noptions ndots:2\n');
  });

  it('uses given nameservers instead of the host ones', async () => {
    await writeContainerNetworkFiles(rootfs, { hostname: 'h', containerIp: '', nameservers: ['192.0.2.1'] });
    expect(await readFile(path.join(rootfs, 'etc/resolv.conf'), 'utf8')).toBe('nameserver 192.0.2.1\n');
    expect(await readFile(path.join(rootfs, 'etc/hosts'), 'utf8')).not.toContain(' h\n');
  });

  it('replaces a symlink the image planted at etc/hosts instead of writing through it', async () => {
    const outside = path.join(dir, 'outside');
    await writeFile(outside, 'precious\n');
    await mkdir(path.join(rootfs, 'etc'));
    await symlink(outside, path.join(rootfs, 'etc/hosts'));
    await writeContainerNetworkFiles(rootfs, { hostname: 'h', containerIp: '10.254.0.2', hostResolvConf });
    expect(await readFile(outside, 'utf8')).toBe('precious\n');
    expect(await readFile(path.join(rootfs, 'etc/hosts'), 'utf8')).toContain('10.254.0.2 h');
  });

  it('refuses an etc that is a symlink', async () => {
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(elsewhere);
    await symlink(elsewhere, path.join(rootfs, 'etc'));
    await expect(writeContainerNetworkFiles(rootfs, { hostname: 'h', containerIp: '10.254.0.2', hostResolvConf })).rejects.toMatchObject({
      kind: 'failedPrecondition',
    });
  });
});

describe('parseResolvConf', () => {
  it('drops loopback nameservers and says it saw one', () => {
    expect(parseResolvConf('nameserver 127.0.0.53\nnameserver ::1\n')).toEqual({ nameservers: [], other: [], hadLoopback: true });
  });
});
