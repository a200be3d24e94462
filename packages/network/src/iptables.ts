import { spawn } from 'node:child_process';
import { open, type FileHandle } from 'node:fs/promises';
import { ArborError } from '@arbor/core';
import { Coprocess, CoprocessExitedError } from '@arbor/host';
import type { CoprocessChild, CoprocessCodec } from '@arbor/host';
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
 * RestoreExchange is the protocol of one `iptables-restore --noflush` kept running by a
 * Coprocess: each change set is written to its stdin, and every COMMIT line commits that
 * table at once, as a fresh process would. It prints nothing on success, so completion is
 * read from /proc: starting from the process asleep in read(2) on its stdin, it has read
 * more (io rchar) and sleeps there again. It only sleeps there once the pipe is empty and
 * every line before was handled (a change set is written whole before polling starts), and
 * a failed line makes it exit with the reason on stderr (the Coprocess's CoprocessExitedError).
 */
class RestoreExchange implements CoprocessCodec<string, void> {
  private proc: ProcFiles | undefined;

  constructor(private readonly readSyscall: number) {}

  encode(text: string): string {
    return text;
  }

  async exchange(child: CoprocessChild, text: string | Buffer): Promise<void> {
    const fresh = child.requestsBefore === 0;
    // Idle first (it is, after the previous change set; a new process is after starting up):
    // from here on, the only thing that can raise its rchar is reading this change set.
    // A new process that never looks idle (no /proc/<pid>/syscall, or a libc reading stdin
    // some other way) means this host cannot tell when a change set is done.
    await this.until(child, () => this.sleepsOnStdin(child.pid), fresh ? STARTUP_TIMEOUT_MS : APPLY_TIMEOUT_MS).catch((err: unknown) => {
      if (!fresh || child.ended) throw err;
      throw new CoprocessUnsupportedError(err);
    });
    const before = await this.rchar(child.pid);
    await child.write(text);
    await this.until(child, async () => (await this.rchar(child.pid)) > before && (await this.sleepsOnStdin(child.pid)));
  }

  /** close lets go of the /proc files of the last process. */
  async close(): Promise<void> {
    await this.proc?.close();
    this.proc = undefined;
  }

  /** until polls check until it holds; after a timeout it kills the process and throws. Once the process ends, the Coprocess has failed the change set already. */
  private async until(child: CoprocessChild, check: () => Promise<boolean>, timeoutMs = APPLY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let polls = 0; ; polls++) {
      if (child.ended) throw new ArborError('internal', 'iptables: iptables-restore ended');
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) {
        child.kill();
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
  private coprocess: Coprocess<string, void> | undefined;
  private exchange: RestoreExchange | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: IptablesOptions = {}) {
    this.restorePath = options.restorePath ?? 'iptables-restore';
    this.savePath = options.savePath ?? 'iptables-save';
    const readSyscall = READ_SYSCALL[process.arch];
    if ((options.mode ?? 'coprocess') === 'coprocess' && readSyscall !== undefined) {
      this.exchange = new RestoreExchange(readSyscall);
      this.coprocess = new Coprocess(this.restorePath, this.exchange, {
        name: 'iptables-restore',
        args: ['--noflush', '-w'],
        describe: () => 'change set',
        retireAfter: RESTART_AFTER,
        closeKillAfterMs: 5000,
      });
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
        await this.coprocess.request(text);
      } catch (err) {
        // a failed line ends iptables-restore with the reason on stderr
        if (err instanceof CoprocessExitedError) throw new ArborError('internal', `iptables: iptables-restore --noflush failed: ${err.reason}`, { cause: err });
        if (!(err instanceof CoprocessUnsupportedError)) throw err;
        // Nothing of this change set was written: it goes through a process of its own, as all later ones.
        const unsupported = this.coprocess;
        this.coprocess = undefined;
        await unsupported.close();
        await once();
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** snapshot reads the filter and nat tables. */
  async snapshot(): Promise<IptablesSnapshot> {
    const [filter, nat] = await Promise.all([run(this.savePath, ['-t', 'filter'], ''), run(this.savePath, ['-t', 'nat'], '')]);
    return parseSave(`${filter}\n${nat}`);
  }

  /** close ends the long-lived iptables-restore; a later change set starts another. */
  async close(): Promise<void> {
    await this.queue;
    await this.coprocess?.close();
    await this.exchange?.close();
  }
}
