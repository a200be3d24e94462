import {
  ContainerStoppedError,
  ExecutableNotFoundError,
  InvalidArgumentError,
  PermissionDeniedError,
  ProcessAlreadyExistsError,
  ProcessNotFoundError,
  ResourceExhaustedError,
  processEnvironment,
  quoteInput,
} from '@arbor/core';
import type { ContainerState, Limits, Process, ProcessIO, RunRequest, WindowSize } from '@arbor/core';
import type { FakeBindMounts } from './fake-bind-mounts';
import { FakeFilesystem, ROOT } from './fs/fake-filesystem';
import { FsError } from './fs/fs-error';
import { resolveUser, type User } from './fs/users';
import { findExecutable, loadProgram } from './process/exec';
import { FakeProcess } from './process/fake-process';
import { Proc, type Kernel, type Program } from './process/proc';
import type { ProgramRunner } from './process/program-runner';
import { Task } from './process/task';

const DEFAULT_TTY: WindowSize = { columns: 80, rows: 24 };

/**
 * FakeContainer is one container of the fake backend: its filesystem, its processes
 * (the programs of its ProgramRunner, run as tasks with pids), its state and limits. It is the Kernel
 * its programs see.
 */
export class FakeContainer implements Kernel {
  state: ContainerState = 'active';
  limits: Limits;
  private destroyed = false;
  private nextPid = 2;
  private readonly tasks = new Map<number, Task>();
  private readonly processes = new Map<string, FakeProcess>();

  constructor(
    readonly handle: string,
    readonly hostname: string,
    readonly fs: FakeFilesystem,
    /** env is the container env, 'KEY=VALUE'. */
    readonly env: readonly string[],
    limits: Limits,
    /** binds are the container's bind mounts, in fs (idmap changes nothing: the fake has no user namespaces). */
    readonly binds: FakeBindMounts,
    /** programs are what exec runs in this container. */
    readonly programs: ProgramRunner,
  ) {
    this.limits = structuredClone(limits);
  }

  /** spawn makes a task; at the pid limit it fails as fork does, with EAGAIN. */
  spawn(name: string): Task {
    const max = this.limits.pid?.max ?? 0;
    if (this.destroyed || (max > 0 && this.liveTasks().length >= max)) throw new FsError('EAGAIN', name);
    const task = new Task(this.nextPid++, name);
    this.tasks.set(task.pid, task);
    void task.exited.then(() => this.tasks.delete(task.pid));
    return task;
  }

  task(pid: number): Task | undefined {
    return this.tasks.get(pid);
  }

  liveTasks(): Task[] {
    return [...this.tasks.values()].filter((t) => t.running);
  }

  /** process returns the process with this API id, running or exited. */
  process(processId: string): FakeProcess | undefined {
    return this.processes.get(processId);
  }

  /** runningProcessIds lists the processes (by API id) that have not exited. */
  runningProcessIds(): string[] {
    return [...this.processes.values()].filter((p) => p.running).map((p) => p.id);
  }

