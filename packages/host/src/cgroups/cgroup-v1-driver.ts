import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { validateHandle } from '@arbor/core';
import { isPlainName, storageName } from '@arbor/depot';
import { BpfDeviceFilter, DEVICE_ALLOW, parseKeyValues } from './cgroup-driver';
import type { CgroupDriver, CgroupLimits, CgroupStats, DeviceFilter } from './cgroup-driver';
import { listDirs, readNumber, readPids, readTrimmed, removeCgroup, removeIfEmpty, writeControl } from './cgroup-fs';

const CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'devices', 'freezer'] as const;
type Controller = (typeof CONTROLLERS)[number];

/** USER_HZ_NS: cpuacct.stat counts in USER_HZ (100 per second on Linux). */
const USER_HZ_NS = 10_000_000;
/** UNLIMITED is what v1 memory files take for 'no limit'. */
const UNLIMITED = '-1';

/**
 * hybridUnified is the unified (v2) hierarchy mounted beside the v1 controllers, like
 * /sys/fs/cgroup/unified on a systemd 'hybrid' host; undefined on a pure v1 host.
 */
export function hybridUnified(root: string): string | undefined {
  const unified = join(root, 'unified');
  return existsSync(join(unified, 'cgroup.controllers')) ? unified : undefined;
}

/**
 * CgroupV1Driver keeps a container in one cgroup per controller, like
 * /sys/fs/cgroup/memory/arbor/<handle> (this host's layout: one mount per controller).
 *
 * On a hybrid host it also puts the container in a group of the unified hierarchy, like
 * /sys/fs/cgroup/unified/arbor/<handle>, and attaches the v2 device program there: the
 * kernel asks a BPF_CGROUP_DEVICE program of a process's v2 group beside the v1 devices
 * controller, so the same DEVICE_ALLOW holds twice, and still holds where the v1 rules
 * could not be written or are changed.
 */
export class CgroupV1Driver implements CgroupDriver {
  readonly version = 1 as const;
  private parentReady: Promise<{ devicesInherited: boolean }> | undefined;

  /**
   * root is like /sys/fs/cgroup; parent is the group under each controller, like 'arbor';
   * unified is the v2 hierarchy beside them (hybridUnified(root) by default), where devices
   * attaches the device allowlist to each container's group.
   */
  constructor(
    private readonly root = '/sys/fs/cgroup',
    private readonly parent = 'arbor',
    private readonly devices: DeviceFilter = new BpfDeviceFilter(),
    private readonly unified: string | undefined = hybridUnified(root),
  ) {}

  private dir(controller: Controller, handle: string): string {
    validateHandle(handle);
    return join(this.root, controller, this.parent, storageName(handle));
  }

  /** unifiedDir is the container's group in the unified hierarchy, like /sys/fs/cgroup/unified/arbor/<handle>. */
  private unifiedDir(handle: string): string | undefined {
    validateHandle(handle);
    return this.unified === undefined ? undefined : join(this.unified, this.parent, storageName(handle));
  }

  dirs(handle: string): string[] {
    const unified = this.unifiedDir(handle);
    return [...CONTROLLERS.map((c) => this.dir(c, handle)), ...(unified === undefined ? [] : [unified])];
  }

  async create(handle: string, limits: CgroupLimits): Promise<void> {
    let parent = await this.prepareParent();
    const make = () => Promise.all(this.dirs(handle).map((dir) => mkdir(dir, { recursive: true })));
    try {
      await make();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // the parent went away under us (a test's cleanup, an operator): make it again
      this.parentReady = undefined;
      parent = await this.prepareParent();
      await make();
    }
    const devices = this.dir('devices', handle);
    await Promise.all([
      // with clone_children set on the parent, the kernel copied cpus and mems: only checked
      this.inheritCpuset(this.dir('cpuset', handle)),
      (async () => {
        if (parent.devicesInherited) return;
        await writeControl(join(devices, 'devices.deny'), 'a');
        for (const rule of DEVICE_ALLOW) await writeControl(join(devices, 'devices.allow'), rule);
      })(),
      // before arbor-create joins it, as on v2
      this.restrictUnified(handle),
    ]);
    await this.apply(handle, limits);
  }

  /**
   * prepareParent makes the parent group under each controller once per driver: cpuset with
   * cpus and mems and clone_children (a child then starts with them), devices denying all but
   * DEVICE_ALLOW (a v1 child starts with its parent's list). devicesInherited says the
   * parent's list is exactly that, so a container's cgroup needs no writes of its own; a
   * parent that had other rules and has children cannot be changed ('a' rules need no
   * children), and each container then gets its rules written.
   */
  private prepareParent(): Promise<{ devicesInherited: boolean }> {
    this.parentReady ??= (async () => {
      let devicesInherited = false;
      await Promise.all(
        CONTROLLERS.map(async (c) => {
          const parentDir = join(this.root, c, this.parent);
          await mkdir(parentDir, { recursive: true });
          if (c === 'cpuset') {
            await this.inheritCpuset(parentDir);
            await writeControl(join(parentDir, 'cgroup.clone_children'), '1');
          }
          if (c === 'devices') devicesInherited = await this.restrictDevices(parentDir);
        }),
      );
      return { devicesInherited };
    })().catch((err: unknown) => {
      this.parentReady = undefined;
      throw err;
    });
    return this.parentReady;
  }

