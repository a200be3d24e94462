import type { DesiredContainer, Limits } from '@arbor/core';
import { InitContainerizer, killQuietly } from '@arbor/host';
import type { InitContainerState, InitContainerizerOptions } from '@arbor/host';
import type { CgroupDriver } from './cgroup-driver';
import { MASKED_PATHS, READONLY_PATHS } from './masked-paths';

export { OOM_EVENT } from '@arbor/host';

export interface NamespaceContainerizerOptions extends InitContainerizerOptions {
  /** cgroups makes, limits and removes the containers' cgroups. */
  cgroups: CgroupDriver;
}

/**
 * NamespaceContainerizer makes containers itself, through the C helpers of native/:
 * arbor-create (namespaces, mounts, pivot_root, arbor-init as pid 1), arbor-exec (processes
 * that outlive arbord) and arbor-tar (files in and out). Limits are cgroups it makes itself.
 * What it shares with the runc backend (processes, files, state) is InitContainerizer.
 */
export class NamespaceContainerizer extends InitContainerizer {
  private readonly cgroups: CgroupDriver;

  constructor(options: NamespaceContainerizerOptions) {
    super(options);
    this.cgroups = options.cgroups;
  }

  protected async startInit(desired: DesiredContainer): Promise<number> {
    const { handle } = desired;
    const { helpers } = this.options;
    await this.cgroups.create(handle, desired.limits);
    const args = ['--rootfs', desired.rootfs.path, '--hostname', desired.hostname, '--init', helpers.path('arbor-init')];
    for (const dir of this.cgroups.dirs(handle)) args.push('--cgroup', dir);
    for (const m of desired.bindMounts) args.push('--bind', m.srcPath, m.dstPath, m.mode, m.origin);
    // a privileged container sees /proc and /sys whole, as on runc
    if (!desired.privileged) {
      for (const path of MASKED_PATHS) args.push('--mask', path);
      for (const path of READONLY_PATHS) args.push('--readonly', path);
    }
    return Number((await helpers.run('arbor-create', args)).trim());
  }

  protected async removeInit(handle: string, state: InitContainerState | undefined): Promise<void> {
    // the pid namespace, and every process in it, dies with its init
    if (state) killQuietly(state.initPid, 'SIGKILL');
    // what else is in the cgroup (nothing but the dying, once the pid namespace dies with its init)
    for (const pid of await this.cgroups.pids(handle).catch(() => [])) if (pid !== state?.initPid) killQuietly(pid, 'SIGKILL');
    // The init is in the cgroup too (arbor-create joins it first), and a process leaves its
    // cgroups only after its namespaces (and so the container's mounts) are gone: an empty
    // cgroup says the container's mounts are. The init, reaping the rest of its pid namespace,
    // turns a zombie a moment later: wait for that beside removing the cgroups.
    await this.waitEmpty(handle, 5000);
    await Promise.all([this.cgroups.destroy(handle), state && this.waitGone(state, 5000)]);
  }

  protected execArgs(handle: string): string[] {
    return this.cgroups.dirs(handle).flatMap((dir) => ['--cgroup', dir]);
  }

  /** tarControlArgs put StreamIn's and StreamOut's tar into the container's cgroups, as arbor-exec's processes. */
  protected override tarControlArgs(handle: string): string[] {
    return this.cgroups.dirs(handle).flatMap((dir) => ['--cgroup', dir]);
  }

  async limit(handle: string, limits: Pick<Limits, 'cpu' | 'memory' | 'pid'>): Promise<void> {
    await this.liveState(handle);
    await this.cgroups.apply(handle, limits);
  }

  /** close also removes the containers' parent cgroup when none is left (an idle arbord leaves no trace). */
  override async close(): Promise<void> {
    await super.close();
    await this.cgroups.release().catch((err: unknown) => this.logger.error('cgroup-release-failed', { error: String(err) }));
  }

  protected extraHandles(): Promise<string[]> {
    return this.cgroups.handles();
  }
}
