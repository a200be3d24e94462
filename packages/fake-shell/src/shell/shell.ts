import type { ResourceLimits, Signal } from '@arbor/core';
import {
  type ByteSource,
  contentOf,
  deviceSource,
  type Fd,
  type FdTable,
  fileSource,
  findExecutable,
  FsError,
  type Loaded,
  loadProgram,
  nullSource,
  type Proc,
  signalFromText,
  signalNumber,
  type Task,
} from '@arbor/backend-fake';
import { canCatch } from './signals';
import { CaptureSink, Pipe, directorySource, fileSink, nullSink } from './streams';
import { ArithmeticError, evaluateArithmetic } from './arithmetic';
import type { AndOr, Command, List, ParamOp, Pipeline, Redirect, SimpleCommand, Word } from './ast';
import { escapeGlob, expandGlob } from './glob';
import { Parser, ShellSyntaxError, parseHereDocument, parseWordText } from './parser';
import { procWith } from './proc-with';

/** DEFAULT_PATH is ash's search path when PATH is unset. */
const DEFAULT_PATH = '/sbin:/usr/sbin:/bin:/usr/bin';
const IFS_WHITESPACE = /[ \t\n]/;

/** ExitShell unwinds the shell for 'exit N' and fatal shell errors. */
export class ExitShell {
  constructor(readonly status: number) {}
}

class ReturnFromFunction {
  constructor(readonly status: number) {}
}

/** specialBuiltins win over functions of the same name (POSIX). */
const specialBuiltins = new Set([':', '.', 'break', 'continue', 'eval', 'exec', 'exit', 'export', 'readonly', 'return', 'set', 'shift', 'trap', 'unset']);

class LoopControl {
  constructor(
    readonly kind: 'break' | 'continue',
    public levels: number,
  ) {}
}

/** PushbackSource lets 'read' give back the bytes after the line it took. */
class PushbackSource implements ByteSource {
  private pending: Buffer | undefined;
  constructor(private readonly inner: ByteSource) {}
  async read(): Promise<Buffer | null> {
    const p = this.pending;
    if (p) {
      this.pending = undefined;
      return p;
    }
    return this.inner.read();
  }
  unread(data: Buffer): void {
    if (data.length > 0) this.pending = this.pending ? Buffer.concat([data, this.pending]) : data;
  }
}

interface Segment {
  text: string;
  quoted: boolean;
  /** split: the text came from an unquoted expansion and undergoes field splitting. */
  split: boolean;
  /** fieldBreak: a new field starts here ("$@"). */
  fieldBreak?: boolean;
}

type Builtin = (sh: Shell, argv: string[], fds: FdTable, assigns: Array<[string, string]>) => Promise<number>;

export interface ShellOptions {
  arg0: string;
  positional: string[];
  errexit?: boolean;
  xtrace?: boolean;
}

/**
 * Shell interprets the fake sh's language (a POSIX subset, ash-flavoured): lists, && ||,
 * pipelines, subshells, if/while/until/for/case, parameters and $(...), $((...)),
 * redirections, traps. Commands that are not builtins run as their own task, so signals,
 * pid limits and SIGPIPE behave as in a real container.
 */
export class Shell {
  private proc: Proc;
  vars: Map<string, string>;
  exported: Set<string>;
  positional: string[];
  arg0: string;
  status = 0;
  cwd: string;
  fds: FdTable;
  errexit: boolean;
  xtrace: boolean;
  /** traps maps 'EXIT' or a signal name like 'SIGTERM' to its command ('' = ignore). */
  readonly traps = new Map<string, string>();
  private readonly pending: Signal[] = [];
  private readonly background = new Map<number, Task>();
  /** inheritedJobs are the parent's background jobs: ash lets 'jobs | cat' in a subshell see them. */
  private readonly inheritedJobs: Task[] = [];
  private lastBackground: number | undefined;
  private rootPid: number;
  private conditionDepth = 0;
  private loopDepth = 0;
  private lastSubstitutionStatus: number | undefined;
  private interruptWait: (() => void) | undefined;
  private exitTrapDone = false;
  private runningTraps = false;
  /** line is the script line of the command running now, for builtins' error messages. */
  private line = 0;
  /** commandMode: started with -c (shows in $-). */
  commandMode = false;
  readonly readonlyVars = new Set<string>();
  readonly functions = new Map<string, Command>();
  private functionDepth = 0;

