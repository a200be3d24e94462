import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MASKED_PATHS, READONLY_PATHS } from '@arbor/host';
import { ArborError, InvalidArgumentError } from '@arbor/core';
import type { BindMount, DesiredContainer, Limits } from '@arbor/core';
import { containerSeccomp } from './seccomp-profile';

/** INIT_PATH is where the host's static arbor-init is bind-mounted (read-only) in every container. */
export const INIT_PATH = '/dev/arbor-init';

/** DEFAULT_CAPABILITIES: what a container's root keeps, the OCI default set of 14. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_RAW',
  'CAP_SYS_CHROOT',
  'CAP_MKNOD',
  'CAP_AUDIT_WRITE',
  'CAP_SETFCAP',
] as const;

/** ALL_CAPABILITIES is every capability of Linux 5.x by number (CAP_CHOWN is 0), for privileged containers. */
const ALL_CAPABILITIES = [
  ...DEFAULT_CAPABILITIES,
  'CAP_DAC_READ_SEARCH',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_LEASE',
  'CAP_AUDIT_CONTROL',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
];

/** CAPABILITY_BITS are the kernel's numbers of ALL_CAPABILITIES (linux/capability.h). */
const CAPABILITY_BITS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
};

/**
 * privilegedCapabilities is what a privileged container gets: every capability in capBnd,
 * arbord's own bounding set as /proc/self/status shows it (like '000001fffeffffff'). runc
 * refuses to start a container asking for one the host withholds ('unable to apply caps'),
 * so a host without CAP_SYS_RESOURCE still runs privileged containers, with what it has.
 */
export function privilegedCapabilities(capBnd: string): string[] {
  const bounding = BigInt(`0x${capBnd}`);
  return ALL_CAPABILITIES.filter((name) => (bounding >> BigInt(CAPABILITY_BITS[name] ?? 63)) & 1n);
}

/**
 * DEV_NODES are bind mounts of the host's standard device nodes over what runc would mknod in
 * the container's /dev: that tmpfs is nodev, so a node made there (the container's root has
 * CAP_MKNOD) opens nothing; each bind mount is a mount of its own, without nodev. runc finds
 * the node there already and makes none.
 */
const DEV_NODES: OciMount[] = ['null', 'zero', 'full', 'random', 'urandom', 'tty'].map((name) => ({
  destination: `/dev/${name}`,
  type: 'bind',
  source: `/dev/${name}`,
  options: ['bind', 'nosuid', 'noexec'],
}));

/** DEVICE_RULES: deny every device, then allow the standard character devices (and mknod of them). */
const DEVICE_RULES: OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  ...(
    [
      [1, 3], // null
      [1, 5], // zero
      [1, 7], // full
      [1, 8], // random
      [1, 9], // urandom
      [5, 0], // tty
      [5, 1], // console
      [5, 2], // ptmx
      [136, -1], // pts
    ] as const
  ).map(([major, minor]) => ({ allow: true, type: 'c' as const, major, ...(minor >= 0 && { minor }), access: 'rwm' })),
];

interface OciDeviceRule {
  allow: boolean;
  type?: 'c' | 'b' | 'a';
  major?: number;
  minor?: number;
  access: string;
}

interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciResources {
  devices?: OciDeviceRule[];
  memory?: { limit: number; swap?: number };
  cpu?: { shares: number };
  pids?: { limit: number };
}

/** OciSpec is the part of the OCI runtime spec (config.json) Arbor writes. */
export interface OciSpec {
  ociVersion: string;
  process: Record<string, unknown>;
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: Record<string, unknown>;
}

export interface RuncConfigOptions {
  /** initBinary is the host's static arbor-init, like /opt/arbor/native/build/arbor-init. */
  initBinary: string;
  /** cgroupsPath is like /arbor-runc/<handle>, under each controller. */
  cgroupsPath: string;
  /** arch is process.arch; it picks the seccomp architectures. */
  arch?: string;
  /** swapAccounting: the host's memory cgroup has memory+swap limits (memory.memsw.*). */
  swapAccounting?: boolean;
  /** capBnd is arbord's capability bounding set in hex (CapBnd of /proc/self/status); absent: all of them. */
  capBnd?: string;
  /**
   * idRange puts the container in a user namespace of its own, which owns its other
   * namespaces: its ids 0..size-1 are host ids hostId..; the rootfs must already be idmapped
   * into it (RuncRuntime does that: runc 1.1 has no idmapped mounts).
   */
  idRange?: { hostId: number; size: number };
}

/**
 * runcConfig turns what the Gardener wants into an OCI bundle's config.json: new pid, mount,
 * uts, ipc, network and cgroup namespaces (owned by a user namespace of options.idRange's ids); the image's overlay as root; arbor-init as pid 1;
 * the standard mounts (a nodev /dev), device rules, the linux backend's masked and read-only
 * paths; ro bind mounts read-only down to their submounts; the 14 default capabilities
 * with an empty inheritable set, no_new_privs and the seccomp filter (a privileged container
 * keeps every capability and has no filter); cgroup limits.
 */
