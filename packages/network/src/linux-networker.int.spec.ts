// Integration tests of LinuxNetworker: as root, on network namespaces these tests create
// ('arbt-' names) standing in for containers. Traffic goes only to loopback and to addresses
// inside those namespaces. Everything made is removed in afterAll, even after a failure.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ArborError, InvalidArgumentError, PortInUseError, type ContainerRecord, type Logger, type NetOutRule } from '@arbor/core';
import { describeIf } from '@arbor/testkit';
import { Iptables } from './iptables';
import { LinuxNetworker, type LinuxNetworkerOptions } from './linux-networker';

const run = promisify(execFile);
const PREFIX = 'arbt';
const NS_PREFIX = `arbt-${process.pid}-`;
const HELPER_DIR = path.resolve(__dirname, '../../../native/arbor-net');
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/** errors the networkers logged; printed at once, so a failure in CI shows what led to it. */
const loggedErrors: string[] = [];
const logger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  error: (event, data) => {
    loggedErrors.push(event);
    console.log(`networker error: ${event} ${JSON.stringify(data)}`);
  },
  child: () => logger,
};

const options: LinuxNetworkerOptions = {
  logger,
  prefix: PREFIX,
  networkPool: '10.251.0.0/22',
  portPoolStart: 42001,
  portPoolSize: 200,
  denyNetworks: ['0.0.0.0/0'],
  helperPath: path.join(HELPER_DIR, 'arbor-net'),
  nameservers: ['192.0.2.53'],
};

const namespaces = new Set<string>();
const children = new Set<ChildProcess>();
let nsCounter = 0;

async function makeNetns(): Promise<{ name: string; path: string }> {
  const name = `${NS_PREFIX}${nsCounter++}`;
  await run('ip', ['netns', 'add', name]);
  namespaces.add(name);
  return { name, path: `/var/run/netns/${name}` };
}

async function deleteNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'del', name]).catch(() => undefined);
  namespaces.delete(name);
}

/** inNetns runs a command in a namespace, bounded in time; it resolves with the exit code and output. */
async function inNetns(ns: string, args: string[], timeoutMs = 5000): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run('ip', ['netns', 'exec', ns, ...args], { timeout: timeoutMs });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '' };
  }
}

/** startInNetns starts a Node script in a namespace and waits for it to print 'ready'. */
async function startInNetns(ns: string, script: string): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`script in ${ns} not ready within 5 s`)), 5000);
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`script in ${ns} exited with ${code}`)));
  });
  return child;
}

/** A TCP server answering 'hello <port>' on each port given. */
function helloServer(ports: number[]): string {
  return `const net=require('net');let n=0;for(const p of ${JSON.stringify(ports)}){net.createServer(s=>s.end('hello '+p)).listen(p,'0.0.0.0',()=>{if(++n===${ports.length})console.log('ready')})}`;
}

/** tcpFromNetns connects from a namespace and returns what the server said, or the error code. */
async function tcpFromNetns(ns: string, host: string, port: number): Promise<string> {
  const script = `const s=require('net').connect(${port},'${host}');let d='';s.setTimeout(1500,()=>{console.log('TIMEOUT');process.exit(0)});s.on('data',c=>d+=c);s.on('end',()=>{console.log(d);process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})`;
  return (await inNetns(ns, [process.execPath, '-e', script])).stdout.trim();
}

/** tcpFromHost connects from the host's namespace and returns what the server said, or the error code. */
function tcpFromHost(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    let data = '';
    socket.setTimeout(1500, () => {
      socket.destroy();
      resolve('TIMEOUT');
    });
    socket.on('data', (c: Buffer) => (data += c.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'ERROR'));
  });
}

async function ping(ns: string, ip: string): Promise<boolean> {
  return (await inNetns(ns, ['ping', '-c', '1', '-W', '1', ip])).code === 0;
}