  constructor(proc: Proc, options: ShellOptions, parent?: Shell) {
    this.proc = proc;
    this.arg0 = options.arg0;
    this.positional = options.positional;
    this.errexit = options.errexit ?? false;
    this.xtrace = options.xtrace ?? false;
    this.cwd = proc.cwd;
    this.fds = new Map(proc.fds);
    if (parent) {
      this.vars = new Map(parent.vars);
      this.exported = new Set(parent.exported);
      this.rootPid = parent.rootPid;
      this.lastBackground = parent.lastBackground;
      this.inheritedJobs = [...parent.inheritedJobs, ...parent.background.values()];
      this.status = parent.status;
      this.commandMode = parent.commandMode;
      for (const name of parent.readonlyVars) this.readonlyVars.add(name);
      for (const [name, body] of parent.functions) this.functions.set(name, body);
      // a subshell keeps ignored signals; caught ones go back to their default
      for (const [key, command] of parent.traps) if (command === '') this.traps.set(key, '');
    } else {
      this.vars = new Map(proc.env);
      this.exported = new Set(proc.env.keys());
      this.rootPid = proc.task.pid;
      this.setVar('PWD', this.cwd, true);
      this.setVar('SHLVL', String((Number(proc.env.get('SHLVL')) || 0) + 1), true);
      const stdin = this.fds.get(0);
      if (stdin?.source) this.fds.set(0, { ...stdin, source: new PushbackSource(stdin.source) });
    }
    proc.task.onCaught = (sig) => {
      this.pending.push(sig);
      this.interruptWait?.();
    };
  }

  get task(): Task {
    return this.proc.task;
  }

  /** rlimits are the shell's resource limits, which its commands inherit. */
  get rlimits(): ResourceLimits {
    return this.proc.rlimits as ResourceLimits;
  }

  /** jobs are the background commands this shell (or, in a subshell, its parent) started. */
  jobs(): Task[] {
    return [...this.inheritedJobs, ...this.background.values()];
  }

  // ------------------------------------------------------------------ entry points

  /**
   * runScript runs src one complete command at a time, as ash does for sh -c and script
   * files: commands before a syntax error run. The last command is exec'ed in place when
   * no trap is set (so `sh -c 'sleep 9'` is one process, as with busybox).
   */
  async runScript(src: string): Promise<number> {
    return this.finish(async () => {
      const parser = new Parser(src);
      for (;;) {
        let list: List | undefined;
        try {
          list = parser.next();
        } catch (err) {
          if (!(err instanceof ShellSyntaxError)) throw err;
          await this.err(`${this.arg0}: ${err.message}\n`);
          throw new ExitShell(2);
        }
        if (!list) return this.status;
        await this.evalList(list, atEnd(parser));
      }
    });
  }

  /** runInteractive reads commands from stdin as they come, with a prompt on a terminal. */
  async runInteractive(): Promise<number> {
    return this.finish(async () => {
      let buffer = '';
      for (;;) {
        if (this.proc.isTty(0)) await this.err(buffer === '' ? this.prompt() : '> ');
        const line = await this.readLine(this.fds);
        if (line === null) {
          if (buffer !== '') {
            await this.err(`${this.arg0}: syntax error: unexpected end of file\n`);
            return 2;
          }
          return this.status;
        }
        buffer += `${line}\n`;
        const lists: List[] = [];
        try {
          const parser = new Parser(buffer);
          for (let list = parser.next(); list; list = parser.next()) lists.push(list);
        } catch (err) {
          if (!(err instanceof ShellSyntaxError)) throw err;
          if (err.incomplete) continue;
          buffer = '';
          await this.err(`${this.arg0}: ${err.message}\n`);
          this.status = 2;
          if (!this.proc.isTty(0)) throw new ExitShell(2);
          continue;
        }
        buffer = '';
        for (const list of lists) await this.evalList(list, false);
      }
    });
  }

  /** finish runs body, then the EXIT trap; 'exit N' ends it with N. */
  private async finish(body: () => Promise<number>): Promise<number> {
    let status: number;
    try {
      status = await body();
    } catch (err) {
      if (!(err instanceof ExitShell)) throw err;
      status = err.status;
    }
    this.status = status;
    const exitTrap = this.traps.get('EXIT');
    if (exitTrap && !this.exitTrapDone) {
      this.exitTrapDone = true;
      try {
        await this.evalString(exitTrap);
      } catch (err) {
        if (!(err instanceof ExitShell)) throw err;
        status = err.status;
      }
    }
    return status & 255;
  }