  /** restrictDevices gives dir the standard device list when it can; true when dir's list is exactly that. */
  private async restrictDevices(dir: string): Promise<boolean> {
    const wanted = DEVICE_ALLOW.join('\n');
    const list = join(dir, 'devices.list');
    if ((await readTrimmed(list)) === wanted) return true;
    try {
      await writeControl(join(dir, 'devices.deny'), 'a');
      for (const rule of DEVICE_ALLOW) await writeControl(join(dir, 'devices.allow'), rule);
    } catch {
      return false;
    }
    return (await readTrimmed(list)) === wanted;
  }

  /** restrictUnified attaches the v2 device program to the container's unified group, on a hybrid host. */
  private async restrictUnified(handle: string): Promise<void> {
    const dir = this.unifiedDir(handle);
    if (dir !== undefined) await this.devices.restrict(dir);
  }

  /** inheritCpuset copies cpus and mems from the parent: a v1 cpuset takes no task without them. */
  private async inheritCpuset(dir: string): Promise<void> {
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if ((await readTrimmed(join(dir, file))) === '') {
        const parentValue = await readTrimmed(join(dir, '..', file));
        if (parentValue) await writeControl(join(dir, file), parentValue);
      }
    }
  }

  async apply(handle: string, limits: CgroupLimits): Promise<void> {
    if (limits.memory) {
      const value = limits.memory.limitInBytes > 0 ? String(limits.memory.limitInBytes) : UNLIMITED;
      const memory = this.dir('memory', handle);
      const mem = join(memory, 'memory.limit_in_bytes');
      const memsw = join(memory, 'memory.memsw.limit_in_bytes');
      const hasSwapAccounting = (await readTrimmed(memsw)) !== undefined;
      if (!hasSwapAccounting) {
        await writeControl(mem, value);
      } else {
        // memsw must stay >= the memory limit: raise memsw first, lower it last
        try {
          await writeControl(mem, value);
          await writeControl(memsw, value);
        } catch {
          await writeControl(memsw, value);
          await writeControl(mem, value);
        }
      }
    }
    if (limits.pid) {
      await writeControl(join(this.dir('pids', handle), 'pids.max'), limits.pid.max > 0 ? String(limits.pid.max) : 'max');
    }
    if (limits.cpu) {
      const shares = limits.cpu.weight > 0 ? Math.max(2, limits.cpu.weight) : 1024;
      await writeControl(join(this.dir('cpu', handle), 'cpu.shares'), String(shares));
    }
  }

  async stats(handle: string): Promise<CgroupStats> {
    const memory = this.dir('memory', handle);
    const stat = parseKeyValues((await readTrimmed(join(memory, 'memory.stat'))) ?? '');
    const usage = await readNumber(join(memory, 'memory.usage_in_bytes'));
    const limit = await readNumber(join(memory, 'memory.limit_in_bytes'));
    const cpuStat = parseKeyValues((await readTrimmed(join(this.dir('cpuacct', handle), 'cpuacct.stat'))) ?? '');
    const oom = parseKeyValues((await readTrimmed(join(memory, 'memory.oom_control'))) ?? '');
    const pidsMax = await readTrimmed(join(this.dir('pids', handle), 'pids.max'));
    const inactiveFile = stat.get('total_inactive_file') ?? 0;
    return {
      memory: {
        usageInBytes: usage,
        // a v1 'unlimited' is a huge page-rounded number: report 0 (unlimited) instead
        limitInBytes: limit >= 2 ** 62 ? 0 : limit,
        rss: stat.get('total_rss') ?? 0,
        cache: stat.get('total_cache') ?? 0,
        swap: stat.get('total_swap') ?? 0,
        totalUsageTowardLimit: Math.max(0, usage - inactiveFile),
      },
      cpu: {
        usage: await readNumber(join(this.dir('cpuacct', handle), 'cpuacct.usage')),
        user: (cpuStat.get('user') ?? 0) * USER_HZ_NS,
        system: (cpuStat.get('system') ?? 0) * USER_HZ_NS,
      },
      pid: {
        current: await readNumber(join(this.dir('pids', handle), 'pids.current')),
        max: pidsMax === undefined || pidsMax === 'max' ? 0 : Number(pidsMax),
      },
      oomKills: oom.get('oom_kill') ?? 0,
    };
  }

  pids(handle: string): Promise<number[]> {
    return readPids(join(this.dir('memory', handle), 'cgroup.procs'));
  }

  async destroy(handle: string): Promise<void> {
    await Promise.all(this.dirs(handle).map((dir) => removeCgroup(dir)));
  }

  async release(): Promise<void> {
    this.parentReady = undefined;
    const parents = CONTROLLERS.map((c) => join(this.root, c, this.parent));
    if (this.unified !== undefined) parents.push(join(this.unified, this.parent));
    await Promise.all(parents.map((dir) => removeIfEmpty(dir)));
  }

  async handles(): Promise<string[]> {
    // shortened names cannot be mapped back here; the depot's container.json lists those
    return (await listDirs(join(this.root, 'memory', this.parent))).filter(isPlainName);
  }
}
