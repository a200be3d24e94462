import { groupName, findExecutable, FsError, loadProgram, passwdEntries, type Proc, type Program, userName } from '@arbor/backend-fake';
import { badOption, getopt, usage, writeError } from './common';
import { procWith } from '../shell/proc-with';

// Applets that print things: output and exit codes as busybox gives them.

/** echo [-neE] args: -e knows \\ \a \b \c \e \f \n \r \t \v \0NNN \xHH. */
export const echo: Program = async (proc) => {
  const args = proc.args;
  let newline = true;
  let escapes = false;
  while (args.length > 0 && /^-[neE]+$/.test(args[0] as string)) {
    for (const c of (args.shift() as string).slice(1)) {
      if (c === 'n') newline = false;
      else if (c === 'e') escapes = true;
      else escapes = false;
    }
  }
  let text = args.join(' ');
  if (escapes) {
    const { value, stop } = unescape(text);
    text = value;
    if (stop) newline = false;
  }
  try {
    await proc.out(newline ? `${text}\n` : text);
    return 0;
  } catch (err) {
    return writeError(proc, err);
  }
};

/** unescape expands backslash escapes; \c stops all output after it. */
export function unescape(text: string): { value: string; stop: boolean } {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== '\\' || i + 1 >= text.length) {
      out += c;
      continue;
    }
    const n = text[++i] as string;
    const simple: Record<string, string> = { '\\': '\\', a: '\x07', b: '\b', e: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
    if (n in simple) out += simple[n];
    else if (n === 'c') return { value: out, stop: true };
    else if (n === '0') {
      const m = /^[0-7]{0,3}/.exec(text.slice(i + 1))?.[0] ?? '';
      out += String.fromCharCode(parseInt(m || '0', 8) & 255);
      i += m.length;
    } else if (n === 'x' && /^[0-9a-fA-F]/.test(text.slice(i + 1))) {
      const m = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 1))?.[0] ?? '';
      out += String.fromCharCode(parseInt(m, 16));
      i += m.length;
    } else out += `\\${n}`;
  }
  return { value: out, stop: false };
}

