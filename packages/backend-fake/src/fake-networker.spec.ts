import { ContainerNotFoundError, PortInUseError, ResourceExhaustedError } from '@arbor/core';
import type { ContainerRecord } from '@arbor/core';
import { FakeNetworker } from './fake-networker';
import { FakeVolumizer } from './fake-volumizer';
import { contentOf } from './fs/fake-filesystem';

const setup = (n: FakeNetworker, handle: string, network = ''): ReturnType<FakeNetworker['setup']> =>
  n.setup(handle, { network, netnsPath: '', rootfsPath: '', hostname: handle });

function record(handle: string, subnet: string, hostIp: string, containerIp: string, hostPorts: number[]): ContainerRecord {
  return {
    handle,
    phase: 'created',
    createdAtMs: 0,
    graceTimeMs: 0,
    properties: {},
    limits: {},
    network: { hostIp, containerIp, externalIp: '127.0.0.1', subnet },
    mappedPorts: hostPorts.map((p) => ({ hostPort: p, containerPort: 8080 })),
    netOut: [{ protocol: 'tcp' }],
    rootfs: { path: '', env: [], user: '', workingDir: '', entrypoint: [], cmd: [] },
    env: [],
  };
}

describe('FakeNetworker', () => {
  it('gives each container a /30 from the pool and the configured external address', async () => {
    const n = new FakeNetworker({ externalIp: '192.0.2.7' });
    expect(await setup(n, 'a')).toEqual({
      hostIp: '10.254.0.1',
      containerIp: '10.254.0.2',
      externalIp: '192.0.2.7',
      subnet: '10.254.0.0/30',
    });
    expect((await setup(n, 'b')).containerIp).toBe('10.254.0.6');
    expect((await setup(n, 'c', '10.9.0.0/24')).containerIp).toBe('10.9.0.2');
  });

  it('maps host port 0 from the pool and container port 0 to the host port', async () => {
    const n = new FakeNetworker({ portPoolStart: 7000, portPoolSize: 2 });
    await setup(n, 'a');
    expect(await n.netIn('a', 0, 8080)).toEqual({ hostPort: 7000, containerPort: 8080 });
    expect(await n.netIn('a', 0, 0)).toEqual({ hostPort: 7001, containerPort: 7001 });
    await expect(n.netIn('a', 0, 0)).rejects.toBeInstanceOf(ResourceExhaustedError);
  });

  it('refuses a host port any container has mapped', async () => {
    const n = new FakeNetworker();
    await setup(n, 'a');
    await setup(n, 'b');
    await n.netIn('a', 8080, 80);
    await expect(n.netIn('b', 8080, 80)).rejects.toBeInstanceOf(PortInUseError);
    await expect(n.netIn('a', 8080, 81)).rejects.toBeInstanceOf(PortInUseError);
  });

  it('keeps egress rules and bandwidth limits', async () => {
    const n = new FakeNetworker();
    await setup(n, 'a');
    await n.netOut('a', [{ protocol: 'tcp', ports: [{ start: 80, end: 80 }] }]);
    await n.netOut('a', [{ protocol: 'icmp' }]);
    await n.limitBandwidth('a', { rateInBytesPerSecond: 100, burstRateInBytesPerSecond: 200 });
    expect(n.netOutRules('a').map((r) => r.protocol)).toEqual(['tcp', 'icmp']);
    expect(n.bandwidth('a')).toEqual({ rateInBytesPerSecond: 100, burstRateInBytesPerSecond: 200 });
    expect(await n.metrics('a')).toEqual({ rxBytes: 0, txBytes: 0 });
  });

  it('releases the address and ports on destroy, which may be repeated', async () => {
    const n = new FakeNetworker({ portPoolStart: 7000, portPoolSize: 1 });
    await setup(n, 'a');
    await n.netIn('a', 0, 0);
    await n.netIn('a', 9000, 0);
    await n.destroy('a');
    await n.destroy('a');
    await setup(n, 'b');
    expect(await n.netIn('b', 0, 0)).toEqual({ hostPort: 7000, containerPort: 7000 });
    expect(await n.netIn('b', 9000, 0)).toEqual({ hostPort: 9000, containerPort: 9000 });
    expect((await n.metrics('b')).rxBytes).toBe(0);
    await expect(n.metrics('a')).rejects.toBeInstanceOf(ContainerNotFoundError);
  });

  it('takes back addresses and ports after a restart', async () => {
    const n = new FakeNetworker({ portPoolStart: 7000, portPoolSize: 3 });
    await n.restore([
      record('a', '10.254.0.0/30', '10.254.0.1', '10.254.0.2', [7000]),
      record('s1', '10.7.0.0/29', '10.7.0.1', '10.7.0.2', []),
      record('s2', '10.7.0.0/29', '10.7.0.1', '10.7.0.3', []),
    ]);
    expect((await setup(n, 'b')).containerIp).toBe('10.254.0.6');
    expect((await setup(n, 's3', '10.7.0.0/29')).containerIp).toBe('10.7.0.4');
    await expect(n.netIn('b', 7000, 0)).rejects.toBeInstanceOf(PortInUseError);
    expect(n.netOutRules('a')).toEqual([{ protocol: 'tcp' }]);
  });

  it("writes the container's address into its /etc/hosts", async () => {
    const volumizer = new FakeVolumizer();
    await volumizer.create('web', { uri: '' }, undefined);
    const n = new FakeNetworker({}, volumizer);
    await setup(n, 'web');
    const hosts = volumizer.filesystem('web').resolve('/etc/hosts').inode;
    expect(contentOf(hosts as never).toString()).toBe('127.0.0.1\tlocalhost\n10.254.0.2\tweb\n');
  });
});
