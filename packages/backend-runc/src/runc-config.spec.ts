import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MASKED_PATHS, READONLY_PATHS } from '@arbor/host';
import { ArborError, InvalidArgumentError } from '@arbor/core';
import type { DesiredContainer } from '@arbor/core';
import { DEFAULT_CAPABILITIES, INIT_PATH, resolveBindSources, resolveInRoot, runcConfig, runcUpdateArgs } from './runc-config';
import { SECCOMP_PROFILE_PATH, containerSeccomp, parseSeccompProfile } from './seccomp-profile';
import type { OciSeccomp } from './seccomp-profile';

function desired(overrides: Partial<DesiredContainer> = {}): DesiredContainer {
  return {
    handle: 'web-1',
    hostname: 'web-1',
    rootfs: { path: '/var/lib/arbor/overlays/web-1/rootfs', env: [], user: '', workingDir: '', entrypoint: [], cmd: [] },
    env: [],
    bindMounts: [],
    privileged: false,
    limits: {},
    ...overrides,
  } as DesiredContainer;
}

const options = { initBinary: '/opt/arbor/native/build/arbor-init', cgroupsPath: '/arbor-runc/web-1', arch: 'x64' };

describe('runcConfig', () => {
  it('gives an unprivileged container the 14 default capabilities, none inheritable, no_new_privs and the seccomp filter', () => {
    const spec = runcConfig(desired(), options);
    const caps = (spec.process as { capabilities: Record<string, string[]> }).capabilities;
    expect(DEFAULT_CAPABILITIES).toHaveLength(14);
    expect(caps).toEqual({
      bounding: [...DEFAULT_CAPABILITIES],
      effective: [...DEFAULT_CAPABILITIES],
      permitted: [...DEFAULT_CAPABILITIES],
      inheritable: [],
      ambient: [],
    });
    expect(spec.process.noNewPrivileges).toBe(true);
    // native/common/seccomp-profile.txt, as the 'the container seccomp profile' block below reads it
    expect(spec.linux.seccomp).toEqual(containerSeccomp('x64'));
    expect(spec.linux.maskedPaths).toContain('/proc/kcore');
    expect(spec.linux.readonlyPaths).toContain('/proc/sys');
  });

  it('gives a privileged container every capability and no seccomp filter or masked paths', () => {
    const spec = runcConfig(desired({ privileged: true }), options);
    const caps = (spec.process as { capabilities: Record<string, string[]> }).capabilities;
    expect(caps.bounding).toContain('CAP_SYS_ADMIN');
    expect(caps.inheritable).toEqual([]);
    expect(spec.linux.seccomp).toBeUndefined();
    expect(spec.linux.maskedPaths).toBeUndefined();
  });

  it("gives a privileged container only the capabilities in arbord's bounding set, which runc can grant", () => {
    // 000001fffeffffff: every capability up to 40 but CAP_SYS_RESOURCE (24), as on a sandboxed host
    const spec = runcConfig(desired({ privileged: true }), { ...options, capBnd: '000001fffeffffff' });
    const caps = (spec.process as { capabilities: Record<string, string[]> }).capabilities;
    expect(caps.bounding).toContain('CAP_SYS_ADMIN');
    expect(caps.bounding).not.toContain('CAP_SYS_RESOURCE');
    expect(caps.bounding).toHaveLength(37);
  });

  it('runs arbor-init as pid 1 in new namespaces, on the overlay root, named after the container', () => {
    const spec = runcConfig(desired(), options);
    expect(spec.process.args).toEqual([INIT_PATH]);
    expect(spec.mounts).toContainEqual(
      expect.objectContaining({ destination: INIT_PATH, source: options.initBinary, options: expect.arrayContaining(['bind', 'ro']) }),
    );
    expect(spec.root).toEqual({ path: '/var/lib/arbor/overlays/web-1/rootfs', readonly: false });
    expect(spec.hostname).toBe('web-1');
    expect((spec.linux.namespaces as { type: string }[]).map((n) => n.type).sort()).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
    expect(spec.linux.cgroupsPath).toBe('/arbor-runc/web-1');
  });

  it("puts a container with an id range in a user namespace of that range, which owns its other namespaces, and leaves the device nodes to runc's bind mounts", () => {
    const spec = runcConfig(desired(), { ...options, idRange: { hostId: 1_000_065_536, size: 65536 } });
    expect((spec.linux.namespaces as { type: string }[]).map((n) => n.type)).toEqual(['user', 'pid', 'network', 'ipc', 'uts', 'mount', 'cgroup']);
    expect(spec.linux.uidMappings).toEqual([{ containerID: 0, hostID: 1_000_065_536, size: 65536 }]);
    expect(spec.linux.gidMappings).toEqual([{ containerID: 0, hostID: 1_000_065_536, size: 65536 }]);
    // runc cannot mknod in a user namespace and bind-mounts the standard nodes itself: a bind of ours over one would make it fail
    expect(spec.mounts.filter((m) => m.destination.startsWith('/dev/') && m.type === 'bind' && m.destination !== INIT_PATH)).toEqual([]);
    expect(runcConfig(desired(), options).linux.uidMappings).toBeUndefined();
  });

  it('mounts /sys read-only and a tmpfs /tmp for everyone', () => {
    const mounts = runcConfig(desired(), options).mounts;
    expect(mounts.find((m) => m.destination === '/sys')?.options).toContain('ro');
    expect(mounts.find((m) => m.destination === '/tmp')).toMatchObject({ type: 'tmpfs', options: expect.arrayContaining(['mode=1777']) });
  });

  it("masks and freezes the linux backend's paths, /sys/firmware among them", () => {
    const spec = runcConfig(desired(), options);
    expect(spec.linux.maskedPaths).toEqual([...MASKED_PATHS]);
    expect(spec.linux.maskedPaths).toEqual(expect.arrayContaining(['/sys/firmware', '/sys/devices/virtual/powercap', '/proc/kcore']));
    expect(spec.linux.readonlyPaths).toEqual([...READONLY_PATHS]);
  });

  it('mounts /dev nodev, with the standard nodes bind-mounted from the host after it', () => {
    const mounts = runcConfig(desired(), options).mounts;
    const dev = mounts.findIndex((m) => m.destination === '/dev');
    expect(mounts[dev]?.options).toContain('nodev');
    for (const name of ['null', 'zero', 'full', 'random', 'urandom', 'tty']) {
      const node = mounts.findIndex((m) => m.destination === `/dev/${name}`);
      expect(node).toBeGreaterThan(dev);
      expect(mounts[node]).toEqual({ destination: `/dev/${name}`, type: 'bind', source: `/dev/${name}`, options: ['bind', 'nosuid', 'noexec'] });
    }
  });

  it('denies every device but the standard character devices', () => {
    const resources = runcConfig(desired(), options).linux.resources as { devices: { allow: boolean; type?: string; major?: number; minor?: number }[] };
    expect(resources.devices[0]).toEqual({ allow: false, access: 'rwm' });
    const allowed = resources.devices.filter((d) => d.allow).map((d) => `${d.type} ${d.major}:${d.minor ?? '*'}`);
    expect(allowed).toEqual(['c 1:3', 'c 1:5', 'c 1:7', 'c 1:8', 'c 1:9', 'c 5:0', 'c 5:1', 'c 5:2', 'c 136:*']);
    expect(allowed.some((d) => d.startsWith('b'))).toBe(false);
  });

  it('bind mounts what the spec asks, read-only down to the submounts (rro) unless rw', () => {
    const spec = runcConfig(
      desired({
        bindMounts: [
          { srcPath: '/srv/data', dstPath: '/data', mode: 'ro', origin: 'host' },
          { srcPath: '/srv/out', dstPath: '/out', mode: 'rw', origin: 'host' },
        ],
      } as Partial<DesiredContainer>),
      options,
    );
    expect(spec.mounts).toContainEqual({ destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'rro'] });
    expect(spec.mounts).toContainEqual({ destination: '/out', type: 'bind', source: '/srv/out', options: ['rbind', 'rw'] });
  });

  it('refuses a bind mount of origin container that was not resolved inside the rootfs first', () => {
    const bindMounts = [{ srcPath: '/etc', dstPath: '/data', mode: 'ro', origin: 'container' }];
    expect(() => runcConfig(desired({ bindMounts } as Partial<DesiredContainer>), options)).toThrow(/origin container/);
  });

  it('sets cgroup limits given at create, memory+swap with the memory limit where the host accounts swap', () => {
    const limits = { memory: { limitInBytes: 64 << 20 }, cpu: { weight: 512 }, pid: { max: 20 } };
    const spec = runcConfig(desired({ limits } as Partial<DesiredContainer>), { ...options, swapAccounting: true });
    expect(spec.linux.resources).toMatchObject({ memory: { limit: 64 << 20, swap: 64 << 20 }, cpu: { shares: 512 }, pids: { limit: 20 } });
    const unlimited = runcConfig(desired({ limits: { memory: { limitInBytes: 0 }, pid: { max: 0 } } } as Partial<DesiredContainer>), options);
    expect(unlimited.linux.resources).not.toHaveProperty('memory');
    expect(unlimited.linux.resources).not.toHaveProperty('pids');
  });
});

