import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DesiredContainer, Limits, Process, ProcessIO, RunRequest } from '@arbor/core';
import { storageName } from '@arbor/depot';
import { InitContainerizer, killQuietly } from '@arbor/native-helpers';
import type { CgroupReader, InitContainerState, InitContainerizerOptions } from '@arbor/native-helpers';
import type { RuncCli } from './runc-cli';
import { runcConfig, runcUpdateArgs } from './runc-config';

/**
 * RUNC_EXEC_PIDS is how far a pid limit is lifted while `runc exec` starts a process: runc's
 * init joins the container's cgroup with its Go runtime threads, which count as tasks, and
 * would otherwise fail under a small limit. The limit is back once the process has started.
 */
const RUNC_EXEC_PIDS = 32;

export interface RuncContainerizerOptions extends InitContainerizerOptions {
  /** cgroups also writes limits: the pid limit is lifted while runc exec starts a process. */
  cgroups: CgroupReader & {
    apply(handle: string, limits: Pick<Limits, 'pid'>): Promise<void>;
    /** release removes the containers' parent group once none is left. */
    release(): Promise<void>;
  };
  runc: RuncCli;
  /** cgroupParent is the group the containers' cgroups sit in, like 'arbor-runc' (/sys/fs/cgroup/<controller>/arbor-runc/<handle>). */
  cgroupParent: string;
  /** swapAccounting: the host limits memory+swap (memory.memsw.*), so limits set both. */
  swapAccounting?: boolean;
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
  /** lifted holds, per container, the pid limit to restore and how many runc execs are starting. */
  private readonly lifted = new Map<string, { starting: number; max: number; ready: Promise<void> }>();

  constructor(private readonly runc: RuncContainerizerOptions) {
    super(runc);
  }

  override async run(handle: string, spec: RunRequest, io: ProcessIO): Promise<Process> {
    await this.liveState(handle);
    const restore = await this.liftPidLimit(handle);
    try {
      return await super.run(handle, spec, io);
    } finally {
      await restore();
    }
  }

  /** liftPidLimit raises a set pid limit by RUNC_EXEC_PIDS until the returned function is called (by every concurrent run). */
  private async liftPidLimit(handle: string): Promise<() => Promise<void>> {
    let entry = this.lifted.get(handle);
    if (!entry) {
      const fresh = { starting: 0, max: 0, ready: Promise.resolve() };
      fresh.ready = (async () => {
        fresh.max = (await this.runc.cgroups.stats(handle)).pid.max;
        if (fresh.max > 0) await this.runc.cgroups.apply(handle, { pid: { max: fresh.max + RUNC_EXEC_PIDS } });
      })();
      entry = fresh;
      this.lifted.set(handle, entry);
    }
    const lifted = entry;
    lifted.starting += 1;
    const restore = async () => {
      lifted.starting -= 1;
      if (lifted.starting > 0) return;
      this.lifted.delete(handle);
      if (lifted.max > 0) await this.runc.cgroups.apply(handle, { pid: { max: lifted.max } }).catch(() => undefined);
    };
    try {
      await lifted.ready;
    } catch (err) {
      await restore();
      throw err;
    }
    return restore;
  }

  /** runcId is the container's id under runc's root: the handle, shortened like every stored name. */
  private runcId(handle: string): string {
    return storageName(handle);
  }

  protected async startInit(desired: DesiredContainer): Promise<number> {
    const bundle = this.dir(desired.handle);
    const config = runcConfig(desired, {
      initBinary: this.options.helpers.path('arbor-init'),
      cgroupsPath: `/${this.runc.cgroupParent}/${this.runcId(desired.handle)}`,
      swapAccounting: this.runc.swapAccounting ?? false,
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
    return ['--runc', this.runc.runc.binary, '--runc-root', this.runc.runc.root, '--runc-id', this.runcId(handle)];
  }

  async limit(handle: string, limits: Pick<Limits, 'cpu' | 'memory' | 'pid'>): Promise<void> {
    await this.liveState(handle);
    const lifted = this.lifted.get(handle);
    if (lifted && limits.pid) {
      // a process is starting: the new limit is what gets restored, lifted until then
      await lifted.ready.catch(() => undefined);
      lifted.max = limits.pid.max;
      // runc keeps the limit it was told and sets it again on any later update
      await this.runc.runc.update(this.runcId(handle), runcUpdateArgs(limits, this.runc.swapAccounting ?? false));
      await this.runc.cgroups.apply(handle, { pid: { max: lifted.max > 0 ? lifted.max + RUNC_EXEC_PIDS : 0 } });
      return;
    }
    await this.runc.runc.update(this.runcId(handle), runcUpdateArgs(limits, this.runc.swapAccounting ?? false));
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
