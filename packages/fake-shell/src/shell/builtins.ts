import type { ResourceLimits } from '@arbor/core';
import { findExecutable, FsError, type Program, signalFromText } from '@arbor/backend-fake';
import { canCatch } from './signals';
import { ExitShell, type Builtin } from './shell';

// The fake sh's builtins, with ash's messages. echo, printf, test, kill and the like share
// their code with the applets of the same name, but run inside the shell (no new process).

function viaApplet(name: string): Builtin {
  return async (sh, argv, fds) => {
    const program = sh.procFor(argv, fds).kernel.programs.program(name) as Program;
    return program(sh.procFor(argv, fds));
  };
}

const cd: Builtin = async (sh, argv, fds) => {
  let target = argv[1];
  let print = false;
  if (target === undefined) target = sh.vars.get('HOME') ?? '/';
  if (target === '-') {
    target = sh.vars.get('OLDPWD') ?? sh.cwd;
    print = true;
  }
  const proc = sh.procFor(argv, fds);
  try {
    const found = proc.fs.resolve(target, { cwd: sh.cwd, cred: proc.cred });
    if (found.inode.kind !== 'dir') throw new FsError('ENOTDIR', target);
    if (!proc.fs.canAccess(found.inode, proc.cred, 'x')) throw new FsError('EACCES', target);
    sh.setCwd(found.path);
    if (print) await proc.out(`${found.path}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof FsError)) throw err;
    await sh.builtinError('cd', `can't cd to ${target}: ${err.strerror}`, fds);
    return 2;
  }
};

const exit: Builtin = async (sh, argv, fds) => {
  const arg = argv[1];
  if (arg === undefined) throw new ExitShell(sh.status);
  if (!/^\d+$/.test(arg)) {
    await sh.builtinError('exit', `Illegal number: ${arg}`, fds);
    throw new ExitShell(2);
  }
  throw new ExitShell(Number(arg) & 255);
};

const exportBuiltin: Builtin = async (sh, argv, fds) => {
  const names = argv.slice(1).filter((a) => a !== '-p');
  if (names.length === 0) {
    const lines = [...sh.exported]
      .filter((k) => sh.vars.has(k))
      .sort()
      .map((k) => `export ${k}=${quote(sh.vars.get(k) ?? '')}\n`);
    await sh.procFor(argv, fds).out(lines.join(''));
    return 0;
  }
  for (const entry of names) {
    const eq = entry.indexOf('=');
    if (eq >= 0) sh.setVar(entry.slice(0, eq), entry.slice(eq + 1), true);
    else sh.exported.add(entry);
  }
  return 0;
};

const readonly: Builtin = async (sh, argv) => {
  for (const entry of argv.slice(1).filter((a) => a !== '-p')) {
    const eq = entry.indexOf('=');
    const name = eq >= 0 ? entry.slice(0, eq) : entry;
    if (eq >= 0) sh.setVar(name, entry.slice(eq + 1));
    sh.readonlyVars.add(name);
  }
  return 0;
};

const returnBuiltin: Builtin = async (sh, argv) => sh.returnFromFunction(argv[1] === undefined ? sh.status : Number(argv[1]) & 255);

const unset: Builtin = async (sh, argv) => {
  for (const name of argv.slice(1).filter((a) => a !== '-v')) {
    sh.vars.delete(name);
    sh.exported.delete(name);
  }
  return 0;
};

const set: Builtin = async (sh, argv, fds) => {
  const args = argv.slice(1);
  if (args.length === 0) {
    const lines = [...sh.vars].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${quote(v)}\n`);
    await sh.procFor(argv, fds).out(lines.join(''));
    return 0;
  }
  while (args.length > 0) {
    const arg = args[0] as string;
    if (arg === '--') {
      args.shift();
      sh.positional = args;
      return 0;
    }
    if (!/^[-+][a-zA-Z]+$/.test(arg)) break;
    args.shift();
    const on = arg.startsWith('-');
    for (const c of arg.slice(1)) {
      if (c === 'e') sh.errexit = on;
      else if (c === 'x') sh.xtrace = on;
      else if (!'uCfnv'.includes(c)) {
        await sh.builtinError('set', `illegal option -${c}`, fds);
        throw new ExitShell(2);
      }
    }
  }
  if (args.length > 0) sh.positional = args;
  return 0;
};

const shift: Builtin = async (sh, argv, fds) => {
  const n = argv[1] === undefined ? 1 : Number(argv[1]);
  if (!Number.isInteger(n) || n < 0) {
    await sh.builtinError('shift', `Illegal number: ${argv[1]}`, fds);
    throw new ExitShell(2);
  }
  if (n > sh.positional.length) return 1;
  sh.positional = sh.positional.slice(n);
  return 0;
};

/** trap ['CMD' | '' | -] SIGNAL...: runs CMD when the signal comes (after the current command). */
const trap: Builtin = async (sh, argv, fds) => {
  const args = argv.slice(1);
  if (args.length === 0) {
    const lines = [...sh.traps].map(([k, cmd]) => `trap -- ${quote(cmd)} ${k === 'EXIT' ? 'EXIT' : k.slice(3)}\n`);
    await sh.procFor(argv, fds).out(lines.join(''));
    return 0;
  }
  // 'trap SIG...' (first arg a signal number) resets, like 'trap - SIG...'
  const first = args[0] as string;
  let command: string | undefined = /^\d+$/.test(first) ? undefined : args.shift();
  if (command === '-') command = undefined;
  let status = 0;
  for (const spec of args) {
    const key = spec === '0' || spec.toUpperCase() === 'EXIT' ? 'EXIT' : signalFromText(spec);
    if (!key) {
      await sh.builtinError('trap', `${spec}: invalid signal specification`, fds);
      status = 1;
      continue;
    }
    if (key !== 'EXIT' && !canCatch(key)) continue;
    sh.setTrap(key, command);
  }
  return status;
};

const wait: Builtin = async (sh, argv) => {
  const pids = argv.slice(1).map(Number);
  return sh.waitFor(pids.length > 0 ? pids : undefined);
};

/** read [-r] [-p PROMPT] NAME...: one line of stdin, split on blanks; 1 at end of input. */
const read: Builtin = async (sh, argv, fds) => {
  const args = argv.slice(1);
  let raw = false;
  while (args[0]?.startsWith('-')) {
    const flag = args.shift() as string;
    if (flag === '-r') raw = true;
    else if (flag === '-p') await sh.err(args.shift() ?? '', fds);
  }
  const names = args.length > 0 ? args : ['REPLY'];
  const line = await sh.readLine(fds);
  if (line === null) {
    for (const name of names) sh.setVar(name, '');
    return 1;
  }
  const text = raw ? line : line.replace(/\\(.)/g, '$1');
  let rest = text.replace(/^[ \t]+/, '');
  for (const [i, name] of names.entries()) {
    if (i === names.length - 1) {
      sh.setVar(name, rest.replace(/[ \t]+$/, ''));
      break;
    }
    const m = /^(\S*)[ \t]*/.exec(rest) as RegExpExecArray;
    sh.setVar(name, m[1] as string);
    rest = rest.slice(m[0].length);
  }
  return 0;
};

const evalBuiltin: Builtin = async (sh, argv) => sh.evalString(argv.slice(1).join(' '));

const exec: Builtin = async (sh, argv, fds, assigns) => {
  if (argv.length === 1) {
    sh.replaceFds(fds);
    return 0;
  }
  for (const key of [...sh.traps.keys()]) if (sh.traps.get(key) !== '') sh.setTrap(key, undefined);
  const status = await sh.runExternal(argv.slice(1), fds, assigns, true);
  throw new ExitShell(status);
};

const loopControl =
  (kind: 'break' | 'continue'): Builtin =>
  async (sh, argv) =>
    sh.loopControl(kind, Number(argv[1] ?? 1) || 1);

const command: Builtin = async (sh, argv, fds, assigns) => {
  const args = argv.slice(1);
  if (args[0] === '-v' || args[0] === '-V') {
    const name = args[1];
    if (name === undefined) return 0;
    if (name in table) {
      await sh.procFor(argv, fds).out(`${name}\n`);
      return 0;
    }
    try {
      const proc = sh.procFor(argv, fds);
      const exe = findExecutable(proc.fs, name, sh.vars.get('PATH') ?? '', sh.cwd, proc.cred);
      await proc.out(`${exe.path}\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      return 1;
    }
  }
  if (args.length === 0) return 0;
  const builtin = table[args[0] as string];
  return builtin ? builtin(sh, args, fds, assigns) : sh.runExternal(args, fds, assigns, false);
};

