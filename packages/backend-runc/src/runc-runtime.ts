import { existsSync, statSync } from 'node:fs';
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { HostPreconditionError } from '@arbor/core';
import type { DesiredContainer } from '@arbor/core';
import { storageName } from '@arbor/depot';
import { containerDir, killQuietly, rootfsIdmappedFor, userNamespaceUnsupported, waitCgroupEmpty, waitInitGone } from '@arbor/host';
import type { CgroupDriver, CgroupLimits, HelperRunner, IdRange, InitProcess, InitRuntime } from '@arbor/host';
import { attachIdmappedBinds, detachIdmappedBinds } from './idmapped-binds';
import { initCgroupDirs } from './init-cgroup-dirs';
import type { RuncCli } from './runc-cli';
import { resolveBindSources, runcConfig, runcUpdateArgs } from './runc-config';

export interface RuncRuntimeOptions {
  /** stateDir is like /var/lib/arbor: a container's bundle is its depot dir, <stateDir>/depot/<handle>. */
  stateDir: string;
  /** cgroups reads the groups runc made, which arbor-exec's processes and arbor-tar join. */
  cgroups: CgroupDriver;
  helpers: HelperRunner;
  runc: RuncCli;
  /** cgroupParent is the group the containers' cgroups sit in, like 'arbor-runc' (/sys/fs/cgroup/<controller>/arbor-runc/<handle>). */
  cgroupParent: string;
  /** swapAccounting: the host limits memory+swap (memory.memsw.*), so limits set both. */
  swapAccounting?: boolean;
  /** capBnd is arbord's capability bounding set in hex, like '000001fffeffffff': what privileged containers get. */
  capBnd?: string;
}

/**
 * RuncRuntime lets the real runc make the containers: startInit writes an OCI bundle
 * (config.json in the container's depot dir, the Volumizer's overlay as root) and runs
 * arbor-init in it with `runc run --detach`. Processes do not go through runc: arbor-exec
 * enters the init's namespaces and runc's cgroups itself, as on the linux backend, with the
 * same posture runc gives the init (the 14 default capabilities, no_new_privs, the seccomp
 * allowlist of native/common/seccomp-profile.txt), so that a Run costs no Go start-up and no
 * `runc exec` (about 5x arbor-exec's own start on a loaded host). Live limits go through
 * `runc update`, removal through `runc delete`.
 */
export class RuncRuntime implements InitRuntime {
  /** initCgroups are, per handle, the cgroup dirs of the container's init (see aroundExec). */
  private readonly initCgroups = new Map<string, string[]>();

  constructor(private readonly options: RuncRuntimeOptions) {}

  /** runcId is the container's id under runc's root: the handle, shortened like every stored name. */
  private runcId(handle: string): string {
    return storageName(handle);
  }

  async startInit(desired: DesiredContainer, bundle: string, idRange?: IdRange): Promise<number> {
    // the overlay is mounted (the Volumizer ran) and nothing in it runs yet: container paths resolve in it now
    const resolved = await resolveBindSources(desired.rootfs.path, desired.bindMounts);
    const bindMounts = await attachIdmappedBinds(this.options.helpers, bundle, resolved, idRange);
    if (idRange && !rootfsIdmappedFor(desired, idRange)) await this.idmapRootfs(desired.rootfs.path, idRange);
    // runc's init, already the range's root when it mounts the rootfs, reaches it by its host path
    if (idRange) await letOthersSearchDownTo(this.options.stateDir, dirname(desired.rootfs.path));
    const config = runcConfig(
      { ...desired, bindMounts },
      {
        initBinary: this.options.helpers.path('arbor-init'),
        cgroupsPath: `/${this.options.cgroupParent}/${this.runcId(desired.handle)}`,
        swapAccounting: this.options.swapAccounting ?? false,
        ...(this.options.capBnd !== undefined && { capBnd: this.options.capBnd }),
        ...(idRange && { idRange }),
      },
    );
    await writeFile(join(bundle, 'config.json'), JSON.stringify(config), { mode: 0o600 });
    const pidFile = join(bundle, 'init.pid');
    await this.options.runc.run(this.runcId(desired.handle), bundle, pidFile);
    // the container holds its own copies of the idmapped binds now (a failed run: removeInit)
    await detachIdmappedBinds(this.options.helpers, bundle);
    return Number((await readFile(pidFile, 'utf8')).trim());
  }

  /**
   * idmapRootfs mounts the Volumizer's overlay at rootfs again with its layers idmapped into
   * the container's range (arbor-mount idmap-overlay), since runc 1.1 cannot: only where the
   * Volumizer did not mount it for the range already (Rootfs.idmappedFor). In arbord it always
   * has: the backend starts only with arbor-mount, which the OverlayVolumizer finds too. A plain
   * overlay comes from a composition given a helpersDir (the OverlayVolumizer does not read it)
   * while native/build holds no arbor-mount.
   * @throws ArborError 'failedPrecondition' for a kernel without idmapped overlay layers
   */
  private async idmapRootfs(rootfs: string, idRange: IdRange): Promise<void> {
    await this.options.helpers.run('arbor-mount', ['idmap-overlay', rootfs, `${idRange.hostId}:${idRange.size}`]).catch((err: unknown) => {
      throw userNamespaceUnsupported('runc', err);
    });
  }