  private prompt(): string {
    const home = this.vars.get('HOME');
    const dir = home && home !== '/' && (this.cwd === home || this.cwd.startsWith(`${home}/`)) ? `~${this.cwd.slice(home.length)}` : this.cwd;
    return `${dir} ${this.proc.user.uid === 0 ? '#' : '$'} `;
  }

  // ------------------------------------------------------------------ evaluation

  async evalString(src: string): Promise<number> {
    const parser = new Parser(src);
    let status = 0;
    for (;;) {
      let list: List | undefined;
      try {
        list = parser.next();
      } catch (err) {
        if (!(err instanceof ShellSyntaxError)) throw err;
        await this.err(`${this.arg0}: ${err.message}\n`);
        this.status = 2;
        return 2;
      }
      if (!list) return status;
      status = await this.evalList(list, false);
    }
  }

  private async evalList(list: List, exec: boolean): Promise<number> {
    const last = list.items.length - 1;
    for (const [i, item] of list.items.entries()) {
      if (item.background) {
        await this.startBackground(item.andOr);
        this.status = 0;
      } else {
        await this.evalAndOr(item.andOr, exec && i === last);
        const single = item.andOr.rest.length === 0 && !item.andOr.first.negate;
        if (this.errexit && this.status !== 0 && this.conditionDepth === 0 && single) throw new ExitShell(this.status);
      }
      await this.runPendingTraps();
    }
    return this.status;
  }

  private async evalAndOr(ao: AndOr, exec: boolean): Promise<number> {
    const chained = ao.rest.length > 0;
    if (chained) this.conditionDepth++;
    try {
      await this.evalPipeline(ao.first, exec && !chained);
    } finally {
      if (chained) this.conditionDepth--;
    }
    for (const [i, { op, pipeline }] of ao.rest.entries()) {
      if ((op === '&&') !== (this.status === 0)) continue;
      const isLast = i === ao.rest.length - 1;
      if (!isLast) this.conditionDepth++;
      try {
        await this.evalPipeline(pipeline, exec && isLast);
      } finally {
        if (!isLast) this.conditionDepth--;
      }
    }
    return this.status;
  }

  private async evalPipeline(p: Pipeline, exec: boolean): Promise<number> {
    if (p.negate) this.conditionDepth++;
    let status: number;
    try {
      status = p.commands.length === 1 ? await this.evalCommand(p.commands[0] as Command, exec && !p.negate) : await this.runPipeline(p.commands);
    } finally {
      if (p.negate) this.conditionDepth--;
    }
    this.status = p.negate ? (status === 0 ? 1 : 0) : status;
    return this.status;
  }

  private async evalCommand(cmd: Command, exec: boolean): Promise<number> {
    switch (cmd.type) {
      case 'simple':
        return this.evalSimple(cmd, exec);
      case 'subshell': {
        const fds = await this.openRedirects(cmd.redirs);
        if (typeof fds === 'number') return fds;
        const child = await this.fork(fds);
        return this.runChild(child.task, () => child.shell.finish(() => child.shell.evalList(cmd.body, true)));
      }
      case 'group':
        return this.withRedirects(cmd.redirs, () => this.evalList(cmd.body, false));
      case 'if':
        return this.withRedirects(cmd.redirs, async () => {
          for (const branch of cmd.branches) {
            if ((await this.condition(branch.cond)) === 0) return this.evalList(branch.body, false);
          }
          if (cmd.otherwise) return this.evalList(cmd.otherwise, false);
          return 0;
        });
      case 'loop':
        return this.withRedirects(cmd.redirs, () =>
          this.loop(async (iteration) => {
            const c = await this.condition(cmd.cond);
            if (cmd.until ? c === 0 : c !== 0) return false;
            await iteration(() => this.evalList(cmd.body, false));
            return true;
          }),
        );
      case 'for':
        return this.withRedirects(cmd.redirs, async () => {
          const items = cmd.items ? await this.expandWords(cmd.items) : [...this.positional];
          let index = 0;
          return this.loop(async (iteration) => {
            if (index >= items.length) return false;
            this.setVar(cmd.name, items[index++] as string);
            await iteration(() => this.evalList(cmd.body, false));
            return true;
          });
        });
      case 'function':
        this.functions.set(cmd.name, cmd.body);
        return 0;
      case 'case':
        return this.withRedirects(cmd.redirs, async () => {
          const subject = await this.expandWord(cmd.word);
          for (const item of cmd.items) {
            for (const pattern of item.patterns) {
              if ((await this.patternOf(pattern)).test(subject)) return item.body ? this.evalList(item.body, false) : 0;
            }
          }
          return 0;
        });
    }
  }

