import { lstat, mkdir, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  ArborError,
  ContainerNotFoundError,
  ContainerStoppedError,
  ExecutableNotFoundError,
  MAX_ECHO,
  PermissionDeniedError,
  InvalidArgumentError,
  ProcessAlreadyExistsError,
  ProcessNotFoundError,
  ResourceExhaustedError,
  quoteInput,
  silentLogger,
  validateHandle,
  validateProcessId,
} from '@arbor/core';
import type {
  CallContext,
  Containerizer,
  ContainerizerInfo,
  ContainerizerMetrics,
  CreatedContainer,
  DesiredContainer,
  Logger,
  Process,
  ProcessIO,
  RunRequest,
  StreamInSpec,
  StreamOutSpec,
} from '@arbor/core';
import { storageName, writeFileAtomically } from '@arbor/depot';
import { ProcessChannel } from './process-channel';
import { HELPER_EXIT, HelperError, HelperRunner } from './run-helper';
import { encodeProcessSpec, writeProcessSpec } from './process-spec-file';
import { ContainerTar } from './container-tar';
import type { TarTarget } from './container-tar';
import type { CgroupDriver, CgroupLimits } from './cgroups/cgroup-driver';
import { initAlive, killQuietly, readSmallFile, sleep, startTime } from './init-process';
import type { InitProcess } from './init-process';
import type { IdRange, IdRangeAllocator } from './id-range-allocator';

/** OOM_EVENT is the Info event a container shows once the kernel killed a process for its memory limit. */
export const OOM_EVENT = 'out of memory';

/**
 * InitRuntime is how one mechanism makes and removes a container's init, and what arbor-exec
 * and arbor-tar need to enter it: NamespaceRuntime (backend-linux, the helpers of native/)
 * or RuncRuntime (backend-runc, the real runc). Everything else about a container (processes,
 * files, state, stats) is the HostContainerizer's, the same for every runtime.
 */
export interface InitRuntime {
  /**
   * startInit makes the container around dir (made already, like /var/lib/arbor/depot/<handle>)
   * with desired's rootfs, mounts and limits, and returns its init's host pid. With idRange
   * the init is in a user namespace whose ids 0..idRange.size-1 are that range's host ids.
   * @throws ArborError when the container cannot be made; what it made is removed by removeInit
   * @throws ArborError 'failedPrecondition' for an idRange this host cannot map (no idmapped mounts)
   */
  startInit(desired: DesiredContainer, dir: string, idRange?: IdRange): Promise<number>;
  /**
   * removeInit ends every process of the container and removes its cgroups and what the
   * runtime keeps of it; idempotent. init is undefined when no live init is known.
   * @throws ArborError when something stays (a cgroup that will not go)
   */
  removeInit(handle: string, dir: string, init: InitProcess | undefined): Promise<void>;
  /** execArgs are the arbor-exec control options that put a process into the container, like ['--cgroup', dir]; never data of the process. */
  execArgs(handle: string): string[];
  /**
   * tarArgs are the arbor-tar control options that put the tar into the container's cgroups,
   * like ['--cgroup', '/sys/fs/cgroup/memory/arbor/<handle>', ...], so that what it writes
   * and uses counts against the container's limits.
   */
  tarArgs(handle: string): string[];
  /** update changes the limits of a live container. @throws ArborError when the mechanism refuses them */
  update(handle: string, limits: CgroupLimits): Promise<void>;
  /** extraHandles lists containers known outside the depot (cgroups, a runtime's state), for the sweep at start. */
  extraHandles(): Promise<string[]>;
  /**
   * aroundExec runs start, which starts one process of the container with arbor-exec, and
   * gives it the arbor-exec options this one start needs besides execArgs (like the cgroups
   * runc put the container's init in, read once it runs); a runtime that needs none calls start([]).
   */
  aroundExec<T>(handle: string, start: (args: readonly string[]) => Promise<T>): Promise<T>;
}