describe('runcUpdateArgs', () => {
  it('maps limits onto runc update flags, 0 meaning unlimited', () => {
    expect(runcUpdateArgs({ memory: { limitInBytes: 1024 } }, true)).toEqual(['--memory', '1024', '--memory-swap', '1024']);
    expect(runcUpdateArgs({ memory: { limitInBytes: 0 } }, false)).toEqual(['--memory', '-1']);
    expect(runcUpdateArgs({ cpu: { weight: 0 }, pid: { max: 0 } }, false)).toEqual(['--cpu-share', '1024', '--pids-limit', '-1']);
    expect(runcUpdateArgs({ pid: { max: 9 } }, false)).toEqual(['--pids-limit', '9']);
    expect(runcUpdateArgs({}, true)).toEqual([]);
  });
});

describe('resolveInRoot', () => {
  // root is an image's rootfs on the host, like /tmp/rootfs-x/root; /tmp/rootfs-x/etc stands for the host's /etc
  let base: string;
  let root: string;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'arbor-resolve-'));
    root = join(base, 'root');
    for (const dir of ['etc', 'root', 'srv/www', 'a']) await mkdir(join(root, dir), { recursive: true });
    await mkdir(join(base, 'etc'));
    await writeFile(join(root, 'etc', 'hostname'), 'web-1');
    await writeFile(join(root, 'file'), '');
    await symlink('/etc', join(root, 'abs')); // a hostile image: /abs -> /etc
    await symlink('../../../../root', join(root, 'up')); // /up -> ../../../../root
    await symlink('../../etc', join(root, 'a', 'rel')); // /a/rel -> ../../etc
    await symlink('/srv/../../../etc/hostname', join(root, 'deep'));
    await symlink('www', join(root, 'srv', 'site'));
    await symlink('loop', join(root, 'loop'));
    await symlink('/nowhere', join(root, 'dangling'));
  });
  afterAll(() => rm(base, { recursive: true, force: true }));

  it('finds a plain path under the root', async () => {
    expect(await resolveInRoot(root, '/srv/www')).toBe(join(root, 'srv/www'));
    expect(await resolveInRoot(root, '/')).toBe(root);
  });

  it('follows a symlink inside the root, relative to the directory it is in', async () => {
    expect(await resolveInRoot(root, '/srv/site')).toBe(join(root, 'srv/www'));
  });

  it('resolves an absolute symlink against the root, not the host', async () => {
    expect(await resolveInRoot(root, '/abs')).toBe(join(root, 'etc'));
    expect(await resolveInRoot(root, '/abs/hostname')).toBe(join(root, 'etc/hostname'));
  });

  it('clamps .. at the root, in the path and in symlinks', async () => {
    expect(await resolveInRoot(root, '/up')).toBe(join(root, 'root'));
    expect(await resolveInRoot(root, '/a/rel')).toBe(join(root, 'etc'));
    expect(await resolveInRoot(root, '/../../etc')).toBe(join(root, 'etc'));
    expect(await resolveInRoot(root, '/deep')).toBe(join(root, 'etc/hostname'));
  });

  it('refuses what does not exist, a file used as a directory and a symlink loop', async () => {
    await expect(resolveInRoot(root, '/missing')).rejects.toThrow(/does not exist/);
    await expect(resolveInRoot(root, '/dangling')).rejects.toThrow(/does not exist/);
    await expect(resolveInRoot(root, '/file/x')).rejects.toThrow(/not a directory/);
    await expect(resolveInRoot(root, '/loop')).rejects.toThrow(/symlinks/);
  });

  it('resolveBindSources turns container paths into host paths under the rootfs and names the field at fault', async () => {
    const mounts = await resolveBindSources(root, [
      { srcPath: '/srv', dstPath: '/srv', mode: 'ro', origin: 'host' },
      { srcPath: '/abs', dstPath: '/data', mode: 'rw', origin: 'container' },
    ]);
    expect(mounts).toEqual([
      { srcPath: '/srv', dstPath: '/srv', mode: 'ro', origin: 'host' },
      { srcPath: join(root, 'etc'), dstPath: '/data', mode: 'rw', origin: 'host' },
    ]);
    const err = await resolveBindSources(root, [{ srcPath: '/missing', dstPath: '/data', mode: 'ro', origin: 'container' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(ArborError.is(err) && err.kind).toBe('invalidArgument');
    expect((err as InvalidArgumentError).field).toBe('bindMounts[0].srcPath');
  });
});

describe('the container seccomp profile (native/common/seccomp-profile.txt)', () => {
  const profile = containerSeccomp('x64');
  /** unconditional are the calls allowed whatever their arguments. */
  const unconditional = (p: OciSeccomp) => p.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names);
  const rulesFor = (name: string) => profile.syscalls.filter((r) => r.names.includes(name));
  /** socketAllowed says whether a socket of family passes one of the socket rules. */
  const socketAllowed = (family: number) =>
    rulesFor('socket').some((r) => r.args?.every((a) => (a.op === 'SCMP_CMP_LT' ? family < a.value : a.op === 'SCMP_CMP_EQ' && family === a.value)));

  it('is an allowlist: every call no rule allows fails with EPERM, on x86_64, x86 and x32', () => {
    expect(profile).toMatchObject({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    });
  });

  it('allows what Docker allows whatever the arguments, and chroot (CAP_SYS_CHROOT), but nothing Docker grants only with a capability a default container lacks', () => {
    const allowed = unconditional(profile);
    expect(allowed).toEqual(
      expect.arrayContaining(['read', 'write', 'execve', 'futex', 'rt_sigaction', 'chroot', 'ptrace', 'arch_prctl', 'io_setup', 'fchmodat2']),
    );
    expect(allowed.length).toBeGreaterThan(300);
    for (const refused of [
      'mount',
      'umount2',
      'unshare',
      'setns',
      'sethostname',
      'bpf',
      'perf_event_open',
      'reboot',
      'init_module',
      'open_by_handle_at',
      'kcmp',
      'settimeofday',
      'mbind',
      'syslog',
      'io_uring_setup',
      'keyctl',
      'add_key',
      'userfaultfd',
      'clone',
      'clone3',
      'personality',
      'socket',
    ]) {
      expect({ refused, allowed: allowed.includes(refused) }).toEqual({ refused, allowed: false });
    }
    // what is denied is denied outright, with no condition that could let it through
    const denied = profile.syscalls.filter((r) => r.action === 'SCMP_ACT_ERRNO' && r.errnoRet === 1).flatMap((r) => r.names);
    expect(denied).toEqual(expect.arrayContaining(['mount', 'unshare', 'io_uring_setup', 'keyctl']));
    for (const name of denied) expect(rulesFor(name)).toHaveLength(1);
  });

  it('allows personality with the personas Docker allows, clone without namespace flags, socket but AF_VSOCK and AF_ALG; clone3 answers ENOSYS', () => {
    expect(rulesFor('personality').map((r) => r.args)).toEqual([0, 8, 0x20000, 0x20008, 0xffffffff].map((value) => [{ index: 0, value, op: 'SCMP_CMP_EQ' }]));
    expect(rulesFor('clone')).toEqual([
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
    ]);
    expect(rulesFor('clone3')).toEqual([{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
    expect([1, 2, 10, 16, 17].map(socketAllowed)).toEqual([true, true, true, true, true]); // unix, inet, inet6, netlink, packet
    expect([12, 38, 40, 46, 0xffff].map(socketAllowed)).toEqual([false, false, false, false, false]); // DECnet, ALG, VSOCK, past MCTP
  });

  it('takes the rules of the host it runs on only', () => {
    const arm = parseSeccompProfile(readFileSync(SECCOMP_PROFILE_PATH, 'utf8'), 'arm64');
    expect(arm.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(unconditional(arm)).toEqual(expect.arrayContaining(['set_tls', 'cacheflush']));
    expect(unconditional(arm)).not.toContain('arch_prctl');
    expect(unconditional(profile)).not.toContain('set_tls');
    expect(() => parseSeccompProfile('default errno 1\narch x86_64 on x86_64\n', 'ia32')).toThrow(/no architectures for a host of ia32/);
  });

  it('refuses a profile it cannot read exactly as seccomp-gen does, naming the line', () => {
    const head = 'default errno 1\narch x86_64 on x86_64\n';
    expect(() => parseSeccompProfile(`${head}allow read\nallow write read\n`, 'x64')).toThrow(/line 4: read has a rule already/);
    expect(() => parseSeccompProfile(`${head}allow personality if a0 == 0\nallow personality\n`, 'x64')).toThrow(/line 4: personality has a rule already/);
    expect(() => parseSeccompProfile(`${head}permit read\n`, 'x64')).toThrow(/line 3: unknown rule 'permit'/);
    expect(() => parseSeccompProfile(`${head}allow socket if a0 < 010\n`, 'x64')).toThrow(/line 3: '010' is not a number/);
    expect(() => parseSeccompProfile(`${head}deny mount if a0 == 0\n`, 'x64')).toThrow(/only allow takes a condition/);
    expect(() => parseSeccompProfile('arch x86_64 on x86_64\nallow read\n', 'x64')).toThrow(/no 'default errno N' line/);
    expect(parseSeccompProfile(`${head}allow socket if a0 < 0x10 # a comment\n`, 'x64').syscalls).toEqual([
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 16, op: 'SCMP_CMP_LT' }] },
    ]);
  });
});
