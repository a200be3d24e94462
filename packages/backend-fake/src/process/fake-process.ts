import { InvalidArgumentError, ProcessNotFoundError } from '@arbor/core';
import type { Process, ProcessIO, Signal, TtySpec, WindowSize } from '@arbor/core';
import { OutputHub, type Attachment } from './output-hub';
import type { FdTable } from './proc';
import { signalFromText } from './signals';
import { StdinChannel } from './stdin-channel';
import type { Task } from './task';

/**
 * FakeProcess is a process as the Garden API sees it: an id, the task it runs as, its
 * output fanned out to every attached caller, its stdin, its terminal and, once it has
 * exited, its exit status (kept until the container is destroyed, for late Attach calls).
 */
export class FakeProcess {
  readonly hub: OutputHub;
  readonly stdin: StdinChannel;

  constructor(
    readonly id: string,
    readonly task: Task,
    /** tty is the window size when the process has a terminal; setTty changes it in place. */
    readonly tty: WindowSize | undefined,
    runIo: ProcessIO,
  ) {
    this.hub = new OutputHub(tty !== undefined);
    this.stdin = new StdinChannel(
      runIo.stdin,
      runIo.detach,
      tty && {
        echo: (data) => void this.hub.write('stdout', data),
        interrupt: () => task.deliver('SIGINT'),
      },
    );
    void task.exited.then(() => {
      this.hub.close();
      this.stdin.close();
    });
  }

  get running(): boolean {
    return this.task.running;
  }

  /** fds are the process's stdin, stdout and stderr, for its program. */
  fds(): FdTable {
    const tty = this.tty !== undefined;
    return new Map([
      [0, { source: this.stdin, tty }],
      [1, { sink: { write: (data: Buffer) => this.hub.write('stdout', data) }, tty }],
      [2, { sink: { write: (data: Buffer) => this.hub.write('stderr', data) }, tty }],
    ]);
  }

  /** attach connects io: output from now on, its stdin as more input, and the exit status. */
  attach(io: ProcessIO, isRun = false): Process {
    const attachment = this.running ? this.hub.attach(io) : undefined;
    if (!isRun && io.stdin && this.running) this.stdin.addSource(io.stdin, io.detach);
    return new AttachedProcess(this, attachment);
  }
}

class AttachedProcess implements Process {
  readonly id: string;

  constructor(
    private readonly process: FakeProcess,
    private readonly attachment: Attachment | undefined,
  ) {
    this.id = process.id;
  }

  async wait(): Promise<number> {
    const status = await this.process.task.exited;
    await this.attachment?.flushed();
    return status;
  }

  async setTty(spec: TtySpec): Promise<void> {
    if (!this.process.running) throw new ProcessNotFoundError(this.id);
    const tty = this.process.tty;
    if (!tty || !spec.windowSize) return;
    tty.columns = spec.windowSize.columns;
    tty.rows = spec.windowSize.rows;
    this.process.task.deliver('SIGWINCH');
  }

  async signal(signal: Signal): Promise<void> {
    if (!signalFromText(signal)) {
      throw new InvalidArgumentError('signal', `'${signal}' is not a POSIX signal name like SIGTERM`);
    }
    if (!this.process.running) throw new ProcessNotFoundError(this.id);
    this.process.task.deliver(signalFromText(signal) as Signal);
  }
}