export interface HostContainerizerOptions {
  /** runtime makes and removes the inits. */
  runtime: InitRuntime;
  /** stateDir is like /var/lib/arbor; container files live in <stateDir>/depot/<handle>. */
  stateDir: string;
  /** cgroups reads the containers' stats and pids; its parent group goes when arbord stops with none left. */
  cgroups: CgroupDriver;
  helpers: HelperRunner;
  /** busybox is a static busybox on the host whose tar applet streams files, like /var/lib/arbor/rootfs/busybox/bin/busybox. */
  busybox: string;
  /** stopTimeoutMs is how long Stop waits after TERM before KILL; 10 s in production. */
  stopTimeoutMs?: number;
  /**
   * maxContainers is the containerizer's own cap; absent means none of its own (the largest
   * safe integer): the Networker's pool decides, 256 for the default 10.254.0.0/22.
   */
  maxContainers?: number;
  /**
   * idRanges, when given, puts every unprivileged container in a user namespace of a range of
   * host ids of its own (userns.enabled); absent, every container's root is the host's.
   */
  idRanges?: IdRangeAllocator;
  logger?: Logger;
}

/** InitContainerState is what the containerizer keeps in <stateDir>/depot/<handle>/container.json. */
export interface InitContainerState extends InitProcess {
  handle: string;
  env: string[];
  stopped: boolean;
  /** privileged containers keep root's capabilities and run without the seccomp filter. */
  privileged?: boolean;
  /** idRange is the host ids of the container's user namespace; absent: it has none (host root). */
  idRange?: IdRange;
}

/** containerDir is like /var/lib/arbor/depot/<handle>: a container's files, and a runtime's bundle. */
export function containerDir(stateDir: string, handle: string): string {
  validateHandle(handle);
  return join(stateDir, 'depot', storageName(handle));
}

/**
 * checkBindSources refuses a bind mount whose source is missing before anything is made: the
 * caller's mistake, named, instead of a mount failing deep in a helper. A source of origin
 * host must be on the host; one of origin container in the rootfs (like
 * /var/lib/arbor/overlays/<handle>/rootfs), where the runtime later resolves it to mount it.
 * @throws InvalidArgumentError naming the mount, like bindMounts[0].srcPath
 */
async function checkBindSources(desired: DesiredContainer): Promise<void> {
  await Promise.all(
    desired.bindMounts.map(async (m, i) => {
      const why = m.origin === 'host' ? await missingOnHost(m.srcPath) : await missingInRoot(desired.rootfs.path, m.srcPath);
      if (why) throw new InvalidArgumentError(`bindMounts[${i}].srcPath`, `${quoteInput(m.srcPath)} ${why}: give an existing path`);
    }),
  );
}

/** missingOnHost says why path is not on the host, or '' when it is. */
async function missingOnHost(path: string): Promise<string> {
  try {
    await stat(path);
    return '';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist on the host' : `cannot be read on the host (${code ?? String(err)})`;
  }
}

/**
 * missingInRoot says why path, a path in the container like /srv/data, is not in root (its
 * rootfs on the host), or '' when it is. Symlinks are followed as openat2's RESOLVE_IN_ROOT
 * follows them, as arbor-create does: an absolute target starts again at root and '..' stops
 * there, so an image's '/data -> /etc' is judged by the image's /etc, never the host's.
 */
async function missingInRoot(root: string, path: string): Promise<string> {
  const left = path.split('/');
  const found: string[] = [];
  let links = 0;
  while (left.length > 0) {
    const part = left.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      found.pop(); // each found part is a directory, not a link: its parent is the part before
      continue;
    }
    const at = join(root, ...found, part);
    const st = await lstat(at).catch(() => undefined);
    if (!st) return 'does not exist in the container';
    if (st.isSymbolicLink()) {
      if (++links > 40) return 'goes through more than 40 symlinks in the container';
      const target = await readlink(at);
      if (target.startsWith('/')) found.length = 0;
      left.unshift(...target.split('/'));
      continue;
    }
    if (!st.isDirectory() && left.some((p) => p !== '' && p !== '.'))
      return `goes through /${[...found, part].join('/')}, which is not a directory in the container`;
    found.push(part);
  }
  return '';
}

/**
 * HostContainerizer is what the linux and runc backends share: a container is an init
 * process (pid 1 of its namespaces) plus a cgroup; every process is started by arbor-exec,
 * whose supervisor keeps stdio FIFOs and an exit file in <depot>/<handle>/processes/<id>, so
 * processes outlive arbord; files go in and out through arbor-tar inside the init's
 * namespaces. How the init is made and removed, and how limits change, is its InitRuntime's.
 */
