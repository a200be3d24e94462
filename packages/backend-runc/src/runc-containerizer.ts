import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DesiredContainer, Limits, Process, ProcessIO, RunRequest } from '@arbor/core';
import { storageName } from '@arbor/depot';
import { InitContainerizer, killQuietly } from '@arbor/host';
import type { CgroupReader, InitContainerState, InitContainerizerOptions } from '@arbor/host';
import type { RuncCli } from './runc-cli';
import { INIT_PATH, resolveBindSources, runcConfig, runcUpdateArgs } from './runc-config';

/**
 * RUNC_EXEC_PIDS is how far a pid limit is lifted while `runc exec` starts a process: runc's
 * init joins the container's cgroup with its Go runtime threads, which count as tasks, and
 * would otherwise fail under a small limit. The process starts held behind arbor-init, and
 * arbor-exec's supervisor puts the limit back before it lets the program run.
 */
const RUNC_EXEC_PIDS = 32;

export interface RuncContainerizerOptions extends InitContainerizerOptions {
  /** cgroups also writes limits: the pid limit is lifted while runc exec starts a process. */
  cgroups: CgroupReader & {
    apply(handle: string, limits: Pick<Limits, 'pid'>): Promise<void>;
    /** dirs are the container's cgroup dirs, one of them holding pids.max. */
    dirs(handle: string): string[];
    /** release removes the containers' parent group once none is left. */
    release(): Promise<void>;
  };
  runc: RuncCli;
  /** cgroupParent is the group the containers' cgroups sit in, like 'arbor-runc' (/sys/fs/cgroup/<controller>/arbor-runc/<handle>). */
  cgroupParent: string;
  /** swapAccounting: the host limits memory+swap (memory.memsw.*), so limits set both. */
  swapAccounting?: boolean;
  /** capBnd is arbord's capability bounding set in hex, like '000001fffeffffff': what privileged containers get. */
  capBnd?: string;
}

/**
 * RuncContainerizer lets the real runc make the containers: create writes an OCI bundle
 * (config.json in the container's depot dir, the Volumizer's overlay as root) and runs
 * arbor-init in it with `runc run --detach`; every process is a `runc exec` started by
 * arbor-exec's supervisor, so processes keep their FIFOs and exit files and outlive arbord
 * just as on the linux backend. Live limits go through `runc update`, destroy through
 * `runc delete --force`.
 */
export class RuncContainerizer extends InitContainerizer {
  /** restoreTo is, per container with a pid limit, the limit a starting process's supervisor puts back. */
  private readonly restoreTo = new Map<string, number>();
  /** pidLocks chains, per container, the starts and pid-limit changes that must not overlap. */
  private readonly pidLocks = new Map<string, Promise<unknown>>();

  constructor(private readonly runc: RuncContainerizerOptions) {
    super(runc);
  }

  /**
   * run starts a process; under a pid limit, one at a time per container: the limit is lifted
   * for runc's own threads, and the supervisor restores it before the program runs, which is
   * only safe while no other start needs it lifted.
   */
  override async run(handle: string, spec: RunRequest, io: ProcessIO): Promise<Process> {
    await this.liveState(handle);
    if ((await this.pidLimit(handle)) === 0) return super.run(handle, spec, io);
    return this.withPidLock(handle, async () => {
      const max = await this.pidLimit(handle);
      if (max === 0) return super.run(handle, spec, io);
      await this.runc.cgroups.apply(handle, { pid: { max: max + RUNC_EXEC_PIDS } });
      this.restoreTo.set(handle, max);
      try {
        return await super.run(handle, spec, io);
      } finally {
        this.restoreTo.delete(handle);
        // the supervisor has restored it already, unless the start failed before
        await this.runc.cgroups.apply(handle, { pid: { max } }).catch(() => undefined);
      }
    });
  }

  private pidsMaxFile(handle: string): string {
    const dirs = this.runc.cgroups.dirs(handle);
    return join(dirs.find((d) => d.includes('/pids/')) ?? dirs[0] ?? '', 'pids.max');
  }

  /** pidLimit reads the container's pids.max: 0 for none. */
  private async pidLimit(handle: string): Promise<number> {
    const text = (await readFile(this.pidsMaxFile(handle), 'utf8').catch(() => 'max')).trim();
    return text === 'max' ? 0 : Number(text);
  }

