import { basename as baseOf, FakeFilesystem, FsError, type Proc, type Program } from '@arbor/backend-fake';
import { rename } from './renames';
import { badOption, fsErrorOf, getopt, openRead, usage } from './common';

// Line-oriented applets (grep, sort, tail, cut, seq, tee) and small file tools (basename,
// dirname, cp, mv), with busybox's messages.

/** readAll reads a file (or '-', stdin) to its end. @throws FsError */
async function readAll(proc: Proc, path: string): Promise<Buffer> {
  const source = openRead(proc, path);
  const chunks: Buffer[] = [];
  for (;;) {
    const chunk = await proc.task.block(source.read());
    if (chunk === null) return Buffer.concat(chunks);
    chunks.push(chunk);
  }
}

function linesOf(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** breToRegExp turns a basic regular expression into a JS one (\( \) \{ \} \| \+ \? are the operators). */
function breToRegExp(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) {
      const n = pattern[++i] as string;
      out += '(){}|+?'.includes(n) ? n : `\\${n}`;
    } else out += '(){}|+?'.includes(c) ? `\\${c}` : c;
  }
  return out;
}

/** grep [-qvcinlFE] PATTERN [FILE]...: 0 when a line matched, 1 when none did, 2 on error. */
export const grep: Program = async (proc) => {
  const opts = getopt(proc.args, 'qvcinlFEse:');
  if ('bad' in opts) return badOption(proc, opts.bad, 'grep [-qvcinlFE] PATTERN [FILE]...');
  const f = opts.flags;
  const operands = [...opts.operands];
  const pattern = typeof f.get('e') === 'string' ? (f.get('e') as string) : operands.shift();
  if (pattern === undefined)
    return usage(
      proc,
      'grep [-HhnlLoqvsrRiwFE] [-m N] [-A|B|C N] { PATTERN | -e PATTERN... | -f FILE... } [FILE]...',
      'Search for PATTERN in FILEs (or stdin)',
    );
  let re: RegExp;
  try {
    const source = f.has('F') ? pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : f.has('E') ? pattern : breToRegExp(pattern);
    re = new RegExp(source, f.has('i') ? 'i' : '');
  } catch {
    await proc.err(`grep: bad regex '${pattern}'\n`);
    return 2;
  }
  const files = operands.length > 0 ? operands : ['-'];
  let matched = false;
  let failed = false;
  for (const file of files) {
    let text: string;
    try {
      text = (await readAll(proc, file)).toString('utf8');
    } catch (err) {
      if (!f.has('s')) await proc.err(`grep: ${file}: ${fsErrorOf(err).strerror}\n`);
      failed = true;
      continue;
    }
    const prefix = files.length > 1 ? `${file === '-' ? '(standard input)' : file}:` : '';
    let count = 0;
    const out: string[] = [];
    for (const [i, line] of linesOf(text).entries()) {
      if (re.test(line) === f.has('v')) continue;
      count++;
      out.push(`${prefix}${f.has('n') ? `${i + 1}:` : ''}${line}\n`);
    }
    if (count > 0) matched = true;
    if (f.has('q')) {
      if (matched) return 0;
      continue;
    }
    if (f.has('l')) {
      if (count > 0) await proc.out(`${file === '-' ? '(standard input)' : file}\n`);
    } else if (f.has('c')) await proc.out(`${prefix}${count}\n`);
    else await proc.out(out.join(''));
  }
  return failed && !matched ? 2 : matched ? 0 : 1;
};

/** sort [-rnu] [FILE]... */
export const sort: Program = async (proc) => {
  const opts = getopt(proc.args, 'rnuf');
  if ('bad' in opts) return badOption(proc, opts.bad, 'sort [-nrfu] [FILE]...');
  const lines: string[] = [];
  for (const file of opts.operands.length > 0 ? opts.operands : ['-']) {
    try {
      lines.push(...linesOf((await readAll(proc, file)).toString('utf8')));
    } catch (err) {
      await proc.err(`sort: can't open '${file}': ${fsErrorOf(err).strerror}\n`);
      return 2;
    }
  }
  const f = opts.flags;
  const key = (s: string): string => (f.has('f') ? s.toUpperCase() : s);
  lines.sort((a, b) => {
    if (f.has('n')) {
      const d = (parseFloat(a) || 0) - (parseFloat(b) || 0);
      if (d !== 0) return d;
    }
    return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
  });
  if (f.has('r')) lines.reverse();
  const unique = f.has('u') ? lines.filter((l, i) => i === 0 || l !== lines[i - 1]) : lines;
  await proc.out(unique.map((l) => `${l}\n`).join(''));
  return 0;
};

