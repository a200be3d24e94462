// The default security posture of a container, measured from the inside on a real arbord on
// each host backend (posture issue): native/posture-probe runs as root in a default container
// and reports what it could do and see; each point of the issue is one `it`, so a failure
// says which point does not hold. The README's "Default container posture" table is filled
// from these findings (the summary is logged after each backend, and written to
// $TMPDIR/arbor-posture-<backend>.json). Each backend runs with userns.enabled off and again
// with it on (-userns in the names): an unprivileged container then has a user
// namespace of its own ids (#12). Under Docker's defaults the same probe runs only when a Docker
// engine answers on /var/run/docker.sock.
import { execFile } from 'node:child_process';
import { existsSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Container, ContainerSpec } from '@arbor/core';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { runToEnd } from '../helpers/run-process';
import { tarStream } from '../helpers/tar';
import { describeIf, expectAlive, hasRunc, HOST_BACKENDS, itIf } from '@arbor/testkit';
import { startRealArbord, type RealArbord } from './real-arbord';

const run = promisify(execFile);

/** PROBE is built by `make` in native/ (native/posture-probe). */
const PROBE = resolve(__dirname, '..', '..', '..', '..', 'native', 'build', 'posture-probe');

/** CAP_NAMES are the capabilities by bit number, as /proc/self/status's Cap* masks count them. */
const CAP_NAMES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
].map((name) => `CAP_${name}`);

/**
 * OCI_DEFAULT_CAPS are the 14 capabilities Docker and containerd give a container by default
 * (their documented default set); `runc spec` writes a smaller one (3 in runc 1.1).
 */
const OCI_DEFAULT_CAPS = [
  'CAP_AUDIT_WRITE',
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_MKNOD',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_RAW',
  'CAP_SETFCAP',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
  'CAP_SYS_CHROOT',
].sort();

/** DENIED_SYSCALLS are the calls Docker's default seccomp profile refuses that the probe tries. */
const DENIED_SYSCALLS = [
  'io_uring_setup',
  'personality(READ_IMPLIES_EXEC)',
  'keyctl',
  'add_key',
  'perf_event_open',
  'unshare(CLONE_NEWUSER)',
  'clone3(CLONE_NEWUSER)',
  'mount',
  'bpf',
];

/** MASKED_PATHS exist on most hosts only in part; a path this host lacks is not asserted. */
const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * ARBOR_DEV_NODES are the mounts under /dev that may allow device nodes: devpts and the nodes
 * a container is given (bind-mounted from the host or made by Arbor), never a tmpfs of its own.
 */
const ARBOR_DEV_NODES = ['/dev/pts', '/dev/console', '/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty'];

interface PathFinding {
  exists: boolean;
  dir?: boolean;
  readonly?: boolean;
  open?: string;
  bytes?: number;
  entries?: number;
}

interface MountFinding {
  mountPoint: string;
  root: string;
  options: string;
  fsType: string | null;
  source: string | null;
}

/** RawSyn is what came of a hand-made SYN: reply is 'none', or like 'rst from 10.254.0.1', 'icmp 3/3 from ...'. */
interface RawSyn {
  sent: string;
  reply: string;
}

/** reachedStack says a reply came from a TCP stack (a SYN-ACK or a RST), not from a firewall or nothing. */
function reachedStack(raw: RawSyn | string | undefined): boolean {
  return typeof raw === 'object' && /^(syn-ack|rst|tcp) /.test(raw.reply);
}

/** ProbeReport is what native/posture-probe prints (see its README). */
interface ProbeReport {
  syscalls: Record<string, string>;
  ordinarySyscalls: Record<string, string>;
  masked: Record<string, PathFinding>;
  readonly: Record<string, { readonly?: boolean; target: string | null; openWrite: string }>;
  cgroup: string[] | null;
  cgroupNs: string | null;
  status: Record<string, string>;
  uidMap: string | null;
  mounts: MountFinding[];
  mknod?: { path: string; mknod: string; open?: string; read?: string }[];
  devNodes: Record<string, string>;
  pidsMax: string | null;
  writes: Record<string, string>;
  reads: Record<string, string>;
  net?:
    | { interface?: string; gateway?: string | null; tcpGateway?: string; tcpTarget?: string; raw?: RawSyn | string; rawControl?: RawSyn; connections?: number }
    | undefined;
}