const dot: Builtin = async (sh, argv, fds) => {
  const path = argv[1];
  if (path === undefined) {
    await sh.builtinError('.', 'filename argument required', fds);
    return 2;
  }
  return sh.sourceFile(path);
};

const pwd: Builtin = async (sh, argv, fds) => {
  await sh.procFor(argv, fds).out(`${sh.cwd}\n`);
  return 0;
};

const umask: Builtin = async (sh, argv, fds) => {
  if (argv.length === 1) await sh.procFor(argv, fds).out('0022\n');
  return 0;
};

/** jobs [-p]: the background commands still running. */
const jobs: Builtin = async (sh, argv, fds) => {
  const running = sh.jobs().filter((t) => t.running);
  const lines = running.map((t, i) => (argv.includes('-p') ? `${t.pid}\n` : `[${i + 1}]${i === running.length - 1 ? '+' : '-'}  Running\n`));
  await sh.procFor(argv, fds).out(lines.join(''));
  return 0;
};

const ulimitFlags: Record<string, { name: keyof ResourceLimits; scale: number }> = {
  c: { name: 'core', scale: 512 },
  d: { name: 'data', scale: 1024 },
  f: { name: 'fsize', scale: 512 },
  l: { name: 'memlock', scale: 1024 },
  m: { name: 'rss', scale: 1024 },
  n: { name: 'nofile', scale: 1 },
  p: { name: 'nproc', scale: 1 },
  s: { name: 'stack', scale: 1024 },
  t: { name: 'cpu', scale: 1 },
  v: { name: 'as', scale: 1024 },
};