  /**
   * run starts spec as a new process.
   * @throws ContainerStoppedError, ProcessAlreadyExistsError, InvalidArgumentError (user),
   *   ExecutableNotFoundError, ResourceExhaustedError('pids') at the pid limit
   */
  run(spec: RunRequest, io: ProcessIO): Process {
    if (this.state === 'stopped') throw new ContainerStoppedError(this.handle);
    if (this.processes.get(spec.id)?.running) throw new ProcessAlreadyExistsError(spec.id);
    const user = resolveUser(this.fs, spec.user ?? '');
    const env = new Map<string, string>();
    for (const entry of processEnvironment(this.env, spec.env ?? [], user)) {
      const eq = entry.indexOf('=');
      env.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
    }
    const cwd = this.workingDirectory(spec.dir ?? user.home, user);
    const cred = { uid: user.uid, gid: user.gid };
    const argv = [spec.path, ...(spec.args ?? [])];
    let program: Program;
    let name: string;
    let finalArgv: string[];
    try {
      const exe = findExecutable(this.fs, spec.path, env.get('PATH') ?? '', cwd, cred);
      const loaded = loadProgram(this.fs, this.programs, exe, argv, cwd, cred);
      ({ program, name } = loaded);
      finalArgv = loaded.argv;
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      const found = new ExecutableNotFoundError(spec.path);
      if (err.code === 'EACCES') found.message = `executable not found: ${spec.path}: permission denied (not an executable file for user ${user.name})`;
      if (err.code === 'ENOEXEC')
        found.message = `executable not found: ${spec.path}: exec format error (the fake backend runs its busybox links and #! scripts only)`;
      throw found;
    }
    let task: Task;
    try {
      task = this.spawn(name);
    } catch (err) {
      if (!(err instanceof FsError) || err.code !== 'EAGAIN') throw err;
      throw new ResourceExhaustedError(
        'pids',
        `run: the container already holds ${this.liveTasks().length} processes, its pid limit (limits.pid.max): fork failed with EAGAIN`,
      );
    }
    const tty = spec.tty ? { ...DEFAULT_TTY, ...spec.tty.windowSize } : undefined;
    const process = new FakeProcess(spec.id, task, tty, io);
    this.processes.set(spec.id, process);
    const handle = process.attach(io, true);
    const proc = new Proc({ kernel: this, task, name, argv: finalArgv, env, cwd, user, fds: process.fds(), tty, rlimits: { ...spec.rlimits } });
    task.start(() => program(proc));
    return handle;
  }

  /** attach connects io to a process, running or exited. @throws ProcessNotFoundError */
  attach(processId: string, io: ProcessIO): Process {
    const process = this.processes.get(processId);
    if (!process) throw new ProcessNotFoundError(processId);
    return process.attach(io);
  }

  /** stop sends TERM to every process and KILL after timeoutMs, or KILL at once. */
  async stop(kill: boolean, timeoutMs: number): Promise<void> {
    this.state = 'stopped';
    if (!kill) {
      for (const task of this.liveTasks()) task.deliver('SIGTERM');
      const deadline = Date.now() + timeoutMs;
      while (this.liveTasks().length > 0 && Date.now() < deadline) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadline - Date.now())));
        await Promise.race([Promise.all(this.liveTasks().map((t) => t.exited)), timeout]);
        clearTimeout(timer);
      }
    }
    for (const task of this.liveTasks()) task.deliver('SIGKILL');
  }

  /** destroy kills every task; the container can run nothing more. */
  destroy(): void {
    this.destroyed = true;
    this.state = 'stopped';
    for (const task of this.liveTasks()) task.deliver('SIGKILL');
  }

  /**
   * workingDirectory returns the canonical dir, made (owned by the user) when missing, as Garden
   * does, once the user may enter it, as the chdir after setuid needs.
   * @throws InvalidArgumentError('dir') for what is not a directory, PermissionDeniedError for one
   *   that cannot be made or entered
   */
  private workingDirectory(dir: string, user: User): string {
    const path = dir.startsWith('/') ? dir : FakeFilesystem.join(user.home, dir);
    const cred = { uid: user.uid, gid: user.gid };
    try {
      this.fs.mkdirp(path, 0o755, { cred: ROOT, owner: cred });
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      if (err.code === 'ENOTDIR') throw new InvalidArgumentError('dir', `'${dir}' is not a directory in the container`);
      throw new PermissionDeniedError(`run: cannot make the working directory '${dir}': ${err.strerror}`);
    }
    const found = this.fs.find(path, { cred });
    if (!found || !this.fs.canAccess(found.inode, cred, 'x')) {
      throw new PermissionDeniedError(`run as ${user.name}: chdir ${quoteInput(dir)}: Permission denied`);
    }
    return found.path;
  }
}