async function ourLeftovers(): Promise<string[]> {
  const [links, netns, rules, qdiscs] = await Promise.all([
    run('ip', ['-o', 'link', 'show']).then((r) => r.stdout),
    run('ip', ['netns', 'list']).then((r) => r.stdout),
    run('iptables-save').then((r) => r.stdout),
    run('tc', ['qdisc', 'show']).then((r) => r.stdout),
  ]);
  return [
    ...links
      .split('\n')
      .filter((l) => / arbt[bvi][0-9a-f]/.test(l))
      .map((l) => `link: ${l}`),
    ...netns
      .split('\n')
      .filter((l) => l.startsWith(NS_PREFIX))
      .map((l) => `netns: ${l}`),
    ...rules
      .split('\n')
      .filter((l) => /arbt-[oi]-/.test(l))
      .map((l) => `iptables: ${l}`),
    ...qdiscs
      .split('\n')
      .filter((l) => /dev arbt/.test(l))
      .map((l) => `tc: ${l}`),
  ];
}

describeIf({ root: true })('LinuxNetworker (root, network namespaces)', () => {
  let networker: LinuxNetworker;
  let ipForwardBefore = '';

  beforeAll(async () => {
    await run('make', ['-s', '-C', HELPER_DIR]);
    ipForwardBefore = (await readFile(IP_FORWARD, 'utf8')).trim();
    networker = new LinuxNetworker(options);
    await networker.restore([]);
  }, 60_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    for (const ns of [...namespaces]) await deleteNetns(ns);
    await networker?.removeAll().catch(() => undefined);
    await networker?.close();
    if (ipForwardBefore) await writeFile(IP_FORWARD, ipForwardBefore);
  }, 60_000);

  /** container makes a namespace and wires it, like the Gardener's create does. */
  async function container(handle: string, network = ''): Promise<{ ns: string; ip: string; hostIp: string; externalIp: string; subnet: string }> {
    const ns = await makeNetns();
    const info = await networker.setup(handle, { network, netnsPath: ns.path });
    return { ns: ns.name, ip: info.containerIp, hostIp: info.hostIp, externalIp: info.externalIp, subnet: info.subnet };
  }

  async function remove(handle: string, ns: string): Promise<void> {
    await networker.destroy(handle);
    await deleteNetns(ns);
  }

  it("writes the container's /etc/hosts and /etc/resolv.conf when given its rootfs", async () => {
    const ns = await makeNetns();
    const rootfs = await mkdtemp(path.join(tmpdir(), 'arbt-rootfs-'));
    try {
      const info = await networker.setup('files', { network: '', netnsPath: ns.path, rootfsPath: rootfs, hostname: 'files-host' });
      expect(await readFile(path.join(rootfs, 'etc/hosts'), 'utf8')).toContain(`${info.containerIp} files-host\n`);
      expect(await readFile(path.join(rootfs, 'etc/resolv.conf'), 'utf8')).toBe('nameserver 192.0.2.53\n');
    } finally {
      await remove('files', ns.name);
      await rm(rootfs, { recursive: true, force: true });
    }
  });

  it('gives two containers distinct addresses; in one subnet they ping each other, across subnets they cannot', async () => {
    const a = await container('ping-a', '10.251.2.0/29');
    const b = await container('ping-b', '10.251.2.0/29');
    const c = await container('ping-c');
    try {
      expect(a.ip).toBe('10.251.2.2');
      expect(b.ip).toBe('10.251.2.3');
      expect(a.hostIp).toBe('10.251.2.1');
      expect(c.ip).not.toBe(a.ip);
      expect(await ping(a.ns, b.ip)).toBe(true);
      expect(await ping(b.ns, a.ip)).toBe(true);
      expect(await ping(c.ns, a.ip)).toBe(false);
      const routes = await inNetns(a.ns, ['ip', 'route']);
      expect(routes.stdout).toContain('default via 10.251.2.1 dev eth0');
      const mtu = await inNetns(a.ns, ['cat', '/sys/class/net/eth0/mtu']);
      expect(mtu.stdout.trim()).toBe('1500');
    } finally {
      await remove('ping-a', a.ns);
      await remove('ping-b', b.ns);
      await remove('ping-c', c.ns);
    }
  }, 30_000);

  it('reaches a server in a container through NetIn from 127.0.0.1 and the host address, and refuses a mapped port', async () => {
    const web = await container('netin-web');
    const other = await container('netin-other');
    try {
      await startInNetns(web.ns, helloServer([8080]));
      const pooled = await networker.netIn('netin-web', 0, 8080);
      expect(pooled.hostPort).toBeGreaterThanOrEqual(42001);
      expect(pooled.containerPort).toBe(8080);
      expect(await tcpFromHost('127.0.0.1', pooled.hostPort)).toBe('hello 8080');
      const hostAddress = web.externalIp || web.hostIp;
      expect(await tcpFromHost(hostAddress, pooled.hostPort)).toBe('hello 8080');

      // containerPort 0 means the same port as the host port.
      await startInNetns(web.ns, helloServer([42150]));
      expect(await networker.netIn('netin-web', 42150, 0)).toEqual({ hostPort: 42150, containerPort: 42150 });
      expect(await tcpFromHost('127.0.0.1', 42150)).toBe('hello 42150');

      await expect(networker.netIn('netin-other', pooled.hostPort, 80)).rejects.toBeInstanceOf(PortInUseError);
      await expect(networker.netIn('netin-web', 42150, 9090)).rejects.toBeInstanceOf(PortInUseError);
    } finally {
      await remove('netin-web', web.ns);
      await remove('netin-other', other.ns);
    }
    // Released with the container: the port maps again, and nothing answers on the old mapping.
    const again = await container('netin-again');
    try {
      expect(await networker.netIn('netin-again', 42150, 80)).toEqual({ hostPort: 42150, containerPort: 80 });
    } finally {
      await remove('netin-again', again.ns);
    }
  }, 60_000);

  it('denies egress until a NetOut rule allows a port; other ports and the host stay blocked', async () => {
    const client = await container('netout-client');
    const server = await container('netout-server');
    const hostListener = net.createServer((s) => s.end('host'));
    await new Promise<void>((resolve) => hostListener.listen(0, client.hostIp, resolve));
    const hostPort = (hostListener.address() as net.AddressInfo).port;
    try {
      await startInNetns(server.ns, helloServer([8080, 8081]));
      expect(await tcpFromNetns(client.ns, server.ip, 8080)).toMatch(/^(ECONNREFUSED|EHOSTUNREACH|TIMEOUT)$/);

      await networker.netOut('netout-client', [{ protocol: 'tcp', networks: [{ start: server.ip, end: server.ip }], ports: [{ start: 8080, end: 8080 }] }]);
      expect(await tcpFromNetns(client.ns, server.ip, 8080)).toBe('hello 8080');
      expect(await tcpFromNetns(client.ns, server.ip, 8081)).toMatch(/^(ECONNREFUSED|EHOSTUNREACH|TIMEOUT)$/);
      expect(await ping(client.ns, server.ip)).toBe(false);
      // The host itself is denied unless a rule names it.
      expect(await tcpFromNetns(client.ns, client.hostIp, hostPort)).toMatch(/^(ECONNREFUSED|EHOSTUNREACH|TIMEOUT)$/);

      await networker.netOut('netout-client', [{ protocol: 'icmp', icmps: { type: 8 }, networks: [{ start: server.ip, end: server.ip }] }]);
      expect(await ping(client.ns, server.ip)).toBe(true);
      await networker.netOut('netout-client', [
        { protocol: 'tcp', networks: [{ start: client.hostIp, end: client.hostIp }], ports: [{ start: hostPort, end: hostPort }], log: true },
      ]);
      expect(await tcpFromNetns(client.ns, client.hostIp, hostPort)).toBe('host');
    } finally {
      hostListener.close();
      await remove('netout-client', client.ns);
      await remove('netout-server', server.ns);
    }
  }, 60_000);

  it('refuses malformed requests and rules, naming the field, and applies a bulk of rules all or none', async () => {
    const ns = await makeNetns();
    await expect(networker.setup('bad-net', { network: '10.251.0.0/33', netnsPath: ns.path })).rejects.toMatchObject({
      field: 'network',
    });
    await expect(networker.setup('bad-net', { network: '10.251.0.300/30', netnsPath: ns.path })).rejects.toBeInstanceOf(InvalidArgumentError);
    await networker.setup('rules', { network: '', netnsPath: ns.path });
    try {
      const chainBefore = (await run('iptables-save', ['-t', 'filter'])).stdout;
      const cases: Array<[NetOutRule[], string]> = [
        [[{ protocol: 'tcp', networks: [{ start: '10.0.0.0/8', end: '10.0.0.9' }] }], 'rule.networks[0].start'],
        [[{ protocol: 'tcp', networks: [{ start: '10.0.0.9', end: '10.0.0.1' }] }], 'rule.networks[0]'],
        [[{ protocol: 'tcp', ports: [{ start: 90, end: 80 }] }], 'rule.ports[0]'],
        [[{ protocol: 'icmp', ports: [{ start: 80, end: 80 }] }], 'rule.ports'],
        [
          [
            { protocol: 'tcp', ports: [{ start: 80, end: 80 }] },
            { protocol: 'udp', icmps: { type: 8 } },
          ],
          'rules[1].icmps',
        ],
      ];
      for (const [rules, field] of cases) {
        await expect(networker.netOut('rules', rules)).rejects.toMatchObject({ kind: 'invalidArgument', field });
      }
      // Nothing of the refused bulk went in: the first, valid rule included.
      expect((await run('iptables-save', ['-t', 'filter'])).stdout).toBe(chainBefore);
      await expect(networker.netOut('nobody', [])).rejects.toMatchObject({ kind: 'notFound' });
    } finally {
      await remove('rules', ns.name);
    }
  }, 30_000);

  it('holds a 1 MB/s bandwidth limit within 20% in both directions', async () => {
    const limited = await container('bw-limited');
    const peer = await container('bw-peer');
    try {
      const allowAll: NetOutRule[] = [{ protocol: 'tcp' }];
      await networker.netOut('bw-limited', allowAll);
      await networker.netOut('bw-peer', allowAll);
      await networker.limitBandwidth('bw-limited', { rateInBytesPerSecond: 1_000_000, burstRateInBytesPerSecond: 20_000 });

      // sink counts bytes from the first to the last one; blast sends for 2.5 s.
      const sink = `const net=require('net');net.createServer(s=>{let n=0,t0=0,t1=0;s.on('data',b=>{const t=Date.now();if(!t0)t0=t;t1=t;n+=b.length});s.on('end',()=>{s.end(JSON.stringify({n,ms:t1-t0}))})}).listen(9000,'0.0.0.0',()=>console.log('ready'))`;
      const blast = (ip: string): string =>
        `const s=require('net').connect(9000,'${ip}');const buf=Buffer.alloc(65536);const until=Date.now()+2500;let r='';` +
        `function pump(){while(Date.now()<until){if(!s.write(buf))return s.once('drain',pump)}s.end()}` +
        `s.on('connect',pump);s.on('data',c=>r+=c);s.on('end',()=>{console.log(r);process.exit(0)});s.on('error',e=>{console.log(JSON.stringify({error:e.code}));process.exit(0)});setTimeout(()=>process.exit(1),9000)`;
      const measure = async (from: string, to: { ns: string; ip: string }): Promise<number> => {
        const server = await startInNetns(to.ns, sink);
        try {
          const out = await inNetns(from, [process.execPath, '-e', blast(to.ip)], 10_000);
          const result = JSON.parse(out.stdout.trim() || '{}') as { n?: number; ms?: number };
          return (result.n ?? 0) / ((result.ms ?? 1) / 1000);
        } finally {
          server.kill('SIGKILL');
        }
      };
      const upload = await measure(limited.ns, peer);
      const download = await measure(peer.ns, limited);
      expect(upload).toBeGreaterThan(800_000);
      expect(upload).toBeLessThan(1_200_000);
      expect(download).toBeGreaterThan(800_000);
      expect(download).toBeLessThan(1_200_000);

      const metrics = await networker.metrics('bw-limited');
      expect(metrics.txBytes).toBeGreaterThan(2_000_000);
      expect(metrics.rxBytes).toBeGreaterThan(2_000_000);

      // Rate 0 lifts the limit.
      await networker.limitBandwidth('bw-limited', { rateInBytesPerSecond: 0, burstRateInBytesPerSecond: 0 });
      expect((await run('tc', ['qdisc', 'show', 'dev', `arbtv${ipHex(limited.ip)}`])).stdout).not.toContain('tbf');
    } finally {
      await remove('bw-limited', limited.ns);
      await remove('bw-peer', peer.ns);
    }
  }, 60_000);

  it('restores containers after a restart and sweeps links and chains of unknown ones', async () => {
    const kept = await container('restore-kept');
    const lost = await container('restore-lost');
    const mapping = await networker.netIn('restore-kept', 0, 8080);
    const rule: NetOutRule = { protocol: 'icmp', networks: [{ start: lost.ip, end: lost.ip }] };
    await networker.netOut('restore-kept', [rule]);
    await startInNetns(kept.ns, helloServer([8080]));
    await networker.close();

    const record: ContainerRecord = {
      handle: 'restore-kept',
      phase: 'created',
      createdAtMs: 0,
      graceTimeMs: 0,
      properties: {},
      limits: {},
      network: { hostIp: kept.hostIp, containerIp: kept.ip, externalIp: kept.externalIp, subnet: kept.subnet },
      mappedPorts: [mapping],
      netOut: [rule],
      rootfs: { path: '', env: [], user: '', workingDir: '', entrypoint: [], cmd: [] },
      env: [],
    };
    networker = new LinuxNetworker(options);
    await networker.restore([record]);
    try {
      const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
      expect(links).toContain(`arbtv${ipHex(kept.ip)}`);
      expect(links).not.toContain(`arbtv${ipHex(lost.ip)}`);
      expect((await run('iptables-save')).stdout).not.toContain(`arbt-o-${ipHex(lost.ip)}`);
      expect(await tcpFromHost('127.0.0.1', mapping.hostPort)).toBe('hello 8080');
      await expect(networker.netIn('restore-kept', mapping.hostPort, 80)).rejects.toBeInstanceOf(PortInUseError);
      await expect(networker.setup('restore-kept', { network: '', netnsPath: `/var/run/netns/${kept.ns}` })).rejects.toBeInstanceOf(ArborError);
    } finally {
      await remove('restore-kept', kept.ns);
      await deleteNetns(lost.ns);
    }
  }, 60_000);

  it('cleans up a setup that failed half way when destroy runs, as the Gardener does', async () => {
    await expect(networker.setup('half-made', { network: '10.251.0.2/30', netnsPath: '/var/run/netns/arbt-does-not-exist' })).rejects.toThrow(/No such file/);
    await networker.destroy('half-made');
    await networker.settle();
    expect(await ourLeftovers()).toEqual([]);
    // The address came back: a container can ask for exactly it.
    const ns = await makeNetns();
    try {
      const first = await networker.setup('after-half-made', { network: '10.251.0.2/30', netnsPath: ns.path });
      expect(first.containerIp).toBe('10.251.0.2');
    } finally {
      await remove('after-half-made', ns.name);
    }
  }, 30_000);

  it('works the same with one iptables-restore process per change set', async () => {
    const perChange = new LinuxNetworker({ ...options, iptables: { mode: 'process-per-change' } });
    const client = await makeNetns();
    const server = await container('per-change-server');
    try {
      await startInNetns(server.ns, helloServer([8080]));
      const info = await perChange.setup('per-change-client', { network: '10.251.3.0/30', netnsPath: client.path });
      expect(await tcpFromNetns(client.name, server.ip, 8080)).toMatch(/^(ECONNREFUSED|EHOSTUNREACH|TIMEOUT)$/);
      await perChange.netOut('per-change-client', [{ protocol: 'tcp', networks: [{ start: server.ip, end: server.ip }] }]);
      expect(await tcpFromNetns(client.name, server.ip, 8080)).toBe('hello 8080');
      await perChange.destroy('per-change-client');
      expect((await run('iptables-save')).stdout).not.toContain(`arbt-o-${ipHex(info.containerIp)}`);
    } finally {
      await perChange.destroy('per-change-client').catch(() => undefined);
      await perChange.close();
      await deleteNetns(client.name);
      await remove('per-change-server', server.ns);
    }
  }, 30_000);

  it("keeps a container with an allow-all NetOut rule off the host's 127.0.0.1, while NetIn from 127.0.0.1 still works", async () => {
    const c = await container('loopback');
    const hostLocal = net.createServer((s) => s.end('host-local'));
    await new Promise<void>((resolve) => hostLocal.listen(0, '127.0.0.1', resolve));
    const localPort = (hostLocal.address() as net.AddressInfo).port;
    try {
      await networker.netOut('loopback', [{ protocol: 'all' }]);
      await startInNetns(c.ns, helloServer([8080]));
      const mapping = await networker.netIn('loopback', 0, 8080);
      expect(await tcpFromHost('127.0.0.1', mapping.hostPort)).toBe('hello 8080');

      // The container sends to 127.0.0.1 out of eth0, as one with NET_ADMIN can (or one
      // writing frames on a packet socket): lo loses its address, eth0 routes loopback.
      const trick = 'ip addr flush dev lo && sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1';
      expect((await inNetns(c.ns, ['sh', '-c', trick])).code).toBe(0);
      expect(await tcpFromNetns(c.ns, '127.0.0.1', localPort)).toMatch(/^(ECONNREFUSED|EHOSTUNREACH|TIMEOUT)$/);
      // Nor through another loopback address, or to a NetIn port by way of 127.0.0.1.
      expect(await tcpFromNetns(c.ns, '127.0.0.2', localPort)).toMatch(/^(ECONNREFUSED|EHOSTUNREACH|TIMEOUT)$/);
      expect(await tcpFromNetns(c.ns, '127.0.0.1', mapping.hostPort)).toMatch(/^(ECONNREFUSED|EHOSTUNREACH|TIMEOUT)$/);
      expect(await tcpFromHost('127.0.0.1', mapping.hostPort)).toBe('hello 8080');
    } finally {
      hostLocal.close();
      await remove('loopback', c.ns);
    }
  }, 30_000);

  it.each([
    ['its own /30', ''],
    ['a shared subnet', '10.251.2.8/29'],
  ])(
    "does not let a container forging another's address use that one's NetOut rules (%s)",
    async (_, network) => {
      const tag = network ? 'shared' : 'own';
      const a = await container(`spoof-a-${tag}`, network);
      const b = await container(`spoof-b-${tag}`, network);
      const target = await container(`spoof-target-${tag}`);
      const received: string[] = [];
      try {
        const listener = await startInNetns(
          target.ns,
          `const d=require('dgram').createSocket('udp4');d.on('message',(m,r)=>console.log(m+' from '+r.address));d.bind(9999,()=>console.log('ready'))`,
        );
        listener.stdout?.on('data', (chunk: Buffer) =>
          received.push(
            ...chunk
              .toString()
              .split('\n')
              .filter((l) => l !== ''),
          ),
        );
        await networker.netOut(`spoof-b-${tag}`, [{ protocol: 'udp', networks: [{ start: target.ip, end: target.ip }], ports: [{ start: 9999, end: 9999 }] }]);
        const send = `const d=require('dgram').createSocket('udp4');d.send('genuine',9999,'${target.ip}',()=>d.close())`;
        expect((await inNetns(b.ns, [process.execPath, '-e', send])).code).toBe(0);
        // A sends a UDP datagram with B's source address on a raw socket (CAP_NET_RAW is in a container's default set).
        const forge = [
          'import socket,struct,sys',
          'src,dst,msg=sys.argv[1],sys.argv[2],b"forged"',
          'udp=struct.pack("!HHHH",40000,9999,8+len(msg),0)+msg',
          'ip=struct.pack("!BBHHHBBH4s4s",0x45,0,20+len(udp),0,0,64,17,0,socket.inet_aton(src),socket.inet_aton(dst))',
          's=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_RAW)',
          'for _ in range(3): s.sendto(ip+udp,(dst,0))',
        ].join('\n');
        expect((await inNetns(a.ns, ['/usr/bin/python3', '-c', forge, b.ip, target.ip])).code).toBe(0);
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(received).toEqual([`genuine from ${b.ip}`]);
      } finally {
        await remove(`spoof-a-${tag}`, a.ns);
        await remove(`spoof-b-${tag}`, b.ns);
        await remove(`spoof-target-${tag}`, target.ns);
      }
    },
    30_000,
  );

  it('leaves nothing behind after 100 create/destroy cycles', async () => {
    const ns = await makeNetns();
    for (let i = 0; i < 100; i++) {
      const handle = `cycle-${i}`;
      await networker.setup(handle, { network: i % 2 ? '10.251.3.0/28' : '', netnsPath: ns.path });
      await networker.netIn(handle, 0, 8080);
      await networker.netOut(handle, [{ protocol: 'tcp', ports: [{ start: 80, end: 81 }], log: true }]);
      await networker.limitBandwidth(handle, { rateInBytesPerSecond: 1_000_000, burstRateInBytesPerSecond: 10_000 });
      await networker.destroy(handle);
      await networker.destroy(handle);
    }
    await deleteNetns(ns.name);
    await networker.settle();
    expect(await ourLeftovers()).toEqual([]);
    await networker.removeAll();
    expect((await run('iptables-save')).stdout).not.toMatch(/arbt/i);
  }, 120_000);
});