export class HostContainerizer implements Containerizer {
  private readonly states = new Map<string, InitContainerState>();
  private readonly channels = new Map<string, ProcessChannel>();
  /** tar runs arbor-tar for StreamIn and StreamOut. */
  private readonly tar: ContainerTar;
  private readonly stopTimeoutMs: number;
  private readonly logger: Logger;
  private readonly runtime: InitRuntime;

  constructor(private readonly options: HostContainerizerOptions) {
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.logger = options.logger ?? silentLogger;
    this.runtime = options.runtime;
    this.tar = new ContainerTar(options.helpers);
  }

  /** dir is like /var/lib/arbor/depot/<handle>. */
  dir(handle: string): string {
    return containerDir(this.options.stateDir, handle);
  }

  private processDir(handle: string, id: string): string {
    validateProcessId(id);
    return join(this.dir(handle), 'processes', storageName(id));
  }

  async create(desired: DesiredContainer, ctx?: CallContext): Promise<CreatedContainer> {
    const { handle } = desired;
    if (!desired.rootfs.path) throw new InvalidArgumentError('image', 'this backend needs a root filesystem on disk');
    await checkBindSources(desired);
    await mkdir(join(this.dir(handle), 'processes'), { recursive: true, mode: 0o700 });
    const idRange = await this.idRangeFor(desired);
    // a failed create keeps no range: the destroy that follows finds no container.json
    const initPid = await this.runtime.startInit(desired, this.dir(handle), idRange).catch((err: unknown) => {
      this.options.idRanges?.release(handle);
      throw err;
    });
    const state: InitContainerState = {
      handle,
      initPid,
      initStartTime: await startTime(initPid),
      env: desired.env,
      stopped: false,
      privileged: desired.privileged,
      ...(idRange && { idRange }),
    };
    await this.saveState(handle, state);
    (ctx?.logger ?? this.logger).debug('container-created', { handle, initPid });
    return { netnsPath: `/proc/${initPid}/ns/net` };
  }

  /** reserveUserIds: see Containerizer.reserveUserIds (idRangeFor). */
  async reserveUserIds(handle: string, privileged: boolean): Promise<IdRange | undefined> {
    return this.idRangeFor({ handle, privileged });
  }

  /**
   * idRangeFor gives an unprivileged container its range when user namespaces are on (the one
   * it holds already, when reserveUserIds took it); the ranges live containers recorded are
   * claimed first, once (after a restart).
   * @throws ArborError 'resourceExhausted' when every range is taken
   */
  private async idRangeFor(desired: Pick<DesiredContainer, 'handle' | 'privileged'>): Promise<IdRange | undefined> {
    const { idRanges } = this.options;
    if (!idRanges || desired.privileged) return undefined;
    this.rangesClaimed ??= this.claimRecordedRanges(idRanges).catch((err: unknown) => {
      this.rangesClaimed = undefined;
      throw err;
    });
    await this.rangesClaimed;
    return idRanges.allocate(desired.handle);
  }

  private rangesClaimed: Promise<void> | undefined;