  private withPidLock<T>(handle: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.pidLocks.get(handle) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    const tail = next.catch(() => undefined);
    this.pidLocks.set(handle, tail);
    void tail.then(() => {
      if (this.pidLocks.get(handle) === tail) this.pidLocks.delete(handle);
    });
    return next;
  }

  /** runcId is the container's id under runc's root: the handle, shortened like every stored name. */
  private runcId(handle: string): string {
    return storageName(handle);
  }

  protected async startInit(desired: DesiredContainer): Promise<number> {
    const bundle = this.dir(desired.handle);
    // the overlay is mounted (the Volumizer ran) and nothing in it runs yet: container paths resolve in it now
    const bindMounts = await resolveBindSources(desired.rootfs.path, desired.bindMounts);
    const config = runcConfig({ ...desired, bindMounts }, {
      initBinary: this.options.helpers.path('arbor-init'),
      cgroupsPath: `/${this.runc.cgroupParent}/${this.runcId(desired.handle)}`,
      swapAccounting: this.runc.swapAccounting ?? false,
      ...(this.runc.capBnd !== undefined && { capBnd: this.runc.capBnd }),
    });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(config), { mode: 0o600 });
    const pidFile = join(bundle, 'init.pid');
    await this.runc.runc.run(this.runcId(desired.handle), bundle, pidFile);
    return Number((await readFile(pidFile, 'utf8')).trim());
  }

  protected async removeInit(handle: string, state: InitContainerState | undefined): Promise<void> {
    if (state) {
      // KILL the init first, as `runc kill` would: `runc delete --force` of a running container
      // waits 100 ms before it first looks whether the init is gone, of a stopped one not at all
      killQuietly(state.initPid, 'SIGKILL');
      await this.waitGone(state, 5000);
    }
    await this.runc.runc.delete(this.runcId(handle));
    // a process that escaped runc's bookkeeping (a half-made create) still goes
    for (const pid of await this.options.cgroups.pids(handle).catch(() => [])) killQuietly(pid, 'SIGKILL');
    await this.waitEmpty(handle, 5000);
    await Promise.all(['config.json', 'init.pid'].map((f) => rm(join(this.dir(handle), f), { force: true })));
  }

  protected execArgs(handle: string): string[] {
    const args = ['--runc', this.runc.runc.binary, '--runc-root', this.runc.runc.root, '--runc-id', this.runcId(handle), '--runc-init', INIT_PATH];
    // the user lookup joins these: the container's device rules then bound what its /etc/passwd may be
    for (const dir of this.runc.cgroups.dirs(handle)) args.push('--cgroup', dir);
    const max = this.restoreTo.get(handle);
    if (max !== undefined) args.push('--restore', this.pidsMaxFile(handle), String(max));
    return args;
  }

  /** tarControlArgs put StreamIn's and StreamOut's tar into the cgroups runc made for the container (not through runc exec: arbor-tar enters the init's namespaces itself). */
  protected override tarControlArgs(handle: string): string[] {
    return this.runc.cgroups.dirs(handle).flatMap((dir) => ['--cgroup', dir]);
  }

  async limit(handle: string, limits: Pick<Limits, 'cpu' | 'memory' | 'pid'>): Promise<void> {
    await this.liveState(handle);
    const update = () => this.runc.runc.update(this.runcId(handle), runcUpdateArgs(limits, this.runc.swapAccounting ?? false));
    // a pid limit waits for a start that has it lifted, so that the new one is what stays
    await (limits.pid ? this.withPidLock(handle, update) : update());
  }

  /** close also removes the containers' parent cgroup when none is left (an idle arbord leaves no trace). */
  override async close(): Promise<void> {
    await super.close();
    await this.runc.cgroups.release().catch((err: unknown) => this.logger.error('cgroup-release-failed', { error: String(err) }));
  }

  protected async extraHandles(): Promise<string[]> {
    // a runc container whose depot dir is gone (or was never written) is still swept
    return (await this.runc.runc.list().catch(() => [] as string[])).filter((id) => !existsSync(join(this.dir(id), 'container.json')));
  }
}
