import type { CpuStat, Limits, MemoryStat, PidStat } from '@arbor/core';
import { DEFAULT_HELPERS_DIR, HelperRunner } from '../run-helper';

/** CgroupLimits are the limits a cgroup enforces: cpu weight, memory, pids. */
export type CgroupLimits = Pick<Limits, 'cpu' | 'memory' | 'pid'>;

export interface CgroupStats {
  memory: MemoryStat;
  cpu: CpuStat;
  pid: PidStat;
  /** oomKills counts the processes the kernel killed for the memory limit. */
  oomKills: number;
}

/**
 * CgroupDriver keeps one cgroup (or one per v1 controller) per container: the one cgroup
 * contract of the host runtime. The HostContainerizer reads stats and pids through it, and
 * each InitRuntime makes, limits or joins the groups as its mechanism needs.
 */
export interface CgroupDriver {
  readonly version: 1 | 2;
  /** create makes the container's cgroups with limits; creating an existing one only applies limits. */
  create(handle: string, limits: CgroupLimits): Promise<void>;
  /** dirs are the cgroup directories a process joins (writes itself to cgroup.procs). */
  dirs(handle: string): string[];
  /** apply sets the limits present; 0 or an absent field means unlimited for that field when given. */
  apply(handle: string, limits: CgroupLimits): Promise<void>;
  stats(handle: string): Promise<CgroupStats>;
  /** pids lists the host pids in the container's cgroup. */
  pids(handle: string): Promise<number[]>;
  /** destroy removes the cgroups once empty; missing ones are fine. */
  destroy(handle: string): Promise<void>;
  /** handles lists containers that have cgroups, for the sweep at start. */
  handles(): Promise<string[]>;
  /** release removes the parent group once no container is left in it (arbord stops); create makes it again. */
  release(): Promise<void>;
}

/**
 * DEVICE_ALLOW are the character devices a container may use (and mknod): the standard ones.
 * Every other device, every block device above all, is refused: on v1 by devices.deny 'a'
 * and these in devices.allow, on v2 by the BPF program of BpfDeviceFilter built from them.
 */
export const DEVICE_ALLOW = [
  'c 1:3 rwm', // null
  'c 1:5 rwm', // zero
  'c 1:7 rwm', // full
  'c 1:8 rwm', // random
  'c 1:9 rwm', // urandom
  'c 5:0 rwm', // tty
  'c 5:1 rwm', // console
  'c 5:2 rwm', // ptmx
  'c 136:* rwm', // pts
] as const;

/**
 * DeviceFilter restricts the devices of a group of the unified (v2) hierarchy to DEVICE_ALLOW.
 * A v2 group has no devices.* files, so a driver asks one of these before any process joins.
 */
export interface DeviceFilter {
  /**
   * restrict attaches the allowlist to dir, like /sys/fs/cgroup/arbor/<handle>, replacing what
   * restrict attached before.
   * @throws HelperError when the kernel refuses (no CONFIG_CGROUP_BPF, dir no v2 group)
   */
  restrict(dir: string): Promise<void>;
}

/**
 * BpfDeviceFilter runs native/arbor-devices, which loads a BPF_CGROUP_DEVICE program built
 * from DEVICE_ALLOW and attaches it to the group: the kernel then refuses with EPERM every
 * open and mknod of a device the list does not name, for every process in the group.
 */
export class BpfDeviceFilter implements DeviceFilter {
  private ownRunner: HelperRunner | undefined;

  /** helpers is arbord's runner; without one, the helpers of DEFAULT_HELPERS_DIR run through Node's spawn. */
  constructor(private readonly helpers?: HelperRunner) {}

  async restrict(dir: string): Promise<void> {
    const helpers = this.helpers ?? (this.ownRunner ??= new HelperRunner(DEFAULT_HELPERS_DIR, { forkServer: false }));
    await helpers.run('arbor-devices', ['--cgroup', dir, ...DEVICE_ALLOW]);
  }
}

/** waitCgroupEmpty waits until the container's cgroup holds no process, at most timeoutMs. */
export async function waitCgroupEmpty(cgroups: Pick<CgroupDriver, 'pids'>, handle: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 1; Date.now() < deadline; pause = Math.min(pause * 2, 20)) {
    const pids = await cgroups.pids(handle).catch(() => []);
    if (pids.length === 0) return;
    await new Promise((r) => setTimeout(r, pause));
  }
}

/** sharesToWeight maps cgroup v1 cpu.shares (2-262144) onto v2 cpu.weight (1-10000). */
export function sharesToWeight(shares: number): number {
  const clamped = Math.min(262144, Math.max(2, shares));
  return 1 + Math.floor(((clamped - 2) * 9999) / 262142);
}

/** parseKeyValues parses 'key value' lines, like memory.stat or cpu.stat. */
export function parseKeyValues(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^-?\d+$/.test(value)) map.set(key, Number(value));
  }
  return map;
}
