import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { open, type FileHandle } from 'node:fs/promises';
import { ArborError } from '@arbor/core';
import { parseSave, renderRestore, type IptablesSnapshot, type TableLines } from './iptables-ruleset';

export interface IptablesOptions {
  /** restorePath and savePath are like /usr/sbin/iptables-restore; by default found on PATH. */
  restorePath?: string;
  savePath?: string;
  /**
   * mode 'coprocess' (the default where supported) feeds every change set to one long-lived
   * iptables-restore; 'process-per-change' starts one iptables-restore per change set.
   */
  mode?: 'coprocess' | 'process-per-change';
}

/** run runs a command, feeding it input; it resolves with stdout or rejects with its stderr. */
function run(command: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (cause) => reject(new ArborError('internal', `iptables: cannot run ${command}: ${cause.message}`, { cause })));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out).toString());
      const why = Buffer.concat(err).toString().trim() || `exit ${code ?? signal}`;
      reject(new ArborError('internal', `iptables: ${command} ${args.join(' ')} failed: ${why}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** READ_SYSCALL is read(2)'s number, as /proc/<pid>/syscall shows it, on the architectures that have one we know. */
const READ_SYSCALL: Partial<Record<NodeJS.Architecture, number>> = { x64: 0, arm64: 63 };

/** RESTART_AFTER bounds what one long-lived iptables-restore accumulates. */
const RESTART_AFTER = 1000;
const APPLY_TIMEOUT_MS = 30_000;
const STARTUP_TIMEOUT_MS = 5_000;

/** CoprocessUnsupportedError: this host cannot run the coprocess; change sets go one process each. */
class CoprocessUnsupportedError extends Error {
  constructor(cause: unknown) {
    super('iptables-restore coprocess unsupported here', { cause });
  }
}

/**
 * RestoreCoprocess keeps one `iptables-restore --noflush` running and writes each change set
 * to its stdin; every COMMIT line commits that table at once, as a fresh process would. It
 * prints nothing on success, so completion is read from /proc: starting from the process
 * asleep in read(2) on its stdin, it has read more (io rchar) and sleeps there again. It only
 * sleeps there once the pipe is empty and every line before was handled (a change set is
 * written whole before polling starts), and a failed line makes it exit with the reason on
 * stderr.
 */
class RestoreCoprocess {
  private child: ChildProcessWithoutNullStreams | undefined;
  private exit: Promise<string> | undefined;
  private exited = false;
  private uses = 0;
  private proc: ProcFiles | undefined;

  constructor(private readonly restorePath: string, private readonly readSyscall: number) {}

  async apply(text: string): Promise<void> {
    const fresh = !this.child || this.exited;
    const { child, exit } = this.start();
    const pid = child.pid ?? 0;
    // Idle first (it is, after the previous change set; a new process is after starting up):
    // from here on, the only thing that can raise its rchar is reading this change set.
    // A new process that never looks idle (no /proc/<pid>/syscall, or a libc reading stdin
    // some other way) means this host cannot tell when a change set is done.
    await this.until(exit, () => this.sleepsOnStdin(pid), fresh ? STARTUP_TIMEOUT_MS : APPLY_TIMEOUT_MS).catch(
      async (err: unknown) => {
        if (!fresh || this.exited) throw err;
        await this.stop().catch(() => undefined);
        throw new CoprocessUnsupportedError(err);
      },
    );
    const before = await this.rchar(pid);
    await new Promise<void>((resolve) => child.stdin.write(text, () => resolve()));
    await this.until(exit, async () => (await this.rchar(pid)) > before && (await this.sleepsOnStdin(pid)));
    if (++this.uses >= RESTART_AFTER) await this.stop();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || this.exited) return;
    child.stdin.end();
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exit;
    clearTimeout(killer);
  }

  /** until polls check until it holds; it throws iptables' reason when the process exits, or after a timeout. */
  private async until(exit: Promise<string>, check: () => Promise<boolean>, timeoutMs = APPLY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let polls = 0; ; polls++) {
      if (this.exited) {
        const why = await exit;
        throw new ArborError('internal', `iptables: iptables-restore --noflush failed: ${why}`);
      }
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) {
        this.child?.kill('SIGKILL');
        throw new ArborError('internal', `iptables: iptables-restore did not finish a change set within ${timeoutMs} ms`);
      }
      // The first polls come at once (a commit takes about a millisecond), later ones spaced.
      await new Promise((resolve) => (polls < 50 ? setImmediate(resolve) : setTimeout(resolve, 1)));
    }
  }

  /** procFiles reads the coprocess's /proc files (opened once per process). */
  private procFiles(pid: number): ProcFiles {
    if (this.proc?.pid !== pid) {
      void this.proc?.close();
      this.proc = new ProcFiles(pid);
    }
    return this.proc;
  }

  private async rchar(pid: number): Promise<number> {
    const io = await this.procFiles(pid).read('io');
    const m = /^rchar: (\d+)$/m.exec(io);
    if (!m) throw new Error(`no rchar in /proc/${pid}/io`);
    return Number(m[1]);
  }

  private async sleepsOnStdin(pid: number): Promise<boolean> {
    const syscall = (await this.procFiles(pid).read('syscall')).split(' ');
    return Number(syscall[0]) === this.readSyscall && syscall[1] === '0x0';
  }

  private start(): { child: ChildProcessWithoutNullStreams; exit: Promise<string> } {
    if (this.child && this.exit && !this.exited) return { child: this.child, exit: this.exit };
    const child = spawn(this.restorePath, ['--noflush', '-w'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.stdout.resume();
    child.stdin.on('error', () => undefined);
    this.child = child;
    this.exited = false;
    this.uses = 0;
    this.exit = new Promise<string>((resolve) => {
      child.on('error', (err) => {
        this.exited = true;
        resolve(`cannot run ${this.restorePath}: ${err.message}`);
      });
      child.on('close', (code, signal) => {
        this.exited = true;
        void this.proc?.close();
        this.proc = undefined;
        resolve(stderr.trim() || `exit ${code ?? signal}`);
      });
    });
    return { child, exit: this.exit };
  }
}

/**
 * ProcFiles reads files of /proc/<pid> through handles kept open: a read is one pread at 0
 * (the kernel makes the text anew), where readFile takes five calls. The completion polls
 * read two files back to back, beside other work that needs libuv's four threads.
 */
class ProcFiles {
  private readonly handles = new Map<string, Promise<FileHandle>>();

  constructor(readonly pid: number) {}

  async read(name: 'io' | 'syscall'): Promise<string> {
    let handle = this.handles.get(name);
    if (!handle) {
      handle = open(`/proc/${this.pid}/${name}`, 'r');
      this.handles.set(name, handle);
      handle.catch(() => this.handles.delete(name));
    }
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await (await handle).read(buffer, 0, buffer.length, 0);
    return buffer.toString('utf8', 0, bytesRead);
  }

  async close(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map((h) => h.then((f) => f.close()).catch(() => undefined)));
  }
}

/**
 * Iptables applies change sets through iptables-restore --noflush: each table of a change
 * set commits atomically (all or none). By default one long-lived iptables-restore takes every
 * change set (a process start costs 5-50 ms on a busy host; a commit about 1 ms); change sets
 * run one at a time.
 */
export class Iptables {
  private readonly restorePath: string;
  private readonly savePath: string;
  private coprocess: RestoreCoprocess | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: IptablesOptions = {}) {
    this.restorePath = options.restorePath ?? 'iptables-restore';
    this.savePath = options.savePath ?? 'iptables-save';
    const readSyscall = READ_SYSCALL[process.arch];
    if ((options.mode ?? 'coprocess') === 'coprocess' && readSyscall !== undefined) {
      this.coprocess = new RestoreCoprocess(this.restorePath, readSyscall);
    }
  }

  /** apply commits lines; nothing to commit costs nothing. @throws ArborError internal with iptables' message */
  apply(lines: TableLines): Promise<void> {
    const text = renderRestore(lines);
    if (text === '') return Promise.resolve();
    const once = (): Promise<void> => run(this.restorePath, ['--noflush', '-w'], text).then(() => undefined);
    const next = this.queue.then(async () => {
      if (!this.coprocess) return once();
      try {
        await this.coprocess.apply(text);
      } catch (err) {
        if (!(err instanceof CoprocessUnsupportedError)) throw err;
        // Nothing of this change set was written: it goes through a process of its own, as all later ones.
        this.coprocess = undefined;
        await once();
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** snapshot reads the filter and nat tables. */
  async snapshot(): Promise<IptablesSnapshot> {
    const [filter, nat] = await Promise.all([
      run(this.savePath, ['-t', 'filter'], ''),
      run(this.savePath, ['-t', 'nat'], ''),
    ]);
    return parseSave(`${filter}\n${nat}`);
  }

  /** close ends the long-lived iptables-restore; a later change set starts another. */
  async close(): Promise<void> {
    await this.queue;
    await this.coprocess?.stop();
  }
}
