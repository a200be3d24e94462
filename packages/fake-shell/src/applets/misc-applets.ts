import { BUSYBOX_APPLETS, type Inode, type Proc, type Program, signalFromText } from '@arbor/backend-fake';
import { procWith } from '../shell/proc-with';

/** kill [-SIG | -s SIG] PID... | kill -l: signals fake processes of the same container. */
export const kill: Program = async (proc) => {
  const args = proc.args;
  if (args[0] === '-l') {
    const names = ['HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM'];
    await proc.out(names.map((n, i) => `${String(i + 1).padStart(2)}) ${n}`).join('\n') + '\n');
    return 0;
  }
  let signalText = 'TERM';
  if (args[0] === '-s') {
    args.shift();
    signalText = args.shift() ?? '';
  } else if (args[0]?.startsWith('-') && args[0] !== '--') {
    signalText = (args.shift() as string).slice(1);
  }
  if (args[0] === '--') args.shift();
  // signal 0 only checks that the process exists
  const sig = signalText === '0' ? 'check' : signalFromText(signalText);
  if (!sig) {
    await proc.err(`${proc.name}: bad signal name '${signalText}'\n`);
    return 1;
  }
  if (args.length === 0) {
    await proc.err(`${proc.name}: usage: kill [-s SIG | -SIG] PID...\n`);
    return 1;
  }
  let status = 0;
  for (const arg of args) {
    const task = /^\d+$/.test(arg) ? proc.kernel.task(Number(arg)) : undefined;
    if (!/^\d+$/.test(arg)) {
      await proc.err(`${proc.name}: invalid number '${arg}'\n`);
      status = 1;
    } else if (!task || !task.running) {
      await proc.err(`${proc.name}: can't kill pid ${arg}: No such process\n`);
      status = 1;
    } else if (sig !== 'check') {
      task.deliver(sig);
    }
  }
  return status;
};

class TestSyntaxError extends Error {}

/** test EXPRESSION and [ EXPRESSION ]: files, strings and integers, with ! -a -o and parentheses. */
export const test: Program = async (proc) => {
  let tokens = proc.args;
  if (proc.name === '[' || proc.argv[0]?.endsWith('[')) {
    if (tokens[tokens.length - 1] !== ']') {
      await proc.err(`${proc.name}: missing ]\n`);
      return 2;
    }
    tokens = tokens.slice(0, -1);
  }
  if (tokens.length === 0) return 1;
  try {
    const parser = new TestParser(proc, tokens);
    const result = parser.parse();
    return result ? 0 : 1;
  } catch (err) {
    if (!(err instanceof TestSyntaxError)) throw err;
    await proc.err(`${proc.name}: ${err.message}\n`);
    return 2;
  }
};

const binaryOps = new Set(['=', '==', '!=', '<', '>', '-eq', '-ne', '-lt', '-le', '-gt', '-ge', '-nt', '-ot', '-ef']);
const unaryOps = new Set(['-e', '-f', '-d', '-L', '-h', '-s', '-r', '-w', '-x', '-c', '-b', '-p', '-S', '-z', '-n', '-t', '-u', '-g', '-k', '-O', '-G']);

class TestParser {
  private i = 0;
  constructor(
    private readonly proc: Proc,
    private readonly tokens: string[],
  ) {}

  parse(): boolean {
    const value = this.or();
    if (this.i < this.tokens.length) throw new TestSyntaxError(`${this.tokens[this.i]}: unknown operand`);
    return value;
  }

  private or(): boolean {
    let value = this.and();
    while (this.peek() === '-o') {
      this.i++;
      value = this.and() || value;
    }
    return value;
  }

  private and(): boolean {
    let value = this.not();
    while (this.peek() === '-a') {
      this.i++;
      value = this.not() && value;
    }
    return value;
  }

  private not(): boolean {
    if (this.peek() === '!' && this.i + 1 < this.tokens.length) {
      this.i++;
      return !this.not();
    }
    return this.primary();
  }