  private async condition(list: List): Promise<number> {
    this.conditionDepth++;
    try {
      return await this.evalList(list, false);
    } finally {
      this.conditionDepth--;
    }
  }

  /** loop runs step until it says stop, handling break and continue; it yields between turns. */
  private async loop(step: (iteration: (body: () => Promise<number>) => Promise<void>) => Promise<boolean>): Promise<number> {
    this.loopDepth++;
    let status = 0;
    try {
      for (;;) {
        let stop = false;
        const more = await step(async (body) => {
          try {
            status = await body();
          } catch (err) {
            if (!(err instanceof LoopControl)) throw err;
            if (err.levels > 1) {
              err.levels--;
              throw err;
            }
            if (err.kind === 'break') stop = true;
          }
        });
        if (!more || stop) break;
        // a loop of builtins only must not starve the event loop
        await this.task.block(new Promise((resolve) => setImmediate(resolve)));
      }
    } finally {
      this.loopDepth--;
    }
    this.status = status;
    return status;
  }

  private async evalSimple(cmd: SimpleCommand, exec: boolean): Promise<number> {
    this.lastSubstitutionStatus = undefined;
    this.line = cmd.line;
    const argv = await this.expandWords(cmd.words);
    const assigns: Array<[string, string]> = [];
    for (const a of cmd.assigns) assigns.push([a.name, await this.expandWord(a.value)]);
    if (this.xtrace) {
      const shown = [...assigns.map(([k, v]) => `${k}=${v}`), ...argv].join(' ');
      await this.err(`+ ${shown}\n`);
    }
    const fds = await this.openRedirects(cmd.redirs);
    if (typeof fds === 'number') return fds;
    const name = argv[0];
    if (name === undefined) {
      for (const [k, v] of assigns) this.setVar(k, v);
      return this.lastSubstitutionStatus ?? 0;
    }
    const fn = this.functions.get(name);
    if (fn && !specialBuiltins.has(name)) return this.callFunction(fn, argv, fds);
    const builtin = builtins[name];
    if (builtin) return builtin(this, argv, fds, assigns);
    return this.runExternal(argv, fds, assigns, exec);
  }

  private async callFunction(body: Command, argv: string[], fds: FdTable): Promise<number> {
    const saved = this.positional;
    const savedFds = this.fds;
    this.positional = argv.slice(1);
    this.fds = fds;
    this.functionDepth++;
    try {
      return await this.evalCommand(body, false);
    } catch (err) {
      if (err instanceof ReturnFromFunction) return err.status;
      throw err;
    } finally {
      this.functionDepth--;
      this.positional = saved;
      this.fds = savedFds;
    }
  }

  /** returnFromFunction ends the running function with status; outside one, it is an error. */
  returnFromFunction(status: number): never {
    if (this.functionDepth === 0) throw new ExitShell(status);
    throw new ReturnFromFunction(status);
  }

  /** builtinError prints ash's message for a failing builtin: 'sh: cd: line 0: ...'. */
  async builtinError(name: string, message: string, fds: FdTable = this.fds): Promise<void> {
    await this.err(`${this.arg0}: ${name}: line ${this.line}: ${message}\n`, fds);
  }

  /** runExternal runs a command from the filesystem in a child task (or in place when exec). */
  async runExternal(argv: string[], fds: FdTable, assigns: Array<[string, string]>, exec: boolean): Promise<number> {
    const name = argv[0] as string;
    const env = this.environment(assigns);
    const { fs, programs } = this.proc.kernel;
    const cred = this.proc.cred;
    let loaded: Loaded;
    try {
      const exe = findExecutable(fs, name, env.get('PATH') ?? DEFAULT_PATH, this.cwd, cred);
      try {
        loaded = loadProgram(fs, programs, exe, argv, this.cwd, cred);
      } catch (err) {
        // ash runs a file the kernel cannot exec as a shell script
        if (!(err instanceof FsError) || err.code !== 'ENOEXEC') throw err;
        loaded = { program: programs.program('sh') as Loaded['program'], argv: ['sh', exe.path, ...argv.slice(1)], name: 'sh' };
      }
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      if (err.code === 'ENOENT') {
        await this.err(`${this.arg0}: ${name}: not found\n`, fds);
        return 127;
      }
      await this.err(`${this.arg0}: ${name}: ${err.strerror}\n`, fds);
      return 126;
    }
    const procFor = (task: Task): Proc => procWith(this.proc, { task, name: loaded.name, argv: loaded.argv, env, cwd: this.cwd, fds });
    if (exec && this.traps.size === 0) {
      this.task.onCaught = undefined;
      return loaded.program(procFor(this.task));
    }
    const task = await this.spawn(loaded.name);
    return this.runChild(task, () => loaded.program(procFor(task)));
  }

