import type { ResourceLimits, WindowSize } from '@arbor/core';
import type { Credentials, FakeFilesystem } from '../fs/fake-filesystem';
import { FsError } from '../fs/fs-error';
import type { User } from '../fs/users';
import type { ProgramRunner } from './program-runner';
import { CHUNK_BYTES, PipeClosedError, type ByteSink, type ByteSource } from './streams';
import type { Task } from './task';

/** Fd is an open file descriptor: something to read, to write, or both; tty marks the terminal. */
export interface Fd {
  source?: ByteSource;
  sink?: ByteSink;
  tty?: boolean;
}

export type FdTable = Map<number, Fd>;

/** Program is a fake executable: it runs as proc and resolves with its exit code. */
export type Program = (proc: Proc) => Promise<number>;

/** Kernel is what a container offers its programs beyond their own process. */
export interface Kernel {
  readonly fs: FakeFilesystem;
  readonly hostname: string;
  /** programs are what exec runs (see ProgramRunner). */
  readonly programs: ProgramRunner;
  /** spawn makes a task (fork). @throws FsError EAGAIN when the pid limit is reached */
  spawn(name: string): Task;
  task(pid: number): Task | undefined;
}

export interface ProcInit {
  kernel: Kernel;
  task: Task;
  /** name prefixes error messages, like 'cat' ('cat: can't open ...') or 'sh' for builtins. */
  name: string;
  argv: string[];
  env: Map<string, string>;
  cwd: string;
  user: User;
  fds: FdTable;
  /** tty is the terminal's window size when the process has one; setTty changes it in place. */
  tty: WindowSize | undefined;
  /** rlimits are the process's resource limits: recorded (ulimit shows them), not enforced. */
  rlimits?: ResourceLimits;
}

/**
 * Proc is a running program's view of its process: arguments, environment, working
 * directory, user, file descriptors and terminal. Every wait goes through the task, so a
 * fatal signal ends the program at its next read, write or sleep.
 */
export class Proc {
  readonly kernel: Kernel;
  readonly task: Task;
  readonly name: string;
  readonly argv: string[];
  readonly env: Map<string, string>;
  cwd: string;
  readonly user: User;
  readonly fds: FdTable;
  readonly tty: WindowSize | undefined;
  readonly rlimits: ResourceLimits;

  constructor(init: ProcInit) {
    this.kernel = init.kernel;
    this.task = init.task;
    this.name = init.name;
    this.argv = init.argv;
    this.env = init.env;
    this.cwd = init.cwd;
    this.user = init.user;
    this.fds = init.fds;
    this.tty = init.tty;
    this.rlimits = init.rlimits ?? {};
  }

  get fs(): FakeFilesystem {
    return this.kernel.fs;
  }

  get cred(): Credentials {
    return { uid: this.user.uid, gid: this.user.gid };
  }

  /** args are the arguments after argv[0]. */
  get args(): string[] {
    return this.argv.slice(1);
  }

  isTty(fd: number): boolean {
    return this.fds.get(fd)?.tty === true;
  }

  /**
   * write writes all of data to fd, a chunk at a time, waiting for slow readers.
   * @throws FsError EBADF, ENOSPC, EPIPE (after SIGPIPE, which kills the task unless ignored)
   */
  async write(fd: number, data: Buffer | string): Promise<void> {
    const sink = this.fds.get(fd)?.sink;
    if (!sink) throw new FsError('EBADF', String(fd));
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
      try {
        await this.task.block(sink.write(bytes.subarray(offset, offset + CHUNK_BYTES)));
      } catch (err) {
        if (!(err instanceof PipeClosedError)) throw err;
        this.task.deliver('SIGPIPE');
        this.task.checkAlive();
        throw new FsError('EPIPE', String(fd));
      }
    }
  }

  /** read returns the next bytes from fd, or null at end of input. @throws FsError EBADF, EISDIR */
  async read(fd: number): Promise<Buffer | null> {
    const source = this.fds.get(fd)?.source;
    if (!source) throw new FsError('EBADF', String(fd));
    return this.task.block(source.read());
  }

  /** out writes text to stdout. */
  out(text: string | Buffer): Promise<void> {
    return this.write(1, text);
  }

  /** err writes a message to stderr; a failing stderr is ignored, as programs do. */
  async err(text: string): Promise<void> {
    try {
      await this.write(2, text);
    } catch (err) {
      this.task.checkAlive();
      if (!(err instanceof FsError)) throw err;
    }
  }

  /** sleep waits ms milliseconds, or less if a signal ends the task. */
  async sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const cancel = this.task.onEnd(() => clearTimeout(timer));
    try {
      await this.task.block(new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))));
    } finally {
      clearTimeout(timer);
      cancel();
    }
  }
}