describeIf({ root: true })('Iptables coprocess (root)', () => {
  const iptables = new Iptables();
  const chain = `arbt-ipt-${process.pid}`;

  afterAll(async () => {
    await iptables.apply({ filter: [`:${chain} - [0:0]`, `-X ${chain}`], nat: [] }).catch(() => undefined);
    await iptables.close();
  });

  it("reports a refused change set with iptables' reason and takes the next one", async () => {
    await expect(iptables.apply({ filter: [`-D ${chain}-missing -j ACCEPT`], nat: [] })).rejects.toThrow(/iptables-restore/);
    await iptables.apply({ filter: [`:${chain} - [0:0]`, `-A ${chain} -s 10.251.255.1/32 -j ACCEPT`], nat: [] });
    expect((await iptables.snapshot()).rules.filter.has(`-A ${chain} -s 10.251.255.1/32 -j ACCEPT`)).toBe(true);
  });

  it('falls back to one process per change set where it cannot see iptables-restore wait for input', async () => {
    // The process it watches is a shell waiting for a pipeline, never reading its stdin itself.
    const wrapper = path.join(tmpdir(), `arbt-ipt-wrapper-${process.pid}`);
    await writeFile(wrapper, '#!/bin/sh\ncat | iptables-restore "$@"\n', { mode: 0o755 });
    const wrapped = new Iptables({ restorePath: wrapper });
    try {
      await wrapped.apply({ filter: [`:${chain} - [0:0]`, `-A ${chain} -s 10.251.255.2/32 -j ACCEPT`], nat: [] });
      expect((await wrapped.snapshot()).rules.filter.has(`-A ${chain} -s 10.251.255.2/32 -j ACCEPT`)).toBe(true);
      await wrapped.apply({ filter: [`:${chain} - [0:0]`, `-A ${chain} -s 10.251.255.3/32 -j ACCEPT`], nat: [] });
      expect((await wrapped.snapshot()).rules.filter.has(`-A ${chain} -s 10.251.255.3/32 -j ACCEPT`)).toBe(true);
    } finally {
      await wrapped.close();
      await rm(wrapper, { force: true });
    }
  }, 20_000);

  it('has committed the whole of a large change set when apply resolves', async () => {
    const rules = Array.from({ length: 400 }, (_, i) => `-A ${chain} -s 10.251.${200 + (i >> 8)}.${i & 255}/32 -j ACCEPT`);
    await iptables.apply({ filter: [`:${chain} - [0:0]`, ...rules], nat: [] });
    const present = [...(await iptables.snapshot()).rules.filter].filter((l) => l.startsWith(`-A ${chain} `));
    expect(present).toHaveLength(400);
  });
});

function ipHex(ip: string): string {
  return ip
    .split('.')
    .map((p) => Number(p).toString(16).padStart(2, '0'))
    .join('');
}