/** ulimit [-HS] [-cdflmnpstv] [N]: shows (or sets, for this shell) the process's rlimits. */
const ulimit: Builtin = async (sh, argv, fds) => {
  let flag = 'f';
  let value: string | undefined;
  for (const arg of argv.slice(1)) {
    if (/^-[HSa-z]+$/.test(arg)) {
      const letter = arg.replace(/[-HS]/g, '');
      if (letter) flag = letter;
    } else value = arg;
  }
  const spec = ulimitFlags[flag];
  if (!spec) {
    await sh.builtinError('ulimit', `-${flag}: invalid option`, fds);
    return 2;
  }
  if (value !== undefined) {
    if (value === 'unlimited') delete sh.rlimits[spec.name];
    else sh.rlimits[spec.name] = Number(value) * spec.scale;
    return 0;
  }
  const current = sh.rlimits[spec.name] ?? (spec.name === 'nofile' ? 1024 : undefined);
  await sh.procFor(argv, fds).out(`${current === undefined ? 'unlimited' : Math.floor(current / spec.scale)}\n`);
  return 0;
};

/** quote is how set, export and trap print a value: in single quotes, as ash does. */
function quote(value: string): string {
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

const table: Record<string, Builtin> = {
  ':': async () => 0,
  '.': dot,
  '[': viaApplet('['),
  break: loopControl('break'),
  cd,
  command,
  continue: loopControl('continue'),
  echo: viaApplet('echo'),
  eval: evalBuiltin,
  exec,
  exit,
  export: exportBuiltin,
  jobs,
  false: viaApplet('false'),
  kill: viaApplet('kill'),
  printf: viaApplet('printf'),
  pwd,
  read,
  readonly,
  return: returnBuiltin,
  set,
  shift,
  test: viaApplet('test'),
  trap,
  true: viaApplet('true'),
  ulimit,
  umask,
  unset,
  wait,
};

export const SHELL_BUILTINS: Readonly<Record<string, Builtin>> = table;