/** hostRootDevice is the host's / device as 'major:minor', like '254:0' for /dev/vda. */
function hostRootDevice(): string {
  // glibc's dev_t: major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31
  const dev = statSync('/', { bigint: true }).dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** capNames decodes a Cap* mask like '00000000a80425fb' into sorted names. */
function capNames(mask: string | undefined): string[] {
  const bits = BigInt(`0x${mask ?? '0'}`);
  return CAP_NAMES.filter((_, bit) => (bits >> BigInt(bit)) & 1n).sort();
}

/** runcSpecCaps reads process.capabilities.bounding of a fresh `runc spec`, like ['CAP_AUDIT_WRITE', 'CAP_KILL', ...]. */
async function runcSpecCaps(): Promise<string[] | undefined> {
  if (!hasRunc()) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'arbor-posture-spec-'));
  try {
    await run('runc', ['spec'], { cwd: dir });
    const spec = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { process: { capabilities: { bounding: string[] } } };
    return [...spec.process.capabilities.bounding].sort();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** hidden says a masked path shows nothing: absent, unopenable, or empty. */
function hidden(f: PathFinding | undefined): boolean {
  return f === undefined || !f.exists || f.open !== 'ok' || (f.dir ? f.entries === 0 : f.bytes === 0);
}

/**
 * writeRefused says an open for write failed as a read-only path should: EROFS, or EACCES in a
 * user namespace, where /proc's files belong to the unmapped host root and the permission check
 * comes before the read-only one.
 */
function writeRefused(openWrite: string | undefined): boolean {
  return openWrite === 'EROFS' || openWrite === 'EACCES';
}

/** hasOption says a mount's per-mount options (like 'rw,nosuid,nodev') include option. */
function hasOption(mount: MountFinding | undefined, option: string): boolean {
  return mount !== undefined && mount.options.split(',').includes(option);
}

/** lastMountAt is the mount on top at mountPoint, like the one at /dev. */
function lastMountAt(report: ProbeReport, mountPoint: string): MountFinding | undefined {
  return [...report.mounts].reverse().find((m) => m.mountPoint === mountPoint);
}

/** devMountsAllowingNodes lists mounts under /dev without nodev that are not Arbor's own nodes. */
function devMountsAllowingNodes(report: ProbeReport): string[] {
  return report.mounts
    .filter((m) => (m.mountPoint === '/dev' || m.mountPoint.startsWith('/dev/')) && !hasOption(m, 'nodev'))
    .map((m) => m.mountPoint)
    .filter((p) => !ARBOR_DEV_NODES.includes(p));
}

/** BOUND_ARGS probe a container with src bind-mounted read-only at /mnt/ro. */
const BOUND_ARGS = ['--write', '/mnt/ro/top', '--write', '/mnt/ro/sub/inner', '--read', '/mnt/ro/sub/marker'];

/** hostLoopbackListener is a TCP service on the host's 127.0.0.1 that counts who reached it. */
async function hostLoopbackListener(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    s.end('host loopback\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** probeIn streams the probe into container at /posture-probe and runs it as root with args. */
async function probeIn(container: Container, args: string[]): Promise<ProbeReport> {
  const content = await readFile(PROBE);
  await container.streamIn({ path: '/', user: 'root', tar: await tarStream([{ name: 'posture-probe', content, mode: 0o755 }]) });
  const result = await runToEnd(container, { path: '/posture-probe', args, user: 'root' });
  if (result.exitCode !== 0) throw new Error(`posture-probe exited ${result.exitCode}: ${result.stderr}`);
  return JSON.parse(result.stdout) as ProbeReport;
}

/** summarize gives one cell per README row, like { seccomp: 'all 9 refused' }. */
function summarize(report: ProbeReport, extra: { pidsMax?: string | undefined; hostCgroupNs: string }): Record<string, string> {
  const refused = DENIED_SYSCALLS.filter((s) => report.syscalls[s] !== 'ok');
  const masked = MASKED_PATHS.filter((p) => existsSync(p));
  const readonly = READONLY_PATHS.filter((p) => existsSync(p));
  const mknod = report.mknod ?? [];
  const bind = report.writes['/mnt/ro/sub/inner'];
  return {
    seccomp: `${refused.length}/${DENIED_SYSCALLS.length} refused (${DENIED_SYSCALLS.map((s) => `${s}: ${report.syscalls[s]}`).join(', ')}); ordinary calls: ${Object.values(report.ordinarySyscalls).every((v) => v === 'ok') ? 'ok' : JSON.stringify(report.ordinarySyscalls)}`,
    masked: `${masked.filter((p) => hidden(report.masked[p])).length}/${masked.length} hidden (${masked.map((p) => `${p}: ${hidden(report.masked[p]) ? 'hidden' : 'readable'}`).join(', ')})`,
    readonly: `${readonly.filter((p) => writeRefused(report.readonly[p]?.openWrite)).length}/${readonly.length} refused (${readonly.map((p) => `${p}: ${report.readonly[p]?.openWrite}`).join(', ')})`,
    cgroupns: `${report.cgroupNs === extra.hostCgroupNs ? 'host' : 'own'} namespace; paths ${report.cgroup?.every((l) => l.endsWith(':/')) ? 'all /' : 'host paths'}`,
    mknod: mknod.map((m) => `${m.path}: mknod ${m.mknod}${m.open ? `, open ${m.open}` : ''}`).join('; '),
    devNodev: `/dev ${hasOption(lastMountAt(report, '/dev'), 'nodev') ? 'nodev' : 'allows nodes'}; ${devMountsAllowingNodes(report).join(', ') || 'no other mount allows nodes'}`,
    devNodes: JSON.stringify(report.devNodes),
    caps: `CapEff ${report.status.CapEff} (${capNames(report.status.CapEff).length}), CapBnd ${report.status.CapBnd} (${capNames(report.status.CapBnd).length})`,
    noNewPrivs: `NoNewPrivs ${report.status.NoNewPrivs}, Seccomp ${report.status.Seccomp}`,
    roBind: `top ${report.writes['/mnt/ro/top']}, submount ${bind} (submount ${report.reads['/mnt/ro/sub/marker'] === 'sub\n' ? 'visible' : 'not visible'})`,
    uidMap: report.uidMap ?? 'unreadable',
    pids: `pids.max ${extra.pidsMax ?? report.pidsMax ?? 'not visible'}`,
    net: report.net
      ? `raw SYN to 127.0.0.1: ${JSON.stringify(report.net.raw)}, the same to the gateway: ${JSON.stringify(report.net.rawControl)}; TCP to the gateway ${report.net.tcpGateway}; host service reached ${report.net.connections ?? '?'} times`
      : 'not measured',
  };
}

describeIf({ root: true })('the default posture of a container on a real arbord', () => {
  jest.setTimeout(180_000);

  const rootDevice = hostRootDevice();
  const hostCgroupNs = readlinkSync('/proc/self/ns/cgroup');
  let specCaps: string[] | undefined;
  // work is like /var/tmp/arbor-posture-XXXX: src/ is bind-mounted ro into a container, with
  // a tmpfs mounted at src/sub (not under /tmp, where a container has its own tmpfs)
  let work: string;
  let src: string;
  let subMounted = false;

  beforeAll(async () => {
    if (!existsSync(PROBE)) throw new Error(`${PROBE} is missing: run make in native/`);
    specCaps = await runcSpecCaps();
    work = await mkdtemp(join('/var/tmp', 'arbor-posture-'));
    src = join(work, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'marker'), 'top\n');
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'arbor-posture', join(src, 'sub')]);
    subMounted = true;
    await writeFile(join(src, 'sub', 'marker'), 'sub\n');
  });

  afterAll(async () => {
    if (subMounted) await run('umount', ['-l', join(src, 'sub')]);
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  // each backend with userns.enabled off, then on
  describe.each(HOST_BACKENDS.flatMap((backend) => [[backend, false] as const, [`${backend}-userns`, true] as const]))('on %s', (name, userns) => {
    const backend = name.replace(/-userns$/, '');
    let arbord: RealArbord;
    let plain: Container;
    // report is the probe's findings in a default container; bound's in one with a ro bind
    // mount and an allow-all NetOut rule (the rest of its spec is the default)
    let report: ProbeReport;
    let bound: ProbeReport;
    let pidsMax: string | undefined;
    let loopbackConnections = 0;

    beforeAll(async () => {
      arbord = await startRealArbord(backend, [], { userns });
      const loopback = await hostLoopbackListener();
      try {
        plain = await arbord.client.create({});
        const withBind: ContainerSpec = {
          bindMounts: [{ srcPath: src, dstPath: '/mnt/ro', mode: 'ro', origin: 'host' }],
          netOut: [{ protocol: 'all' }],
        };
        const other = await arbord.client.create(withBind);
        [report, bound] = await Promise.all([probeIn(plain, ['--mknod', rootDevice]), probeIn(other, [...BOUND_ARGS, '--net', `127.0.0.1:${loopback.port}`])]);
        const limit = await plain.currentPidLimits();
        pidsMax = limit.max > 0 ? String(limit.max) : 'max';
      } finally {
        loopbackConnections = loopback.connections();
        await loopback.close();
      }
    });

    afterAll(async () => {
      if (report !== undefined && bound !== undefined) {
        const summary = summarize(
          { ...report, writes: bound.writes, reads: bound.reads, net: { ...bound.net, connections: loopbackConnections } },
          { pidsMax, hostCgroupNs },
        );
        console.log(`posture on ${name}:\n${JSON.stringify(summary, null, 1)}`);
        await writeFile(join(tmpdir(), `arbor-posture-${name}.json`), JSON.stringify({ summary, report, bound }, null, 1));
      }
      await arbord?.stop();
    });

    it("seccomp refuses what Docker's default profile refuses: EPERM (clone3: ENOSYS or EPERM)", () => {
      const expected = Object.fromEntries(DENIED_SYSCALLS.map((s) => [s, s.startsWith('clone3') ? expect.stringMatching(/^(ENOSYS|EPERM)$/) : 'EPERM']));
      expect(report.syscalls).toEqual(expected);
    });

    it('seccomp lets ordinary calls through', () => {
      expect(Object.entries(report.ordinarySyscalls).filter(([, v]) => v !== 'ok')).toEqual([]);
    });

    it('masks the paths Docker masks (those this host has): nothing to read', () => {
      const present = MASKED_PATHS.filter((p) => existsSync(p));
      expect(present.filter((p) => !hidden(report.masked[p]))).toEqual([]);
    });

    it('mounts /proc/bus, /proc/fs, /proc/irq, /proc/sys, /proc/sysrq-trigger read-only: opening for write fails (EROFS, or EACCES in a user namespace)', () => {
      const present = READONLY_PATHS.filter((p) => existsSync(p));
      const verdicts = Object.fromEntries(
        present.map((p) => {
          const f = report.readonly[p];
          const refusal = f?.target ? f.openWrite : f?.readonly ? 'EROFS' : 'no file to try, and not read-only';
          return [p, writeRefused(refusal) ? `refused (${refusal})` : refusal];
        }),
      );
      expect(verdicts).toEqual(Object.fromEntries(present.map((p) => [p, expect.stringMatching(/^refused \((EROFS|EACCES)\)$/)])));
    });

    it("gives the container its own cgroup namespace: /proc/self/cgroup shows / and the namespace differs from the host's", () => {
      expect(report.cgroup?.filter((line) => !line.endsWith(':/'))).toEqual([]);
      expect(report.cgroupNs).toMatch(/^cgroup:\[\d+\]$/);
      expect(report.cgroupNs).not.toBe(hostCgroupNs);
    });

    it(`does not let a node of the host's root disk (${rootDevice}) be made and opened`, () => {
      expect(report.mknod).toHaveLength(3);
      expect(report.mknod?.filter((m) => m.mknod === 'ok' && m.open === 'ok')).toEqual([]);
    });

    it("mounts /dev nodev: no mount under /dev allows device nodes but Arbor's own", () => {
      expect(hasOption(lastMountAt(report, '/dev'), 'nodev')).toBe(true);
      expect(devMountsAllowingNodes(report)).toEqual([]);
    });

    it('keeps /dev/null, /dev/zero and /dev/urandom usable', () => {
      expect(report.devNodes).toEqual({ '/dev/null': 'ok', '/dev/zero': 'ok', '/dev/urandom': 'ok' });
    });

    it("gives root the OCI default capabilities (a superset of runc spec's), effective and bounding", () => {
      expect(capNames(report.status.CapEff)).toEqual(OCI_DEFAULT_CAPS);
      expect(capNames(report.status.CapBnd)).toEqual(OCI_DEFAULT_CAPS);
      if (specCaps) expect(specCaps.filter((c) => !OCI_DEFAULT_CAPS.includes(c))).toEqual([]);
    });

    it('sets no_new_privs and a seccomp filter (mode 2)', () => {
      expect(report.status.NoNewPrivs).toBe('1');
      expect(report.status.Seccomp).toBe('2');
    });

    it('makes a read-only bind mount read-only all the way down: a submount of the source cannot be written', async () => {
      expect(bound.writes).toEqual({ '/mnt/ro/top': 'EROFS', '/mnt/ro/sub/inner': 'EROFS' });
      const sub = lastMountAt(bound, '/mnt/ro/sub');
      if (sub) expect(hasOption(sub, 'ro')).toBe(true);
      expect((await readdir(src)).sort()).toEqual(['marker', 'sub']);
      expect(await readdir(join(src, 'sub'))).toEqual(['marker']);
    });

    it("shows a uid_map: on linux, the host's ids with userns.enabled off and a range of the container's own with it on (65536 ids from a non-zero host id)", () => {
      expect(report.uidMap).toMatch(/^\d+ \d+ \d+/);
      // runc maps ranges once it runs user namespaces (#12)
      if (backend === 'linux') expect(report.uidMap).toMatch(userns ? /^0 [1-9]\d* 65536$/ : /^0 0 4294967295$/);
    });

    it("puts a default pids limit on the container's cgroup", () => {
      expect(pidsMax).not.toBe('max');
      if (report.pidsMax !== null) expect(report.pidsMax).not.toBe('max');
    });

    it("does not let a container reach a service on the host's 127.0.0.1, even with an allow-all NetOut rule", () => {
      expect(bound.net?.gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(bound.net?.tcpGateway).not.toBe('ok');
      // a SYN to 127.0.0.1 handed to the host (CAP_NET_RAW) gets no answer from its TCP stack
      expect(bound.net?.raw).toEqual({ sent: 'ok', reply: expect.any(String) });
      expect(reachedStack(bound.net?.raw)).toBe(false);
      // the control: the same SYN to the gateway's address does reach the host's stack (or a
      // REJECT), so the hand-made packet is one the host reads and "no answer" above means something
      expect(bound.net?.rawControl?.reply).not.toBe('none');
      expect(loopbackConnections).toBe(0);
    });

    it('leaves arbord serving', async () => {
      await expectAlive(arbord);
    });
  });

  // Docker's column of the README table: measured when an engine is reachable, else skipped
  itIf({ docker: true })("measures the same under Docker's defaults", async () => {
    const image = 'arbor-posture-busybox:latest';
    await run('sh', ['-c', `tar -C '${DEFAULT_ROOTFS}' -c . | docker import - ${image}`]);
    const loopback = await hostLoopbackListener();
    try {
      const dockerRun = async (extra: string[], args: string[]): Promise<ProbeReport> => {
        const { stdout } = await run('docker', ['run', '--rm', '-v', `${PROBE}:/posture-probe:ro`, ...extra, image, '/posture-probe', ...args], {
          maxBuffer: 16 * 1024 * 1024,
        });
        return JSON.parse(stdout) as ProbeReport;
      };
      const docker = await dockerRun([], ['--mknod', rootDevice]);
      const dockerBound = await dockerRun(['-v', `${src}:/mnt/ro:ro`], [...BOUND_ARGS, '--net', `127.0.0.1:${loopback.port}`]);
      const summary = summarize(
        { ...docker, writes: dockerBound.writes, reads: dockerBound.reads, net: { ...dockerBound.net, connections: loopback.connections() } },
        { hostCgroupNs },
      );
      console.log(`posture under Docker's defaults:\n${JSON.stringify(summary, null, 1)}`);
      await writeFile(join(tmpdir(), 'arbor-posture-docker.json'), JSON.stringify({ summary, report: docker, bound: dockerBound }, null, 1));
    } finally {
      await loopback.close();
      await run('docker', ['rmi', image]).catch(() => undefined);
    }
  });
});
