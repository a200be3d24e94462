import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { validateHandle } from '@arbor/core';
import { isPlainName, storageName } from '@arbor/depot';
import { BpfDeviceFilter, parseKeyValues, sharesToWeight } from './cgroup-driver';
import type { CgroupDriver, CgroupLimits, CgroupStats, DeviceFilter } from './cgroup-driver';
import { listDirs, readNumber, readPids, readTrimmed, removeCgroup, removeIfEmpty, writeControl } from './cgroup-fs';

const CONTROLLERS = ['cpu', 'cpuset', 'memory', 'pids'];

/**
 * CgroupV2Driver keeps a container in one cgroup of the unified hierarchy, like
 * /sys/fs/cgroup/arbor/<handle>.
 *
 * Devices: v2 has no devices.allow, so create attaches a BPF_CGROUP_DEVICE program (through
 * the DeviceFilter, native/arbor-devices) before any process joins. It allows exactly
 * DEVICE_ALLOW, as the v1 driver does: read, write and mknod of the character devices null
 * 1:3, zero 1:5, full 1:7, random 1:8, urandom 1:9, tty 5:0, console 5:1, ptmx 5:2 and the
 * ptys 136:*. Everything else is EPERM, for open and for mknod: no block device (a node made
 * for the host's disk cannot be opened, wherever it was made), no other character device
 * (/dev/mem 1:1, /dev/kmsg 1:11). No rules, no container: a host whose kernel refuses the
 * program fails create rather than run a container with every device open to it.
 */
export class CgroupV2Driver implements CgroupDriver {
  readonly version = 2 as const;

  /**
   * root is like /sys/fs/cgroup; parent is the group containers live under, like 'arbor';
   * devices attaches the device allowlist to each container's group.
   */
  constructor(
    private readonly root = '/sys/fs/cgroup',
    private readonly parent = 'arbor',
    private readonly devices: DeviceFilter = new BpfDeviceFilter(),
  ) {}

  private dir(handle: string): string {
    validateHandle(handle);
    return join(this.root, this.parent, storageName(handle));
  }

  dirs(handle: string): string[] {
    return [this.dir(handle)];
  }

  async create(handle: string, limits: CgroupLimits): Promise<void> {
    const parentDir = join(this.root, this.parent);
    await mkdir(parentDir, { recursive: true });
    await this.enableControllers(this.root);
    await this.enableControllers(parentDir);
    const dir = this.dir(handle);
    await mkdir(dir, { recursive: true });
    // before arbor-create joins it: no process of the container ever runs without the rules
    await this.devices.restrict(dir);
    await this.apply(handle, limits);
  }

  /** enableControllers delegates the controllers the host has to the children of dir. */
  private async enableControllers(dir: string): Promise<void> {
    const available = ((await readTrimmed(join(dir, 'cgroup.controllers'))) ?? '').split(/\s+/);
    const enabled = ((await readTrimmed(join(dir, 'cgroup.subtree_control'))) ?? '').split(/\s+/);
    const wanted = CONTROLLERS.filter((c) => available.includes(c) && !enabled.includes(c));
    if (wanted.length > 0) await writeControl(join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
  }

  async apply(handle: string, limits: CgroupLimits): Promise<void> {
    const dir = this.dir(handle);
    if (limits.memory) {
      const value = limits.memory.limitInBytes > 0 ? String(limits.memory.limitInBytes) : 'max';
      await writeControl(join(dir, 'memory.max'), value);
      // no swap beyond the limit, as on v1 with memsw
      if ((await readTrimmed(join(dir, 'memory.swap.max'))) !== undefined) {
        await writeControl(join(dir, 'memory.swap.max'), limits.memory.limitInBytes > 0 ? '0' : 'max');
      }
    }
    if (limits.pid) await writeControl(join(dir, 'pids.max'), limits.pid.max > 0 ? String(limits.pid.max) : 'max');
    if (limits.cpu) {
      const weight = limits.cpu.weight > 0 ? sharesToWeight(limits.cpu.weight) : 100;
      await writeControl(join(dir, 'cpu.weight'), String(weight));
    }
  }

  async stats(handle: string): Promise<CgroupStats> {
    const dir = this.dir(handle);
    const memStat = parseKeyValues((await readTrimmed(join(dir, 'memory.stat'))) ?? '');
    const cpuStat = parseKeyValues((await readTrimmed(join(dir, 'cpu.stat'))) ?? '');
    const events = parseKeyValues((await readTrimmed(join(dir, 'memory.events'))) ?? '');
    const usage = await readNumber(join(dir, 'memory.current'));
    return {
      memory: {
        usageInBytes: usage,
        limitInBytes: await readNumber(join(dir, 'memory.max')),
        rss: memStat.get('anon') ?? 0,
        cache: memStat.get('file') ?? 0,
        swap: await readNumber(join(dir, 'memory.swap.current')),
        totalUsageTowardLimit: Math.max(0, usage - (memStat.get('inactive_file') ?? 0)),
      },
      cpu: {
        usage: (cpuStat.get('usage_usec') ?? 0) * 1000,
        user: (cpuStat.get('user_usec') ?? 0) * 1000,
        system: (cpuStat.get('system_usec') ?? 0) * 1000,
      },
      pid: { current: await readNumber(join(dir, 'pids.current')), max: await readNumber(join(dir, 'pids.max')) },
      oomKills: events.get('oom_kill') ?? 0,
    };
  }

  pids(handle: string): Promise<number[]> {
    return readPids(join(this.dir(handle), 'cgroup.procs'));
  }

  destroy(handle: string): Promise<void> {
    return removeCgroup(this.dir(handle));
  }

  async release(): Promise<void> {
    await removeIfEmpty(join(this.root, this.parent));
  }

  async handles(): Promise<string[]> {
    // shortened names cannot be mapped back here; the depot's container.json lists those
    return (await listDirs(join(this.root, this.parent))).filter(isPlainName);
  }
}