/** printf FORMAT [ARG]...: %s %b %c %d %i %u %x %X %o %%, reusing FORMAT while args are left. */
export const printf: Program = async (proc) => {
  const [format, ...args] = proc.args;
  if (format === undefined) {
    if (proc.name === 'sh') {
      await proc.err('sh: usage: printf FORMAT [ARGUMENT...]\n');
      return 2;
    }
    return usage(proc, 'printf FORMAT [ARG]...', 'Format and print ARG(s) according to FORMAT (a-la C printf)');
  }
  let out = '';
  let status = 0;
  let first = true;
  while (first || args.length > 0) {
    first = false;
    let consumed = false;
    const fmt = unescape(format).value;
    for (let i = 0; i < fmt.length; i++) {
      const c = fmt[i] as string;
      if (c !== '%') {
        out += c;
        continue;
      }
      const m = /^([-+ 0#]*)(\d*)(?:\.(\d+))?([sbcdiuxXo%])/.exec(fmt.slice(i + 1));
      if (!m) {
        out += c;
        continue;
      }
      i += m[0].length;
      const [, flagText = '', width = '', precision, conv] = m;
      if (conv === '%') {
        out += '%';
        continue;
      }
      consumed = true;
      const arg = args.shift() ?? '';
      let text: string;
      if (conv === 's') text = precision !== undefined ? arg.slice(0, Number(precision)) : arg;
      else if (conv === 'b') text = unescape(arg).value;
      else if (conv === 'c') text = arg.slice(0, 1);
      else {
        const n = arg === '' ? 0 : Number(arg);
        if (!Number.isFinite(n) || !/^[-+]?\d+$/.test(arg.trim() || '0')) {
          await proc.err(`${proc.name}: invalid number '${arg}'\n`);
          status = 1;
        }
        const v = Number.isFinite(n) ? Math.trunc(n) : 0;
        text = conv === 'x' ? v.toString(16) : conv === 'X' ? v.toString(16).toUpperCase() : conv === 'o' ? v.toString(8) : String(v);
      }
      const w = Number(width || 0);
      if (text.length < w) {
        const zero = flagText.includes('0') && !flagText.includes('-') && conv !== 's';
        text = flagText.includes('-') ? text.padEnd(w) : text.padStart(w, zero ? '0' : ' ');
      }
      out += text;
    }
    if (!consumed) break;
  }
  try {
    await proc.out(out);
  } catch (err) {
    return writeError(proc, err);
  }
  return status;
};

export const trueApplet: Program = async () => 0;
export const falseApplet: Program = async () => 1;

export const pwd: Program = async (proc) => {
  try {
    await proc.out(`${proc.cwd}\n`);
    return 0;
  } catch (err) {
    return writeError(proc, err);
  }
};

export const hostname: Program = async (proc) => {
  await proc.out(`${proc.kernel.hostname}\n`);
  return 0;
};

/** sleep N[smhd]...: the durations add up; fractions are fine. */
export const sleep: Program = async (proc) => {
  if (proc.args.length === 0) {
    return usage(
      proc,
      'sleep [N]...',
      'Pause for a time equal to the total of the args given, where each arg can\nhave an optional suffix of (s)econds, (m)inutes, (h)ours, or (d)ays',
    );
  }
  let seconds = 0;
  for (const arg of proc.args) {
    const m = /^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$/.exec(arg);
    if (!m) {
      await proc.err(`sleep: invalid number '${arg}'\n`);
      return 1;
    }
    const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
    seconds += Number(m[1]) * unit;
  }
  // setTimeout holds at most 2^31-1 ms: longer sleeps wait in steps
  let left = seconds * 1000;
  while (left > 0) {
    const step = Math.min(left, 2 ** 31 - 1);
    await proc.sleep(step);
    left -= step;
  }
  return 0;
};

/** yes [STRING]: prints STRING (default y) forever, as fast as the reader takes it. */
export const yes: Program = async (proc) => {
  const line = `${proc.args.length > 0 ? proc.args.join(' ') : 'y'}\n`;
  const block = Buffer.from(line.repeat(Math.max(1, Math.floor(8192 / line.length))));
  try {
    for (;;) await proc.out(block);
  } catch (err) {
    return writeError(proc, err);
  }
};

export const whoami: Program = async (proc) => {
  const name = userName(proc.fs, proc.user.uid);
  if (name === undefined) {
    await proc.err(`whoami: unknown uid ${proc.user.uid}\n`);
    return 1;
  }
  await proc.out(`${name}\n`);
  return 0;
};

/** id [-u|-g|-G] [-n]: the process's uid and gid with their names from /etc/passwd and /etc/group. */
export const id: Program = async (proc) => {
  const opts = getopt(proc.args, 'ugGnr');
  if ('bad' in opts) return badOption(proc, opts.bad, 'id [-ugGnr] [USER]');
  let { uid, gid } = proc.user;
  let groups = false;
  const who = opts.operands[0];
  if (who !== undefined) {
    const entry = passwdEntries(proc.fs).find((e) => e.name === who || String(e.uid) === who);
    if (!entry) {
      await proc.err(`id: unknown user ${who}\n`);
      return 1;
    }
    ({ uid, gid } = entry);
    // for a named user busybox asks getgrouplist, which always holds the primary group
    groups = true;
  }
  const uname = userName(proc.fs, uid);
  const gname = groupName(proc.fs, gid);
  const named = opts.flags.has('n');
  const show = (n: number, name: string | undefined): string => (named ? (name ?? String(n)) : String(n));
  let line: string;
  if (opts.flags.has('u')) line = show(uid, uname);
  else if (opts.flags.has('g') || opts.flags.has('G')) line = show(gid, gname);
  else {
    const label = (n: number, name: string | undefined): string => (name === undefined ? String(n) : `${n}(${name})`);
    // the process itself has no supplementary groups: runc sets only those /etc/group lists
    line = `uid=${label(uid, uname)} gid=${label(gid, gname)}${groups ? ` groups=${label(gid, gname)}` : ''}`;
  }
  await proc.out(`${line}\n`);
  return 0;
};

/** env [-i] [NAME=VALUE]... [COMMAND [ARG]...]: prints the environment, or runs COMMAND in a changed one. */
export const env: Program = async (proc) => {
  const args = proc.args;
  let vars = new Map(proc.env);
  while (args[0] === '-i' || args[0] === '-' || args[0] === '-u') {
    const flag = args.shift();
    if (flag === '-u') vars.delete(args.shift() ?? '');
    else vars = new Map();
  }
  while (args.length > 0 && /^[^=]+=/.test(args[0] as string)) {
    const entry = args.shift() as string;
    const eq = entry.indexOf('=');
    vars.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  if (args.length === 0) {
    await proc.out([...vars].map(([k, v]) => `${k}=${v}\n`).join(''));
    return 0;
  }
  const name = args[0] as string;
  try {
    // execvp's default search path when PATH is unset
    const exe = findExecutable(proc.fs, name, vars.get('PATH') ?? '/bin:/usr/bin', proc.cwd, proc.cred);
    const loaded = loadProgram(proc.fs, proc.kernel.programs, exe, args, proc.cwd, proc.cred);
    return await loaded.program(procWith(proc, { name: loaded.name, argv: loaded.argv, env: vars }));
  } catch (err) {
    if (!(err instanceof FsError)) throw err;
    await proc.err(`env: can't execute '${name}': ${err.strerror}\n`);
    return err.code === 'ENOENT' ? 127 : 126;
  }
};

/** stty [size|-a]: only the window size is modelled; without a terminal it fails as busybox does. */
export const stty: Program = async (proc: Proc) => {
  if (!proc.isTty(0) || !proc.tty) {
    // tcgetattr fails with ENOTTY, which busybox reports with perror
    await proc.err('stty: standard input: Inappropriate ioctl for device\n');
    return 1;
  }
  const args = proc.args;
  if (args[0] === 'size') {
    await proc.out(`${proc.tty.rows} ${proc.tty.columns}\n`);
    return 0;
  }
  if (args.length === 0 || args[0] === '-a') {
    await proc.out(`speed 38400 baud; rows ${proc.tty.rows}; columns ${proc.tty.columns}; line = 0;\n`);
    return 0;
  }
  // other settings are accepted and have no effect in the fake
  return 0;
};