/** tail [-n N | -c N] [FILE]: the last lines (10) or bytes; -n +N starts at line N. */
export const tail: Program = async (proc) => {
  const opts = getopt(proc.args, 'n:c:qf');
  if ('bad' in opts) return badOption(proc, opts.bad, 'tail [-n N] [-c N] [FILE]...');
  const linesText = String(opts.flags.get('n') ?? '10');
  const bytesText = opts.flags.get('c');
  let status = 0;
  for (const file of opts.operands.length > 0 ? opts.operands : ['-']) {
    let data: Buffer;
    try {
      data = await readAll(proc, file);
    } catch (err) {
      await proc.err(`tail: can't open '${file}': ${fsErrorOf(err).strerror}\n`);
      status = 1;
      continue;
    }
    if (typeof bytesText === 'string') {
      await proc.out(data.subarray(Math.max(0, data.length - Number(bytesText))));
      continue;
    }
    const lines = linesOf(data.toString('utf8'));
    const shown = linesText.startsWith('+') ? lines.slice(Math.max(0, Number(linesText.slice(1)) - 1)) : lines.slice(-Number(linesText) || lines.length);
    await proc.out(shown.map((l) => `${l}\n`).join(''));
  }
  return status;
};

/** cut -d DELIM -f LIST | -c LIST [FILE]... */
export const cut: Program = async (proc) => {
  const opts = getopt(proc.args, 'd:f:c:s');
  if ('bad' in opts) return badOption(proc, opts.bad, 'cut [OPTIONS] [FILE]...');
  const fields = opts.flags.get('f');
  const chars = opts.flags.get('c');
  const list = typeof fields === 'string' ? fields : typeof chars === 'string' ? chars : undefined;
  if (list === undefined) {
    await proc.err('cut: expected a list of bytes, characters, or fields\n');
    return 1;
  }
  const wanted = (n: number): boolean =>
    list.split(',').some((part) => {
      const [a, b] = part.split('-');
      const from = a === '' || a === undefined ? 1 : Number(a);
      const to = b === undefined ? from : b === '' ? Infinity : Number(b);
      return n >= from && n <= to;
    });
  const delim = String(opts.flags.get('d') ?? '\t');
  let out = '';
  for (const file of opts.operands.length > 0 ? opts.operands : ['-']) {
    let text: string;
    try {
      text = (await readAll(proc, file)).toString('utf8');
    } catch (err) {
      await proc.err(`cut: can't open '${file}': ${fsErrorOf(err).strerror}\n`);
      return 1;
    }
    for (const line of linesOf(text)) {
      if (typeof chars === 'string') out += `${[...line].filter((_, i) => wanted(i + 1)).join('')}\n`;
      else if (!line.includes(delim)) out += opts.flags.has('s') ? '' : `${line}\n`;
      else
        out += `${line
          .split(delim)
          .filter((_, i) => wanted(i + 1))
          .join(delim)}\n`;
    }
  }
  await proc.out(out);
  return 0;
};

/** seq [FIRST [INC]] LAST */
export const seq: Program = async (proc) => {
  const nums = proc.args.map(Number);
  if (nums.length === 0 || nums.length > 3 || nums.some((n) => Number.isNaN(n))) {
    const bad = proc.args.find((a) => Number.isNaN(Number(a)));
    if (bad !== undefined) await proc.err(`seq: invalid number '${bad}'\n`);
    else return usage(proc, 'seq [-w] [-s SEP] [FIRST [INC]] LAST', 'Print numbers from FIRST to LAST, in steps of INC.');
    return 1;
  }
  const [first, inc, last] =
    nums.length === 1 ? [1, 1, nums[0] as number] : nums.length === 2 ? [nums[0] as number, 1, nums[1] as number] : (nums as [number, number, number]);
  const lines: string[] = [];
  for (let n = first; inc > 0 ? n <= last : n >= last; n += inc) {
    lines.push(`${n}\n`);
    if (lines.length >= 1024) {
      await proc.out(lines.join(''));
      lines.length = 0;
    }
    if (inc === 0) break;
  }
  await proc.out(lines.join(''));
  return 0;
};

/** tee [-a] [FILE]...: copies stdin to stdout and to each FILE. */
export const tee: Program = async (proc) => {
  const opts = getopt(proc.args, 'ai');
  if ('bad' in opts) return badOption(proc, opts.bad, 'tee [-ai] [FILE]...');
  const files = [];
  let status = 0;
  for (const path of opts.operands) {
    try {
      const inode = proc.fs.openForWrite(path, { cwd: proc.cwd, cred: proc.cred, mode: 0o644, append: opts.flags.has('a') });
      files.push({ inode, path });
    } catch (err) {
      await proc.err(`tee: ${path}: ${fsErrorOf(err).strerror}\n`);
      status = 1;
    }
  }
  for (;;) {
    const chunk = await proc.read(0);
    if (chunk === null) return status;
    for (const { inode, path } of files) {
      try {
        if (inode.kind === 'file') proc.fs.append(inode, chunk, path);
      } catch (err) {
        await proc.err(`tee: ${path}: ${fsErrorOf(err).strerror}\n`);
        status = 1;
      }
    }
    await proc.out(chunk);
  }
};