  private async runPipeline(commands: Command[]): Promise<number> {
    const pipes = commands.slice(1).map(() => new Pipe());
    const tasks: Task[] = [];
    for (const [i, cmd] of commands.entries()) {
      const fds = new Map(this.fds);
      const input = pipes[i - 1];
      const output = pipes[i];
      if (input) fds.set(0, { source: input.source });
      if (output) fds.set(1, { sink: output.sink });
      const child = await this.fork(fds);
      child.task.onEnd(() => {
        output?.closeWriter();
        input?.closeReader();
      });
      void this.runChild(child.task, () => child.shell.finish(() => child.shell.evalCommand(cmd, true)), false);
      tasks.push(child.task);
    }
    for (const t of tasks) this.task.children.add(t);
    try {
      const statuses = await this.task.block(Promise.all(tasks.map((t) => t.exited)));
      return statuses[statuses.length - 1] as number;
    } finally {
      for (const t of tasks) this.task.children.delete(t);
    }
  }

  private async startBackground(ao: AndOr): Promise<void> {
    const fds = new Map(this.fds);
    // without job control, a background command's stdin is /dev/null
    fds.set(0, { source: nullSource });
    const child = await this.fork(fds);
    void this.runChild(child.task, () => child.shell.finish(() => child.shell.evalAndOr(ao, true)), false);
    this.background.set(child.task.pid, child.task);
    this.lastBackground = child.task.pid;
  }

  /** waitFor waits for background tasks; a trapped signal interrupts it with 128+N. */
  async waitFor(pids: number[] | undefined): Promise<number> {
    const tasks = pids === undefined ? [...this.background.values()] : pids.map((p) => this.background.get(p));
    if (tasks.length === 0) return pids === undefined ? 0 : 127;
    let status = 0;
    for (const task of tasks) {
      if (!task) {
        status = 127;
        continue;
      }
      const interrupted = new Promise<'interrupted'>((resolve) => {
        this.interruptWait = () => resolve('interrupted');
        if (this.pending.length > 0) resolve('interrupted');
      });
      const result = await this.task.block(Promise.race([task.exited, interrupted]));
      this.interruptWait = undefined;
      if (result === 'interrupted') {
        const sig = this.pending[0] as Signal;
        return 128 + signalNumber(sig);
      }
      status = result;
      this.background.delete(task.pid);
    }
    return status;
  }

  private async runPendingTraps(): Promise<void> {
    if (this.runningTraps) return;
    this.runningTraps = true;
    try {
      while (this.pending.length > 0) {
        const sig = this.pending.shift() as Signal;
        const command = this.traps.get(sig);
        if (!command) continue;
        const saved = this.status;
        await this.evalString(command);
        this.status = saved;
      }
    } finally {
      this.runningTraps = false;
    }
  }

  private async withRedirects(redirs: Redirect[], body: () => Promise<number>): Promise<number> {
    if (redirs.length === 0) return body();
    const fds = await this.openRedirects(redirs);
    if (typeof fds === 'number') return fds;
    const saved = this.fds;
    this.fds = fds;
    try {
      return await body();
    } finally {
      this.fds = saved;
    }
  }

  // ------------------------------------------------------------------ processes

  private async spawn(name: string): Promise<Task> {
    try {
      const task = this.proc.kernel.spawn(name);
      for (const [key, command] of this.traps) {
        const sig = key === 'EXIT' ? undefined : signalFromText(key);
        if (sig && command === '') task.setDisposition(sig, 'ignore');
      }
      return task;
    } catch (err) {
      if (!(err instanceof FsError) || err.code !== 'EAGAIN') throw err;
      await this.err(`${this.arg0}: can't fork: ${err.strerror}\n`);
      throw new ExitShell(2);
    }
  }

  private async fork(fds: FdTable): Promise<{ task: Task; shell: Shell }> {
    const task = await this.spawn('sh');
    const shell = new Shell(
      procWith(this.proc, { task, fds, cwd: this.cwd, rlimits: { ...this.rlimits } }),
      { arg0: this.arg0, positional: [...this.positional], errexit: this.errexit, xtrace: this.xtrace },
      this,
    );
    return { task, shell };
  }