export function runcConfig(desired: DesiredContainer, options: RuncConfigOptions): OciSpec {
  const privileged = desired.privileged;
  const caps = privileged ? (options.capBnd ? privilegedCapabilities(options.capBnd) : ALL_CAPABILITIES) : [...DEFAULT_CAPABILITIES];
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'strictatime', 'mode=755', 'size=65536k'] },
    // in a user namespace runc bind-mounts the standard nodes itself (it cannot mknod them there)
    ...(options.idRange ? [] : DEV_NODES),
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    { destination: INIT_PATH, type: 'bind', source: options.initBinary, options: ['bind', 'ro', 'nosuid', 'nodev'] },
    ...desired.bindMounts.map((m) => {
      // runc would take the path on the host: resolveBindSources first maps it into the rootfs
      if (m.origin !== 'host') throw new ArborError('internal', `runcConfig: bind mount ${m.srcPath} of origin container was not resolved in the rootfs`);
      // rro: read-only down to the submounts (mount_setattr), where plain ro leaves them writable
      return { destination: m.dstPath, type: 'bind', source: m.srcPath, options: ['rbind', m.mode === 'rw' ? 'rw' : 'rro'] };
    }),
  ];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [INIT_PATH],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: desired.rootfs.path, readonly: false },
    hostname: desired.hostname,
    mounts,
    linux: {
      // cgroup: the container sees its own cgroups as "/", none of the host's paths
      namespaces: [...(options.idRange ? ['user'] : []), 'pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'].map((type) => ({ type })),
      ...(options.idRange && {
        uidMappings: [{ containerID: 0, hostID: options.idRange.hostId, size: options.idRange.size }],
        gidMappings: [{ containerID: 0, hostID: options.idRange.hostId, size: options.idRange.size }],
      }),
      cgroupsPath: options.cgroupsPath,
      resources: { devices: DEVICE_RULES, ...runcResources(desired.limits, options.swapAccounting ?? false) },
      ...(!privileged && {
        maskedPaths: [...MASKED_PATHS],
        readonlyPaths: [...READONLY_PATHS],
        // native/common/seccomp-profile.txt, the allowlist arbor-exec and arbor-tar load as BPF
        seccomp: containerSeccomp(options.arch ?? process.arch),
      }),
    },
  };
}

/** MAX_SYMLINKS is how many symlinks resolveInRoot follows in one path, as the kernel's 40. */
const MAX_SYMLINKS = 40;

/**
 * resolveInRoot finds path, a path inside the container, under root (the container's rootfs on
 * the host, like /var/lib/arbor/overlays/<handle>/rootfs) as openat2's RESOLVE_IN_ROOT would:
 * symlinks are followed, an absolute target starts again at root and '..' stops at root, so an
 * image's `/data -> /etc` or `/data -> ../../../../root` stays inside its rootfs. The result
 * holds no symlink below root, so runc mounting it follows none. It is only sound while nothing
 * in the container runs to change the rootfs, as before the container starts.
 * @throws Error saying the path does not exist, is not a directory or loops
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const pending = path.split('/').filter((p) => p !== '');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop(); // every resolved component is a real directory, so its parent is the one before
      continue;
    }
    const host = join(root, ...resolved, part);
    const stat = await lstat(host).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new Error(`'${path}' does not exist in the container`);
      if (err.code === 'ENOTDIR') throw new Error(`'${path}': /${resolved.join('/')} is not a directory in the container`);
      throw err;
    });
    if (stat.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new Error(`'${path}' goes through more than ${MAX_SYMLINKS} symlinks in the container`);
      const target = await readlink(host);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter((p) => p !== ''));
      continue;
    }
    if (pending.length > 0 && !stat.isDirectory()) throw new Error(`'${path}': /${[...resolved, part].join('/')} is not a directory in the container`);
    resolved.push(part);
  }
  return join(root, ...resolved);
}

/**
 * resolveBindSources maps the sources of origin container bind mounts to host paths inside
 * rootfs (see resolveInRoot), origin host afterwards; host sources stay as they are.
 * @throws InvalidArgumentError naming the mount, like bindMounts[0].srcPath, whose source the container lacks
 */
export async function resolveBindSources(rootfs: string, mounts: BindMount[]): Promise<BindMount[]> {
  return Promise.all(
    mounts.map(async (m, i) => {
      if (m.origin !== 'container') return m;
      try {
        return { ...m, srcPath: await resolveInRoot(rootfs, m.srcPath), origin: 'host' as const };
      } catch (err) {
        throw new InvalidArgumentError(`bindMounts[${i}].srcPath`, (err as Error).message);
      }
    }),
  );
}

/** runcResources maps Arbor's cpu, memory and pid limits (0: unlimited) onto OCI resources. */
export function runcResources(limits: Pick<Limits, 'cpu' | 'memory' | 'pid'>, swapAccounting: boolean): OciResources {
  const resources: OciResources = {};
  if (limits.memory && limits.memory.limitInBytes > 0) {
    // memory+swap equal to memory: the limit binds even on a host with swap
    const limit = limits.memory.limitInBytes;
    resources.memory = swapAccounting ? { limit, swap: limit } : { limit };
  }
  if (limits.cpu && limits.cpu.weight > 0) resources.cpu = { shares: Math.max(2, limits.cpu.weight) };
  if (limits.pid && limits.pid.max > 0) resources.pids = { limit: limits.pid.max };
  return resources;
}

/**
 * runcUpdateArgs are `runc update` flags setting the given fields; a 0 (unlimited) becomes
 * runc's -1 for memory and pids and the default 1024 shares for cpu.
 */
export function runcUpdateArgs(limits: Pick<Limits, 'cpu' | 'memory' | 'pid'>, swapAccounting: boolean): string[] {
  const args: string[] = [];
  if (limits.memory) {
    const value = limits.memory.limitInBytes > 0 ? String(limits.memory.limitInBytes) : '-1';
    args.push('--memory', value);
    if (swapAccounting) args.push('--memory-swap', value);
  }
  if (limits.cpu) args.push('--cpu-share', String(limits.cpu.weight > 0 ? Math.max(2, limits.cpu.weight) : 1024));
  if (limits.pid) args.push('--pids-limit', String(limits.pid.max > 0 ? limits.pid.max : -1));
  return args;
}