export const basename: Program = async (proc) => {
  const [path, suffix] = proc.args;
  if (path === undefined) return usage(proc, 'basename FILE [SUFFIX]', 'Strip directory path and SUFFIX from FILE');
  let base = path === '/' ? '/' : baseOf(path);
  if (suffix && base !== suffix && base.endsWith(suffix)) base = base.slice(0, -suffix.length);
  await proc.out(`${base}\n`);
  return 0;
};

export const dirname: Program = async (proc) => {
  const [path] = proc.args;
  if (path === undefined) return usage(proc, 'dirname FILENAME', 'Strip non-directory suffix from FILENAME');
  const trimmed = path.replace(/\/+$/, '');
  const i = trimmed.lastIndexOf('/');
  await proc.out(`${i < 0 ? '.' : i === 0 ? '/' : trimmed.slice(0, i).replace(/\/+$/, '') || '/'}\n`);
  return 0;
};

/** cp [-r] SOURCE... DEST */
export const cp: Program = async (proc) => {
  const opts = getopt(proc.args, 'rRapf');
  if ('bad' in opts) return badOption(proc, opts.bad, 'cp [-rpf] SOURCE... DEST');
  const operands = opts.operands;
  const dest = operands.pop();
  if (dest === undefined || operands.length === 0) {
    await proc.err('cp: missing operand\n');
    return 1;
  }
  const where = { cwd: proc.cwd, cred: proc.cred };
  const destDir = proc.fs.tryResolve(dest, where)?.inode.kind === 'dir';
  const recursive = opts.flags.has('r') || opts.flags.has('R') || opts.flags.has('a');
  let status = 0;
  const copy = (from: string, to: string): void => {
    const found = proc.fs.resolve(from, where);
    if (found.inode.kind === 'dir') {
      if (!recursive) throw Object.assign(new Error(`omitting directory '${from}'`), { omit: true });
      if (!proc.fs.tryResolve(to, where)) proc.fs.mkdir(to, found.inode.mode, where);
      for (const name of found.inode.entries.keys()) copy(FakeFilesystem.join(from, name), FakeFilesystem.join(to, name));
      return;
    }
    if (!proc.fs.canAccess(found.inode, proc.cred, 'r')) throw Object.assign(new Error('Permission denied'), { path: from });
    const target = proc.fs.openForWrite(to, { ...where, mode: found.inode.mode });
    if (target.kind === 'file' && found.inode.kind === 'file') {
      for (const chunk of found.inode.chunks) proc.fs.append(target, chunk, to);
    }
  };
  for (const source of operands) {
    try {
      copy(source, destDir ? FakeFilesystem.join(dest, baseOf(source)) : dest);
    } catch (err) {
      if (err instanceof Error && 'omit' in err) await proc.err(`cp: ${err.message}\n`);
      else if (err instanceof Error && !('code' in err)) await proc.err(`cp: can't open '${source}': ${err.message}\n`);
      else await proc.err(`cp: can't stat '${source}': ${fsErrorOf(err).strerror}\n`);
      status = 1;
    }
  }
  return status;
};

/** mv SOURCE... DEST: a new name for the same inode, as rename(2) does. */
export const mv: Program = async (proc) => {
  const opts = getopt(proc.args, 'fin');
  if ('bad' in opts) return badOption(proc, opts.bad, 'mv [-fin] SOURCE... DEST');
  const operands = opts.operands;
  const dest = operands.pop();
  if (dest === undefined || operands.length === 0) {
    await proc.err('mv: missing operand\n');
    return 1;
  }
  const where = { cwd: proc.cwd, cred: proc.cred };
  const destDir = proc.fs.tryResolve(dest, where)?.inode.kind === 'dir';
  let status = 0;
  for (const source of operands) {
    const to = destDir ? FakeFilesystem.join(dest, baseOf(source)) : dest;
    try {
      const from = proc.fs.parentOf(source, where);
      if (!from.existing) throw new FsError('ENOENT', source);
      const target = proc.fs.parentOf(to, where);
      if (target.existing && target.existing !== from.existing) {
        if (target.existing.kind === 'dir') proc.fs.rmdir(to, where);
        else proc.fs.unlink(to, where);
      }
      rename(proc.fs, from, target, proc.cred, to);
    } catch (err) {
      await proc.err(`mv: can't rename '${source}': ${fsErrorOf(err).strerror}\n`);
      status = 1;
    }
  }
  return status;
};