  /** runChild starts body in task and, for a foreground command, waits for it. */
  private async runChild(task: Task, body: () => Promise<number>, foreground = true): Promise<number> {
    task.start(async () => {
      try {
        return await body();
      } catch (err) {
        if (err instanceof ExitShell) return err.status;
        throw err;
      }
    });
    if (!foreground) return 0;
    this.task.children.add(task);
    try {
      return await this.task.block(task.exited);
    } finally {
      this.task.children.delete(task);
    }
  }

  // ------------------------------------------------------------------ redirections

  private async openRedirects(redirs: Redirect[]): Promise<FdTable | number> {
    if (redirs.length === 0) return this.fds;
    const fds = new Map(this.fds);
    for (const r of redirs) {
      if (r.hereDocument) {
        const doc = r.hereDocument;
        const body = doc.expand ? await this.expandWord(parseHereDocument(doc.body)) : doc.body;
        const chunks = [Buffer.from(body)];
        fds.set(r.fd ?? 0, { source: new PushbackSource({ read: async () => chunks.shift() ?? null }) });
        continue;
      }
      const target = await this.expandWord(r.target);
      const out = r.op !== '<' && r.op !== '<>' && r.op !== '<&';
      const fd = r.fd ?? (out ? 1 : 0);
      if ((r.op === '>&' || r.op === '<&') && /^(\d+|-)$/.test(target)) {
        if (target === '-') {
          fds.delete(fd);
          continue;
        }
        const from = fds.get(Number(target));
        if (!from) {
          await this.err(`${this.arg0}: ${target}: Bad file descriptor\n`);
          return 1;
        }
        fds.set(fd, from);
        continue;
      }
      const opened = out ? await this.openWrite(target, r.op === '>>') : await this.openRead(target);
      if (!opened) return 1;
      if (r.op === '&>' || (r.op === '>&' && r.fd === undefined)) {
        fds.set(1, opened);
        fds.set(2, opened);
      } else {
        fds.set(fd, opened);
      }
    }
    return fds;
  }

  private async openWrite(path: string, append: boolean): Promise<Fd | undefined> {
    try {
      const inode = this.proc.fs.openForWrite(path, { cwd: this.cwd, cred: this.proc.cred, mode: 0o644, append });
      return { sink: inode.kind === 'file' ? fileSink(this.proc.fs, inode, path) : nullSink };
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      const why = err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 'nonexistent directory' : err.strerror;
      await this.err(`${this.arg0}: can't create ${path}: ${why}\n`);
      return undefined;
    }
  }

  private async openRead(path: string): Promise<Fd | undefined> {
    try {
      const found = this.proc.fs.resolve(path, { cwd: this.cwd, cred: this.proc.cred });
      if (!this.proc.fs.canAccess(found.inode, this.proc.cred, 'r')) throw new FsError('EACCES', path);
      const inode = found.inode;
      const source = inode.kind === 'file' ? fileSource(inode) : inode.kind === 'device' ? deviceSource(inode) : directorySource(path);
      return { source: new PushbackSource(source) };
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      const why = err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 'no such file' : err.strerror;
      await this.err(`${this.arg0}: can't open ${path}: ${why}\n`);
      return undefined;
    }
  }

  // ------------------------------------------------------------------ expansion

  /** expandWords expands words into fields: parameters, $(...), $((...)), then field splitting. */
  async expandWords(words: Word[]): Promise<string[]> {
    const fields: string[] = [];
    for (const word of words) {
      for (const field of splitFields(await this.segments(word))) {
        const matches = field.pattern === undefined ? [] : expandGlob(this.proc.fs, this.cwd, this.proc.cred, field.pattern);
        if (matches.length > 0) fields.push(...matches);
        else fields.push(field.text);
      }
    }
    return fields;
  }

  /** expandWord expands one word without field splitting (assignments, redirections, case). */
  async expandWord(word: Word): Promise<string> {
    return (await this.segments(word)).map((s) => (s.fieldBreak ? ' ' : '') + s.text).join('');
  }

