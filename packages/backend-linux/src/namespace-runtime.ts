import type { DesiredContainer } from '@arbor/core';
import {
  MASKED_PATHS,
  READONLY_PATHS,
  killQuietly,
  rootfsIdmappedFor as mountedFor,
  userNamespaceUnsupported,
  waitCgroupEmpty,
  waitInitGone,
} from '@arbor/host';
import type { CgroupDriver, CgroupLimits, HelperRunner, IdRange, InitProcess, InitRuntime } from '@arbor/host';

/**
 * NamespaceRuntime makes containers itself, through the C helpers of native/: arbor-create
 * (namespaces, mounts, pivot_root, arbor-init as pid 1) in cgroups it makes itself, which
 * arbor-exec's processes and arbor-tar join. The HostContainerizer does the rest.
 */
export class NamespaceRuntime implements InitRuntime {
  constructor(
    /** cgroups makes, limits and removes the containers' cgroups. */
    private readonly cgroups: CgroupDriver,
    private readonly helpers: HelperRunner,
  ) {}

  async startInit(desired: DesiredContainer, _dir: string, idRange?: IdRange): Promise<number> {
    const { handle } = desired;
    await this.cgroups.create(handle, desired.limits);
    const args = ['--rootfs', desired.rootfs.path, '--hostname', desired.hostname, '--init', this.helpers.path('arbor-init')];
    for (const dir of this.cgroups.dirs(handle)) args.push('--cgroup', dir);
    for (const m of desired.bindMounts) {
      // idmap is for host binds only (validation refuses it on origin container)
      if (m.idmap) args.push('--idmap-bind', m.srcPath, m.dstPath, m.mode);
      else args.push('--bind', m.srcPath, m.dstPath, m.mode, m.origin);
    }
    if (idRange) args.push('--userns', `${idRange.hostId}:${idRange.size}`, ...(mountedFor(desired, idRange) ? ['--rootfs-idmapped'] : []));
    // a privileged container sees /proc and /sys whole, as on runc
    if (!desired.privileged) {
      for (const path of MASKED_PATHS) args.push('--mask', path);
      for (const path of READONLY_PATHS) args.push('--readonly', path);
    }
    // never a host-root container instead: a kernel that cannot idmap fails the create, saying why
    const out = await this.helpers.run('arbor-create', args).catch((err: unknown) => {
      throw userNamespaceUnsupported('linux', err);
    });
    return Number(out.trim());
  }

  async removeInit(handle: string, _dir: string, init: InitProcess | undefined): Promise<void> {
    // the pid namespace, and every process in it, dies with its init
    if (init) killQuietly(init.initPid, 'SIGKILL');
    // what else is in the cgroup (nothing but the dying, once the pid namespace dies with its init)
    for (const pid of await this.cgroups.pids(handle).catch(() => [])) if (pid !== init?.initPid) killQuietly(pid, 'SIGKILL');
    // The init is in the cgroup too (arbor-create moves it in before it execs), and a process leaves its
    // cgroups only after its namespaces (and so the container's mounts) are gone: an empty
    // cgroup says the container's mounts are. The init, reaping the rest of its pid namespace,
    // turns a zombie a moment later: wait for that beside removing the cgroups.
    await waitCgroupEmpty(this.cgroups, handle, 5000);
    await Promise.all([this.cgroups.destroy(handle), init && waitInitGone(init, 5000)]);
  }

  execArgs(handle: string): string[] {
    return this.cgroups.dirs(handle).flatMap((dir) => ['--cgroup', dir]);
  }

  /** tarArgs put StreamIn's and StreamOut's tar into the container's cgroups, as arbor-exec's processes. */
  tarArgs(handle: string): string[] {
    return this.cgroups.dirs(handle).flatMap((dir) => ['--cgroup', dir]);
  }

  async update(handle: string, limits: CgroupLimits): Promise<void> {
    await this.cgroups.apply(handle, limits);
  }

  extraHandles(): Promise<string[]> {
    return this.cgroups.handles();
  }

  aroundExec<T>(_handle: string, start: (args: readonly string[]) => Promise<T>): Promise<T> {
    return start([]);
  }
}