  /** claimRecordedRanges claims the range each container.json of the depot records. */
  private async claimRecordedRanges(idRanges: IdRangeAllocator): Promise<void> {
    const depot = join(this.options.stateDir, 'depot');
    for (const name of await readdir(depot).catch(() => [] as string[])) {
      const text = await readFile(join(depot, name, 'container.json'), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      let state: InitContainerState;
      try {
        state = JSON.parse(text) as InitContainerState;
      } catch {
        continue;
      }
      if (state.idRange) idRanges.claim(state.handle, state.idRange);
    }
  }

  /** close closes arbord's ends of every process, as a restart would (processes keep running), and removes the parent cgroup once no container is left. */
  async close(): Promise<void> {
    // the fork server ends once the helpers it runs have; a later call starts another
    this.options.helpers.close();
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    this.states.clear();
    // the containers' parent cgroup goes when none is left (an idle arbord leaves no trace)
    await this.options.cgroups.release().catch((err: unknown) => this.logger.error('cgroup-release-failed', { error: String(err) }));
  }

  async destroy(handle: string, ctx?: CallContext): Promise<void> {
    const state = await this.loadState(handle).catch(() => undefined);
    for (const [key, channel] of this.channels) {
      if (key.startsWith(`${handle}/`)) {
        channel.closeDestroyed();
        this.channels.delete(key);
      }
    }
    // the supervisors live outside the container: kill them, then drop their dirs, while the
    // container goes; container.json goes last, as a retry needs the init's pid
    const processes = this.killSupervisors(handle).then(() => rm(join(this.dir(handle), 'processes'), { recursive: true, force: true }));
    const results = await Promise.allSettled([
      (async () => this.runtime.removeInit(handle, this.dir(handle), state && (await initAlive(state)) ? state : undefined))(),
      processes,
    ]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    await rm(join(this.dir(handle), 'container.json'), { force: true });
    this.states.delete(handle);
    // its ids are free once nothing of the container is left
    this.options.idRanges?.release(handle);
    (ctx?.logger ?? this.logger).debug('container-removed', { handle, initPid: state?.initPid });
  }

  async stop(handle: string, kill: boolean): Promise<void> {
    const state = await this.liveState(handle);
    state.stopped = true;
    await this.saveState(handle, state);
    const others = async () => (await this.options.cgroups.pids(handle)).filter((p) => p !== state.initPid);
    for (const pid of await others()) killQuietly(pid, kill ? 'SIGKILL' : 'SIGTERM');
    const deadline = Date.now() + (kill ? 0 : this.stopTimeoutMs);
    for (let pause = 1; (await others()).length > 0 && Date.now() < deadline; pause = Math.min(pause * 2, 50)) await sleep(pause);
    // KILL until none is left: a process may fork while it is being killed
    for (let left = await others(), pause = 1; left.length > 0; left = await others(), pause = Math.min(pause * 2, 20)) {
      for (const pid of left) killQuietly(pid, 'SIGKILL');
      await sleep(pause);
    }
  }

  async run(handle: string, spec: RunRequest, io: ProcessIO): Promise<Process> {
    const state = await this.loadState(handle);
    if (state.stopped) throw new ContainerStoppedError(handle);
    return this.runtime.aroundExec(handle, (startArgs) => this.start(handle, state, spec, io, startArgs));
  }

  /** start starts one process with arbor-exec; startArgs are the runtime's options for this start. */
  private async start(handle: string, state: InitContainerState, spec: RunRequest, io: ProcessIO, startArgs: readonly string[]): Promise<Process> {
    const dir = this.processDir(handle, spec.id);
    // what the process is goes to arbor-exec as a file, never as arguments: a value could be
    // read as an option, and anyone on the host can read arguments (and env values) with ps
    const processSpec = encodeProcessSpec({
      path: spec.path,
      args: spec.args ?? [],
      containerEnv: state.env,
      env: spec.env ?? [],
      ...(spec.user && { user: spec.user }),
      ...(spec.dir && { dir: spec.dir }),
      ...(spec.rlimits && { rlimits: spec.rlimits }),
      ...(spec.tty && { tty: spec.tty.windowSize ?? { columns: 80, rows: 24 } }),
    });
    // the init's check and the process dir do not depend on each other: side by side
    const made = this.makeProcessDir(handle, spec.id).then(() =>
      writeProcessSpec(dir, processSpec).catch(async (err: unknown) => {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }),
    );
    const [alive] = await Promise.all([initAlive(state), made]);
    if (!alive) {
      await rm(dir, { recursive: true, force: true });
      throw initGone(handle, state);
    }
    // arguments are control options from arbord alone
    const args = ['--init-pid', String(state.initPid), '--dir', dir, ...this.runtime.execArgs(handle), ...startArgs];
    if (state.privileged) args.push('--privileged');
    // id keeps the process id, which the directory name may shorten; arbor-exec does not read it
    const [idWritten, started] = await Promise.allSettled([writeFile(join(dir, 'id'), spec.id), this.options.helpers.run('arbor-exec', args)]);
    if (started.status === 'fulfilled' && idWritten.status === 'rejected') {
      // a process arbord could not name after a restart: end it rather than keep it
      await this.forgetProcess(handle, spec.id);
      throw idWritten.reason;
    }
    try {
      if (started.status === 'rejected') throw started.reason;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      // what arbor-exec said, without its name
      const said = err instanceof HelperError ? err.stderr.trim().replace(/^arbor-exec: /, '') : '';
      if (err instanceof HelperError && err.exitCode === HELPER_EXIT.notFound) {
        const notFound = new ExecutableNotFoundError(spec.path);
        // say why when something is there, like 'Permission denied' for a file without x
        const why = /: ([^:]+)$/.exec(err.stderr.trim())?.[1];
        const message = `${notFound.message}: ${why ?? ''}`;
        if (why !== undefined && why !== 'No such file or directory' && message.length <= MAX_ECHO) notFound.message = message;
        throw notFound;
      }
      if (err instanceof HelperError && err.exitCode === HELPER_EXIT.permission) {
        throw new PermissionDeniedError(`run as ${spec.user || 'root'}: ${said}`);
      }
      if (err instanceof HelperError && err.exitCode === HELPER_EXIT.limit) {
        throw new ResourceExhaustedError('pids', `run: ${said}`);
      }
      if (err instanceof HelperError && err.exitCode === HELPER_EXIT.badUser) {
        // an unmapped id names its range already; an unknown name gets the ways to say a user
        throw new InvalidArgumentError('user', /is not mapped/.test(said) ? said : `${said} (use a name from the container's /etc/passwd or uid:gid)`);
      }
      throw err;
    }
    const channel = await this.channel(handle, spec.id);
    return channel.attach(io, 'run');
  }

  async attach(handle: string, processId: string, io: ProcessIO): Promise<Process> {
    await this.liveState(handle);
    const dir = this.processDir(handle, processId);
    if (!(await exists(join(dir, 'pid')))) throw new ProcessNotFoundError(processId);
    const channel = await this.channel(handle, processId);
    // an attaching caller's end of stdin ends the process's input too, as with run
    return channel.attach(io, 'attach');
  }

  /** channel returns the one ProcessChannel of a process, opening it on first use (also after a restart). */
  private async channel(handle: string, id: string): Promise<ProcessChannel> {
    const key = `${handle}/${id}`;
    const existing = this.channels.get(key);
    if (existing) return existing;
    const channel = await ProcessChannel.open(id, this.processDir(handle, id));
    const again = this.channels.get(key);
    if (again) {
      channel.close();
      return again;
    }
    this.channels.set(key, channel);
    const forget = () => {
      if (this.channels.get(key) === channel) this.channels.delete(key);
    };
    channel.done().then(forget, forget);
    return channel;
  }

  /** makeProcessDir makes a process's dir. @throws ProcessAlreadyExistsError while a process of that id runs */
  private async makeProcessDir(handle: string, id: string): Promise<void> {
    const dir = this.processDir(handle, id);
    try {
      // processes/ is made with the container (older containers may lack it)
      await mkdir(dir, { mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        if (!(await exists(join(dir, 'exit')))) throw new ProcessAlreadyExistsError(id);
        await this.forgetProcess(handle, id);
      } else if (code !== 'ENOENT') {
        throw err;
      }
      await mkdir(dir, { recursive: true, mode: 0o700 });
    }
  }

  private async forgetProcess(handle: string, id: string): Promise<void> {
    const dir = this.processDir(handle, id);
    const supervisor = await readSupervisorPid(dir);
    if (supervisor && (await isSupervisor(supervisor))) killQuietly(supervisor, 'SIGKILL');
    this.channels.get(`${handle}/${id}`)?.close();
    this.channels.delete(`${handle}/${id}`);
    await rm(dir, { recursive: true, force: true });
  }

  async streamIn(handle: string, spec: StreamInSpec): Promise<void> {
    const state = await this.liveState(handle);
    await this.tar.streamIn(this.tarTarget(handle, state, spec.user), spec);
  }

  async streamOut(handle: string, spec: StreamOutSpec): Promise<Readable> {
    const state = await this.liveState(handle);
    return this.tar.streamOut(this.tarTarget(handle, state, spec.user), spec);
  }

  /** tarTarget is how arbor-tar enters the container: its init, user, and this backend's tarControlArgs. */
  private tarTarget(handle: string, state: InitContainerState, user: string | undefined): TarTarget {
    return { handle, args: this.tarArgs(handle, state, user), initAlive: () => initAlive(state) };
  }

  private tarArgs(handle: string, state: InitContainerState, user: string | undefined): string[] {
    const args = ['--init-pid', String(state.initPid), '--busybox', this.options.busybox, ...this.runtime.tarArgs(handle)];
    if (user) args.push('--user', user);
    if (state.privileged) args.push('--privileged');
    return args;
  }

  async info(handle: string): Promise<ContainerizerInfo> {
    const state = await this.liveState(handle);
    const stats = await this.options.cgroups.stats(handle);
    return {
      state: state.stopped ? 'stopped' : 'active',
      events: stats.oomKills > 0 ? [OOM_EVENT] : [],
      processIds: await this.runningProcessIds(handle),
      containerPath: this.dir(handle),
    };
  }

  private async runningProcessIds(handle: string): Promise<string[]> {
    const root = join(this.dir(handle), 'processes');
    const ids = await readdir(root).catch(() => [] as string[]);
    const running: string[] = [];
    for (const id of ids.sort()) {
      if ((await exists(join(root, id, 'pid'))) && !(await exists(join(root, id, 'exit')))) {
        running.push(await readFile(join(root, id, 'id'), 'utf8').catch(() => id));
      }
    }
    return running;
  }

  async limit(handle: string, limits: CgroupLimits): Promise<void> {
    await this.liveState(handle);
    await this.runtime.update(handle, limits);
  }

  async metrics(handle: string): Promise<ContainerizerMetrics> {
    await this.liveState(handle);
    const { memory, cpu, pid } = await this.options.cgroups.stats(handle);
    return { memory, cpu, pid };
  }

  async handles(): Promise<string[]> {
    const depot = join(this.options.stateDir, 'depot');
    const names = new Set(await this.runtime.extraHandles());
    for (const name of await readdir(depot).catch(() => [] as string[])) {
      const text = await readFile(join(depot, name, 'container.json'), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      try {
        names.add((JSON.parse(text) as InitContainerState).handle);
      } catch {
        names.add(name);
      }
    }
    return [...names].sort();
  }

  async capacity(): Promise<{ memoryInBytes: number; maxContainers: number }> {
    const meminfo = await readFile('/proc/meminfo', 'utf8');
    const kb = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0);
    return { memoryInBytes: kb * 1024, maxContainers: this.options.maxContainers ?? Number.MAX_SAFE_INTEGER };
  }

  // ------------------------------------------------------------ state

  /** saveState replaces container.json whole but does not sync it: it describes processes, which a host crash ends anyway (the depot's synced record still names the container). */
  private async saveState(handle: string, state: InitContainerState): Promise<void> {
    await writeFileAtomically(join(this.dir(handle), 'container.json'), `${JSON.stringify(state)}\n`, 0o600, { sync: false });
    this.states.set(handle, state);
  }

  private async loadState(handle: string): Promise<InitContainerState> {
    const cached = this.states.get(handle);
    if (cached) return cached;
    let text: string;
    try {
      text = await readFile(join(this.dir(handle), 'container.json'), 'utf8');
    } catch {
      throw new ContainerNotFoundError(handle);
    }
    const state = JSON.parse(text) as InitContainerState;
    this.states.set(handle, state);
    return state;
  }

  /** liveState is the state of a container whose init still runs. */
  private async liveState(handle: string): Promise<InitContainerState> {
    const state = await this.loadState(handle);
    if (!(await initAlive(state))) throw initGone(handle, state);
    return state;
  }

  private async killSupervisors(handle: string): Promise<void> {
    const root = join(this.dir(handle), 'processes');
    const ids = await readdir(root).catch(() => [] as string[]);
    await Promise.all(
      ids.map(async (id) => {
        const pid = await readSupervisorPid(join(root, id));
        if (pid && (await isSupervisor(pid))) killQuietly(pid, 'SIGKILL');
      }),
    );
  }
}

async function readSupervisorPid(dir: string): Promise<number | undefined> {
  const text = await readSmallFile(join(dir, 'pid')).catch(() => '');
  const pid = Number(text.split(' ')[0]);
  return pid > 0 ? pid : undefined;
}

async function isSupervisor(pid: number): Promise<boolean> {
  const comm = await readSmallFile(`/proc/${pid}/comm`).catch(() => '');
  return comm.trim() === 'arbor-exec';
}

function initGone(handle: string, state: InitContainerState): ArborError {
  return new ArborError('internal', `container ${handle}: its init (pid ${state.initPid}) is gone: destroy it`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