  async removeInit(handle: string, bundle: string, init: InitProcess | undefined): Promise<void> {
    this.initCgroups.delete(handle);
    if (init) {
      // KILL the init first, as `runc kill` would: `runc delete --force` of a running container
      // waits 100 ms before it first looks whether the init is gone, of a stopped one not at all
      killQuietly(init.initPid, 'SIGKILL');
      await waitInitGone(init, 5000);
    }
    await this.options.runc.delete(this.runcId(handle));
    // a process that escaped runc's bookkeeping (a half-made create) still goes
    for (const pid of await this.options.cgroups.pids(handle).catch(() => [])) killQuietly(pid, 'SIGKILL');
    await waitCgroupEmpty(this.options.cgroups, handle, 5000);
    await detachIdmappedBinds(this.options.helpers, bundle);
    await Promise.all(['config.json', 'init.pid'].map((f) => rm(join(bundle, f), { force: true })));
  }

  /** execArgs are none: the cgroups a process joins come from its init, per start (aroundExec); arbor-exec enters the init's namespaces itself. */
  execArgs(_handle: string): string[] {
    return [];
  }

  /** tarArgs put StreamIn's and StreamOut's tar into the cgroups runc made for the container (not through runc exec: arbor-tar enters the init's namespaces itself). */
  tarArgs(handle: string): string[] {
    return this.options.cgroups.dirs(handle).flatMap((dir) => ['--cgroup', dir]);
  }

  async update(handle: string, limits: CgroupLimits): Promise<void> {
    await this.options.runc.update(this.runcId(handle), runcUpdateArgs(limits, this.options.swapAccounting ?? false));
  }

  /**
   * aroundExec starts a process in every cgroup the container's init is in (runc puts it into
   * each mounted hierarchy, name=systemd and blkio too), read once per container, as
   * `runc exec` would join them; with no init (it is gone) the process joins the ones Arbor's
   * driver knows, and arbor-exec reports the init gone.
   */
  async aroundExec<T>(handle: string, start: (args: readonly string[]) => Promise<T>): Promise<T> {
    let dirs = this.initCgroups.get(handle);
    if (!dirs) {
      const pid = Number((await readFile(join(containerDir(this.options.stateDir, handle), 'init.pid'), 'utf8').catch(() => '')).trim());
      const known = this.options.cgroups.dirs(handle);
      dirs = pid > 0 ? await initCgroupDirs(pid).catch(() => undefined) : undefined;
      // a pid taken by another process since (the init died) is in none of the container's cgroups
      if (dirs && known.every((d) => dirs?.includes(d))) this.initCgroups.set(handle, dirs);
      else dirs = known;
    }
    return start(dirs.flatMap((dir) => ['--cgroup', dir]));
  }

  async extraHandles(): Promise<string[]> {
    // a runc container whose depot dir is gone (or was never written) is still swept
    return (await this.options.runc.list().catch(() => [] as string[])).filter(
      (id) => !existsSync(join(containerDir(this.options.stateDir, id), 'container.json')),
    );
  }
}

/**
 * requireSearchableAbove checks that others may search every dir above stateDir, as a
 * user-namespace container's root must to reach its rootfs under it (the dirs from stateDir
 * down are arbord's to open up).
 * @throws HostPreconditionError naming the first dir that does not allow it, and the fix
 */
export function requireSearchableAbove(stateDir: string): void {
  for (let above = dirname(resolve(stateDir)); ; above = dirname(above)) {
    const mode = statSync(above, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined && (mode & 0o001) === 0) {
      throw new HostPreconditionError(
        `runc backend: userns.enabled, but ${above} (above the state dir) does not let others search it: a container's root could not reach its rootfs; chmod o+x ${above}, move the state dir or turn userns.enabled off`,
      );
    }
    if (above === dirname(above)) return;
  }
}

/**
 * letOthersSearchDownTo adds search (x) for others to stateDir and each dir below it on the
 * way to dir, after requireSearchableAbove; nothing is made readable.
 * @throws HostPreconditionError as requireSearchableAbove, or for a dir outside stateDir
 */
async function letOthersSearchDownTo(stateDir: string, dir: string): Promise<void> {
  const below = relative(stateDir, dir);
  if (below.startsWith('..')) throw new HostPreconditionError(`runc backend: the rootfs ${dir} is not under the state dir ${stateDir}`);
  requireSearchableAbove(stateDir);
  let path = stateDir;
  for (const part of ['', ...(below ? below.split(sep) : [])]) {
    path = part ? join(path, part) : path;
    const mode = (await stat(path)).mode & 0o7777;
    if ((mode & 0o001) === 0) await chmod(path, mode | 0o001);
  }
}