  private async segments(word: Word): Promise<Segment[]> {
    const segments: Segment[] = [];
    for (const [i, part] of word.entries()) {
      switch (part.kind) {
        case 'lit': {
          let text = part.text;
          if (i === 0 && !part.quoted && /^~(\/|$)/.test(text)) text = (this.vars.get('HOME') ?? '') + text.slice(1);
          segments.push({ text, quoted: part.quoted, split: false });
          break;
        }
        case 'param': {
          const value = await this.parameter(part.name, part.op, part.quoted);
          if (Array.isArray(value)) {
            value.forEach((v, j) => segments.push({ text: v, quoted: true, split: false, fieldBreak: j > 0 }));
          } else {
            segments.push({ text: value, quoted: part.quoted, split: !part.quoted });
          }
          break;
        }
        case 'cmdsub': {
          const text = await this.substitute(part.script);
          segments.push({ text, quoted: part.quoted, split: !part.quoted });
          break;
        }
        case 'arith': {
          let value: number;
          try {
            const expr = await this.expandWord([{ kind: 'lit', text: '', quoted: true }, ...parseArithWords(part.expr)]);
            value = evaluateArithmetic(expr, (name) => this.lookup(name));
          } catch (err) {
            if (!(err instanceof ArithmeticError)) throw err;
            await this.err(`${this.arg0}: ${err.message}\n`);
            throw new ExitShell(2);
          }
          segments.push({ text: String(value), quoted: part.quoted, split: !part.quoted });
          break;
        }
      }
    }
    return segments;
  }

  private async parameter(name: string, op: ParamOp | undefined, quoted: boolean): Promise<string | string[]> {
    const raw = this.lookup(name);
    if (op) {
      if (op.type === '#') return String((raw ?? '').length);
      const unset = raw === undefined || (op.colon && raw === '');
      switch (op.type) {
        case '-':
          return unset ? this.expandWord(op.word) : (raw as string);
        case '=': {
          if (!unset) return raw as string;
          const value = await this.expandWord(op.word);
          this.setVar(name, value);
          return value;
        }
        case '+':
          return unset ? '' : this.expandWord(op.word);
        case '?': {
          if (!unset) return raw as string;
          const message = op.word.length > 0 ? await this.expandWord(op.word) : raw === undefined ? 'parameter not set' : 'parameter null';
          await this.err(`${this.arg0}: ${name}: ${message}\n`);
          throw new ExitShell(2);
        }
      }
    }
    if (name === '@' && quoted) return [...this.positional];
    return raw ?? '';
  }

  /** lookup returns a variable or special parameter, or undefined when unset. */
  lookup(name: string): string | undefined {
    switch (name) {
      case '?':
        return String(this.status);
      case '$':
        return String(this.rootPid);
      case '#':
        return String(this.positional.length);
      case '0':
        return this.arg0;
      case '!':
        return this.lastBackground === undefined ? '' : String(this.lastBackground);
      case '-':
        return `${this.errexit ? 'e' : ''}${this.xtrace ? 'x' : ''}${this.commandMode ? 'c' : ''}`;
      case '@':
      case '*':
        return this.positional.join(' ');
    }
    if (/^\d+$/.test(name)) return this.positional[Number(name) - 1];
    return this.vars.get(name);
  }

  private async substitute(script: string): Promise<string> {
    const capture = new CaptureSink();
    const fds = new Map(this.fds);
    fds.set(1, { sink: capture });
    const child = await this.fork(fds);
    const status = await this.runChild(child.task, () => child.shell.runScript(script));
    this.lastSubstitutionStatus = status;
    this.status = status;
    return capture.text().replace(/\n+$/, '');
  }

  /** patternOf turns a case pattern into a RegExp; quoted parts match literally. */
  private async patternOf(word: Word): Promise<RegExp> {
    let source = '';
    for (const seg of await this.segments(word)) {
      if (seg.quoted) {
        source += escapeRegExp(seg.text);
        continue;
      }
      for (let i = 0; i < seg.text.length; i++) {
        const c = seg.text[i] as string;
        if (c === '*') source += '[\\s\\S]*';
        else if (c === '?') source += '[\\s\\S]';
        else if (c === '[') {
          const end = seg.text.indexOf(']', i + 2);
          if (end < 0) source += '\\[';
          else {
            let set = seg.text.slice(i + 1, end);
            if (set.startsWith('!')) set = `^${set.slice(1)}`;
            source += `[${set.replace(/\\/g, '\\\\')}]`;
            i = end;
          }
        } else source += escapeRegExp(c);
      }
    }
    return new RegExp(`^${source}$`);
  }

  // ------------------------------------------------------------------ variables and io

  setVar(name: string, value: string, exportIt = false): void {
    if (this.readonlyVars.has(name)) {
      void this.err(`${this.arg0}: ${name}: is read only\n`);
      throw new ExitShell(2);
    }
    this.vars.set(name, value);
    if (exportIt) this.exported.add(name);
  }