  private primary(): boolean {
    const t = this.next();
    if (t === '(' && this.tokens.length - this.i >= 2) {
      const value = this.or();
      if (this.next() !== ')') throw new TestSyntaxError('missing )');
      return value;
    }
    const op = this.peek();
    if (op !== undefined && binaryOps.has(op) && this.i + 1 < this.tokens.length) {
      this.i++;
      return this.binary(t, op, this.next());
    }
    if (unaryOps.has(t) && this.i < this.tokens.length) return this.unary(t, this.next());
    return t !== '';
  }

  private binary(a: string, op: string, b: string): boolean {
    switch (op) {
      case '=':
      case '==':
        return a === b;
      case '!=':
        return a !== b;
      case '<':
        return a < b;
      case '>':
        return a > b;
      case '-nt':
      case '-ot': {
        const x = this.stat(a);
        const y = this.stat(b);
        if (!x || !y) return op === '-nt' ? Boolean(x) : Boolean(y);
        return op === '-nt' ? x.mtimeMs > y.mtimeMs : x.mtimeMs < y.mtimeMs;
      }
      case '-ef': {
        const x = this.stat(a);
        return x !== undefined && x === this.stat(b);
      }
    }
    const x = this.integer(a);
    const y = this.integer(b);
    return { '-eq': x === y, '-ne': x !== y, '-lt': x < y, '-le': x <= y, '-gt': x > y, '-ge': x >= y }[op] ?? false;
  }

  private unary(op: string, arg: string): boolean {
    if (op === '-z') return arg === '';
    if (op === '-n') return arg !== '';
    if (op === '-t') return this.proc.isTty(this.integer(arg));
    const inode = this.stat(arg, op !== '-L' && op !== '-h');
    if (!inode) return false;
    const cred = this.proc.cred;
    switch (op) {
      case '-e':
        return true;
      case '-f':
        return inode.kind === 'file';
      case '-d':
        return inode.kind === 'dir';
      case '-L':
      case '-h':
        return inode.kind === 'symlink';
      case '-s':
        return inode.kind === 'file' && inode.size > 0;
      case '-c':
        return inode.kind === 'device';
      case '-r':
        return this.proc.fs.canAccess(inode, cred, 'r');
      case '-w':
        return this.proc.fs.canAccess(inode, cred, 'w');
      case '-x':
        return this.proc.fs.canAccess(inode, cred, 'x');
      case '-u':
        return (inode.mode & 0o4000) !== 0;
      case '-g':
        return (inode.mode & 0o2000) !== 0;
      case '-k':
        return (inode.mode & 0o1000) !== 0;
      case '-O':
        return inode.uid === cred.uid;
      case '-G':
        return inode.gid === cred.gid;
      default:
        return false;
    }
  }

  private stat(path: string, follow = true): Inode | undefined {
    try {
      return this.proc.fs.resolve(path, { cwd: this.proc.cwd, cred: this.proc.cred, follow }).inode;
    } catch {
      return undefined;
    }
  }

  private integer(text: string): number {
    if (!/^\s*[-+]?\d+\s*$/.test(text)) throw new TestSyntaxError(`${text}: bad number`);
    return Number(text);
  }

  private peek(): string | undefined {
    return this.tokens[this.i];
  }

  private next(): string {
    const t = this.tokens[this.i++];
    if (t === undefined) throw new TestSyntaxError('argument expected');
    return t;
  }
}

/** busybox [APPLET [ARG]...]: runs APPLET, or lists the applets. */
export const busybox: Program = async (proc) => {
  const [name, ...rest] = proc.args;
  if (name === undefined || name === '--list' || name === '--help') {
    const list = BUSYBOX_APPLETS.filter((n) => n !== 'busybox').sort();
    if (name === '--list') await proc.out(list.map((n) => `${n}\n`).join(''));
    else await proc.out(`BusyBox (arbor fake) multi-call binary.\n\nCurrently defined functions:\n\t${list.join(', ')}\n`);
    return 0;
  }
  const program = BUSYBOX_APPLETS.includes(name) ? proc.kernel.programs.program(name) : undefined;
  if (!program || name === 'busybox') {
    await proc.err(`${name}: applet not found\n`);
    return 127;
  }
  return program(procWith(proc, { name, argv: [name, ...rest] }));
};