  /** environment is what a command gets: the exported variables, then its own assignments. */
  environment(assigns: Array<[string, string]>): Map<string, string> {
    const env = new Map<string, string>();
    for (const [k, v] of this.vars) if (this.exported.has(k)) env.set(k, v);
    for (const [k, v] of assigns) env.set(k, v);
    return env;
  }

  /** procFor is this shell as a process, for builtins that share code with applets. */
  procFor(argv: string[], fds: FdTable): Proc {
    return procWith(this.proc, { name: 'sh', argv, fds, cwd: this.cwd, env: this.environment([]) });
  }

  async err(text: string, fds: FdTable = this.fds): Promise<void> {
    await procWith(this.proc, { fds }).err(text);
  }

  /** readLine reads one line from fd 0, leaving the rest for the next reader. */
  async readLine(fds: FdTable): Promise<string | null> {
    const source = fds.get(0)?.source;
    if (!source) return null;
    const chunks: Buffer[] = [];
    for (;;) {
      const chunk = await this.task.block(source.read());
      if (chunk === null) return chunks.length > 0 ? Buffer.concat(chunks).toString('utf8') : null;
      const nl = chunk.indexOf(0x0a);
      if (nl >= 0) {
        chunks.push(chunk.subarray(0, nl));
        if (source instanceof PushbackSource) source.unread(chunk.subarray(nl + 1));
        return Buffer.concat(chunks).toString('utf8');
      }
      chunks.push(chunk);
    }
  }

  /** trap sets what a signal (or EXIT) does: '' ignores, '-' restores the default. */
  setTrap(key: string, command: string | undefined): void {
    const sig = key === 'EXIT' ? undefined : (key as Signal);
    if (command === undefined) {
      this.traps.delete(key);
      if (sig) this.task.setDisposition(sig, 'default');
      return;
    }
    this.traps.set(key, command);
    if (sig && canCatch(sig)) this.task.setDisposition(sig, command === '' ? 'ignore' : 'catch');
  }

  loopControl(kind: 'break' | 'continue', levels: number): number {
    if (this.loopDepth === 0) return 0;
    throw new LoopControl(kind, Math.min(levels, this.loopDepth));
  }

  async sourceFile(path: string): Promise<number> {
    try {
      const found = this.proc.fs.resolve(path, { cwd: this.cwd, cred: this.proc.cred });
      if (found.inode.kind !== 'file' || !this.proc.fs.canAccess(found.inode, this.proc.cred, 'r')) throw new FsError('EACCES', path);
      return await this.evalString(contentOf(found.inode).toString('utf8'));
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      await this.err(`${this.arg0}: .: can't open '${path}': ${err.strerror}\n`);
      throw new ExitShell(2);
    }
  }

  setCwd(path: string): void {
    this.setVar('OLDPWD', this.cwd);
    this.cwd = path;
    this.setVar('PWD', path);
  }

  replaceFds(fds: FdTable): void {
    this.fds = fds;
  }
}

/** atEnd says whether nothing but blank lines follow in the parser's input. */
function atEnd(parser: Parser): boolean {
  try {
    return parser.atEnd();
  } catch {
    return false;
  }
}

interface Field {
  text: string;
  /** pattern is the field as a glob (quoted characters escaped) when it holds an active * ? or [. */
  pattern: string | undefined;
}

function splitFields(segments: Segment[]): Field[] {
  const fields: Field[] = [];
  let current = '';
  let pattern = '';
  let globbing = false;
  let has = false;
  const push = (): void => {
    fields.push({ text: current, pattern: globbing ? pattern : undefined });
    current = '';
    pattern = '';
    globbing = false;
    has = false;
  };
  const add = (c: string, active: boolean): void => {
    current += c;
    if (active && (c === '*' || c === '?' || c === '[')) {
      pattern += c;
      globbing = true;
    } else pattern += escapeGlob(c);
    has = true;
  };
  for (const seg of segments) {
    if (seg.fieldBreak && has) push();
    if (!seg.split) {
      for (const c of seg.text) add(c, !seg.quoted);
      if (seg.quoted) has = true;
      continue;
    }
    for (const c of seg.text) {
      if (IFS_WHITESPACE.test(c)) {
        if (has) push();
      } else add(c, true);
    }
  }
  if (has) push();
  return fields;
}

/** parseArithWords lets $((...)) use $var and $(cmd) inside. */
function parseArithWords(expr: string): Word {
  return parseWordText(expr);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const builtins: Record<string, Builtin> = {};
export function registerBuiltins(table: Record<string, Builtin>): void {
  Object.assign(builtins, table);
}
export type { Builtin };
