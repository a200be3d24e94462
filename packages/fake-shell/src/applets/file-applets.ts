import { groupName, type ByteSource, FakeFilesystem, FsError, type Inode, type Proc, type Program, userName } from '@arbor/backend-fake';
import { symlink } from './renames';
import { badOption, fsErrorOf, getopt, openRead, parseSize, writeError } from './common';

// Applets that work on files: messages and exit codes as busybox gives them.

/** pump copies source to stdout; read errors name the applet ('cat: read error: Is a directory'). */
async function pump(proc: Proc, source: ByteSource, limit = Infinity): Promise<'ok' | 'read-error' | 'write-error'> {
  let left = limit;
  while (left > 0) {
    let chunk: Buffer | null;
    try {
      chunk = await proc.task.block(source.read());
    } catch (err) {
      await proc.err(`${proc.name}: read error: ${fsErrorOf(err).strerror}\n`);
      return 'read-error';
    }
    if (chunk === null) return 'ok';
    const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
    left -= part.length;
    try {
      await proc.out(part);
    } catch (err) {
      await writeError(proc, err);
      return 'write-error';
    }
  }
  return 'ok';
}

/** cat [FILE]...: '-' or no FILE is stdin. */
export const cat: Program = async (proc) => {
  const opts = getopt(proc.args, 'u');
  if ('bad' in opts) return badOption(proc, opts.bad, 'cat [-u] [FILE]...');
  const files = opts.operands.length > 0 ? opts.operands : ['-'];
  let status = 0;
  for (const file of files) {
    let source: ByteSource;
    try {
      source = openRead(proc, file);
    } catch (err) {
      await proc.err(`cat: can't open '${file}': ${fsErrorOf(err).strerror}\n`);
      status = 1;
      continue;
    }
    const result = await pump(proc, source);
    if (result === 'write-error') return 1;
    if (result === 'read-error') status = 1;
  }
  return status;
};

const headSuffixes = { b: 512, k: 1024, m: 1024 * 1024 };

/** head [-n N | -c N] [FILE]...: the first lines (10) or bytes. */
export const head: Program = async (proc) => {
  const opts = getopt(proc.args, 'n:c:qv');
  if ('bad' in opts) return badOption(proc, opts.bad, 'head [OPTIONS] [FILE]...');
  const bytesText = opts.flags.get('c');
  const linesText = opts.flags.get('n');
  const bytes = typeof bytesText === 'string' ? parseSize(bytesText, headSuffixes) : undefined;
  const lines = typeof linesText === 'string' ? parseSize(linesText, headSuffixes) : 10;
  if ((typeof bytesText === 'string' && bytes === undefined) || lines === undefined) {
    await proc.err(`head: invalid number '${String(bytesText ?? linesText)}'\n`);
    return 1;
  }
  const files = opts.operands.length > 0 ? opts.operands : ['-'];
  let status = 0;
  for (const [i, file] of files.entries()) {
    let source: ByteSource;
    try {
      source = openRead(proc, file);
    } catch (err) {
      await proc.err(`head: ${file}: ${fsErrorOf(err).strerror}\n`);
      status = 1;
      continue;
    }
    if (files.length > 1 && !opts.flags.has('q')) await proc.out(`${i > 0 ? '\n' : ''}==> ${file === '-' ? 'standard input' : file} <==\n`);
    const result = bytes !== undefined ? await pump(proc, source, bytes) : await headLines(proc, source, lines);
    if (result === 'write-error') return 1;
    if (result === 'read-error') status = 1;
  }
  return status;
};

async function headLines(proc: Proc, source: ByteSource, lines: number): Promise<'ok' | 'read-error' | 'write-error'> {
  let left = lines;
  return pump(proc, {
    read: async () => {
      if (left <= 0) return null;
      const chunk = await source.read();
      if (chunk === null) return null;
      let end = 0;
      while (left > 0 && end < chunk.length) {
        const nl = chunk.indexOf(0x0a, end);
        if (nl < 0) return chunk;
        end = nl + 1;
        left--;
      }
      return chunk.subarray(0, end);
    },
  });
}

/** wc [-clw] [FILE]...: counts; a single count of stdin is printed without padding. */
export const wc: Program = async (proc) => {
  const opts = getopt(proc.args, 'clwm');
  if ('bad' in opts) return badOption(proc, opts.bad, 'wc [-clw] [FILE]...');
  let kinds = ['l', 'w', 'c'].filter((k) => opts.flags.has(k) || (k === 'c' && opts.flags.has('m')));
  if (kinds.length === 0) kinds = ['l', 'w', 'c'];
  const files = opts.operands.length > 0 ? opts.operands : ['-'];
  let status = 0;
  for (const file of files) {
    const counts = { l: 0, w: 0, c: 0 };
    let inWord = false;
    try {
      const source = openRead(proc, file);
      for (;;) {
        const chunk = await proc.task.block(source.read());
        if (chunk === null) break;
        counts.c += chunk.length;
        for (const b of chunk) {
          if (b === 0x0a) counts.l++;
          const space = b === 0x20 || (b >= 0x09 && b <= 0x0d);
          if (!space && !inWord) counts.w++;
          inWord = !space;
        }
      }
    } catch (err) {
      await proc.err(`wc: ${file}: ${fsErrorOf(err).strerror}\n`);
      status = 1;
      continue;
    }
    const values = kinds.map((k) => counts[k as 'l' | 'w' | 'c']);
    // busybox: '%9u' columns, unpadded when only one count of stdin is asked for
    const line =
      (values.length === 1 ? String(values[0]) : values.map((v) => String(v).padStart(9)).join(' ')) + (opts.operands.length === 0 ? '' : ` ${file}`);
    await proc.out(`${line}\n`);
  }
  return status;
};

/** mkdir [-p] [-m MODE] DIR... */
export const mkdir: Program = async (proc) => {
  const opts = getopt(proc.args, 'pm:');
  if ('bad' in opts) return badOption(proc, opts.bad, 'mkdir [-m MODE] [-p] DIRECTORY...');
  const modeText = opts.flags.get('m');
  const mode = typeof modeText === 'string' ? parseInt(modeText, 8) : 0o755;
  if (Number.isNaN(mode)) {
    await proc.err(`mkdir: invalid mode '${String(modeText)}'\n`);
    return 1;
  }
  if (opts.operands.length === 0) {
    await proc.err('mkdir: missing operand\n');
    return 1;
  }
  let status = 0;
  for (const dir of opts.operands) {
    try {
      if (opts.flags.has('p')) proc.fs.mkdirp(dir, mode, { cwd: proc.cwd, cred: proc.cred });
      else proc.fs.mkdir(dir, mode, { cwd: proc.cwd, cred: proc.cred });
    } catch (err) {
      await proc.err(`mkdir: can't create directory '${dir}': ${fsErrorOf(err).strerror}\n`);
      status = 1;
    }
  }
  return status;
};

/** rmdir DIR... */
export const rmdir: Program = async (proc) => {
  let status = 0;
  for (const dir of proc.args) {
    try {
      proc.fs.rmdir(dir, { cwd: proc.cwd, cred: proc.cred });
    } catch (err) {
      await proc.err(`rmdir: '${dir}': ${fsErrorOf(err).strerror}\n`);
      status = 1;
    }
  }
  return status;
};

/** rm [-rf] FILE... */
export const rm: Program = async (proc) => {
  const opts = getopt(proc.args, 'rRfiv');
  if ('bad' in opts) return badOption(proc, opts.bad, 'rm [-irf] FILE...');
  const force = opts.flags.has('f');
  const recursive = opts.flags.has('r') || opts.flags.has('R');
  let status = 0;
  const remove = (path: string): void => {
    const p = proc.fs.parentOf(path, { cwd: proc.cwd, cred: proc.cred });
    if (p.existing?.kind === 'dir') {
      for (const name of [...p.existing.entries.keys()]) remove(`${path}/${name}`);
      proc.fs.rmdir(path, { cwd: proc.cwd, cred: proc.cred });
    } else {
      proc.fs.unlink(path, { cwd: proc.cwd, cred: proc.cred });
    }
  };
  for (const path of opts.operands) {
    try {
      const found = proc.fs.resolve(path, { cwd: proc.cwd, cred: proc.cred, follow: false });
      if (found.inode.kind === 'dir' && !recursive) {
        await proc.err(`rm: '${path}' is a directory\n`);
        status = 1;
        continue;
      }
      remove(path);
    } catch (err) {
      const e = fsErrorOf(err);
      if (force && e.code === 'ENOENT') continue;
      await proc.err(`rm: can't remove '${path}': ${e.strerror}\n`);
      status = 1;
    }
  }
  return status;
};

/** touch FILE...: makes missing files, sets the mtime of existing ones to now. */
export const touch: Program = async (proc) => {
  const opts = getopt(proc.args, 'c');
  if ('bad' in opts) return badOption(proc, opts.bad, 'touch [-c] FILE...');
  let status = 0;
  for (const path of opts.operands) {
    try {
      const found = proc.fs.tryResolve(path, { cwd: proc.cwd, cred: proc.cred });
      if (found) {
        if (proc.cred.uid !== 0 && proc.cred.uid !== found.inode.uid && !proc.fs.canAccess(found.inode, proc.cred, 'w')) {
          throw new FsError('EACCES', path);
        }
        proc.fs.setMtime(found.inode, Date.now());
      } else if (!opts.flags.has('c')) {
        proc.fs.openForWrite(path, { cwd: proc.cwd, cred: proc.cred, mode: 0o644, append: true });
      }
    } catch (err) {
      await proc.err(`touch: ${path}: ${fsErrorOf(err).strerror}\n`);
      status = 1;
    }
  }
  return status;
};

/** chmod MODE FILE...: octal, or symbolic like u+x, go-w, a=r. */
export const chmod: Program = async (proc) => {
  const [modeText, ...files] = proc.args.filter((a) => a !== '-R');
  if (modeText === undefined || files.length === 0) {
    await proc.err('chmod: missing operand\n');
    return 1;
  }
  let status = 0;
  for (const path of files) {
    try {
      const found = proc.fs.resolve(path, { cwd: proc.cwd, cred: proc.cred });
      const mode = applyMode(found.inode.mode, modeText);
      if (mode === undefined) {
        await proc.err(`chmod: invalid mode '${modeText}'\n`);
        return 1;
      }
      proc.fs.chmod(found.inode, mode, proc.cred, path);
    } catch (err) {
      await proc.err(`chmod: ${path}: ${fsErrorOf(err).strerror}\n`);
      status = 1;
    }
  }
  return status;
};

function applyMode(mode: number, text: string): number | undefined {
  if (/^[0-7]{1,4}$/.test(text)) return parseInt(text, 8);
  let result = mode;
  for (const clause of text.split(',')) {
    const m = /^([ugoa]*)([-+=])([rwxXst]*)$/.exec(clause);
    if (!m) return undefined;
    const who = m[1] === '' || m[1]?.includes('a') ? 'ugo' : (m[1] as string);
    let bits = 0;
    for (const p of m[3] as string) {
      for (const w of who) {
        const shift = w === 'u' ? 6 : w === 'g' ? 3 : 0;
        if (p === 'r') bits |= 4 << shift;
        if (p === 'w') bits |= 2 << shift;
        if (p === 'x' || (p === 'X' && mode & 0o111)) bits |= 1 << shift;
        if (p === 's' && w !== 'o') bits |= w === 'u' ? 0o4000 : 0o2000;
        if (p === 't') bits |= 0o1000;
      }
    }
    if (m[2] === '+') result |= bits;
    else if (m[2] === '-') result &= ~bits;
    else {
      let mask = 0;
      for (const w of who) mask |= 7 << (w === 'u' ? 6 : w === 'g' ? 3 : 0);
      result = (result & ~mask) | bits;
    }
  }
  return result;
}

/** ln [-s] [-f] TARGET LINK_NAME */
export const ln: Program = async (proc) => {
  const opts = getopt(proc.args, 'sfn');
  if ('bad' in opts) return badOption(proc, opts.bad, 'ln [-sf] TARGET LINK');
  const [target, name] = opts.operands;
  if (target === undefined || name === undefined) {
    await proc.err('ln: missing operand\n');
    return 1;
  }
  const where = { cwd: proc.cwd, cred: proc.cred };
  try {
    if (opts.flags.has('f') && proc.fs.tryResolve(name, { ...where, follow: false })) proc.fs.unlink(name, where);
    if (opts.flags.has('s')) symlink(proc.fs, target, name, where);
    else proc.fs.link(proc.fs.resolve(target, where).inode, name, where);
    return 0;
  } catch (err) {
    await proc.err(`ln: ${name}: ${fsErrorOf(err).strerror}\n`);
    return 1;
  }
};

/** ls [-1aAdln] [FILE]...: sorted by name; one per line unless stdout is a terminal. */
export const ls: Program = async (proc) => {
  const opts = getopt(proc.args, '1aAdlnFC');
  if ('bad' in opts) return badOption(proc, opts.bad, 'ls [-1aAdln] [FILE]...');
  const f = opts.flags;
  const long = f.has('l') || f.has('n');
  const where = { cwd: proc.cwd, cred: proc.cred };
  const operands = opts.operands.length > 0 ? opts.operands : ['.'];
  let status = 0;
  const files: Array<{ name: string; inode: Inode }> = [];
  const dirs: Array<{ name: string; inode: Inode; path: string }> = [];
  for (const operand of operands) {
    try {
      const found = proc.fs.resolve(operand, { ...where, follow: !long || operand.endsWith('/') });
      if (found.inode.kind === 'dir' && !f.has('d')) dirs.push({ name: operand, inode: found.inode, path: found.path });
      else files.push({ name: operand, inode: found.inode });
    } catch (err) {
      await proc.err(`ls: ${operand}: ${fsErrorOf(err).strerror}\n`);
      status = 1;
    }
  }
  const blocks: string[] = [];
  const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  if (files.length > 0) blocks.push(await format(proc, files.sort(byName), f, long));
  for (const dir of dirs.sort(byName)) {
    const inode = dir.inode;
    if (inode.kind !== 'dir') continue;
    if (!proc.fs.canAccess(inode, proc.cred, 'r')) {
      await proc.err(`ls: can't open '${dir.name}': Permission denied\n`);
      status = 1;
      continue;
    }
    const entries = [...inode.entries].map(([name, child]) => ({ name, inode: child }));
    if (f.has('a')) {
      const parent = proc.fs.resolve(FakeFilesystem.join(dir.path, '..')).inode;
      entries.push({ name: '.', inode }, { name: '..', inode: parent });
    }
    const shown = entries.filter((e) => f.has('a') || (f.has('A') ? true : !e.name.startsWith('.')));
    let text = await format(proc, shown.sort(byName), f, long);
    if (long) text = `total ${shown.reduce((n, e) => n + blocksOf(e.inode), 0)}\n${text}`;
    if (operands.length > 1) text = `${dir.name}:\n${text}`;
    blocks.push(text);
  }
  try {
    await proc.out(blocks.join('\n'));
  } catch (err) {
    return writeError(proc, err);
  }
  return status;
};

function blocksOf(inode: Inode): number {
  return inode.kind === 'file' ? Math.ceil(inode.size / 4096) * 4 : inode.kind === 'dir' ? 4 : 0;
}

async function format(proc: Proc, entries: Array<{ name: string; inode: Inode }>, flags: Map<string, string | true>, long: boolean): Promise<string> {
  if (entries.length === 0) return '';
  if (long) {
    return entries
      .map(({ name, inode }) => {
        const user = flags.has('n') ? String(inode.uid) : (userName(proc.fs, inode.uid) ?? String(inode.uid));
        const group = flags.has('n') ? String(inode.gid) : (groupName(proc.fs, inode.gid) ?? String(inode.gid));
        const links = inode.kind === 'dir' ? 2 + [...inode.entries.values()].filter((e) => e.kind === 'dir').length : inode.links;
        const size = inode.kind === 'file' ? inode.size : inode.kind === 'dir' ? 4096 : inode.kind === 'symlink' ? inode.target.length : 0;
        const sizeText = inode.kind === 'device' ? `${deviceNumbers[inode.device]}`.padStart(9) : String(size).padStart(9);
        const target = inode.kind === 'symlink' ? ` -> ${inode.target}` : '';
        return `${modeString(inode)} ${String(links).padStart(4)} ${user.padEnd(8)} ${group.padEnd(8)} ${sizeText} ${dateString(inode.mtimeMs)} ${name}${target}\n`;
      })
      .join('');
  }
  const names = entries.map((e) => e.name);
  if (!proc.isTty(1) || flags.has('1')) return names.map((n) => `${n}\n`).join('');
  // columns, filled top to bottom, as busybox does on a terminal
  const width = proc.tty?.columns ?? 80;
  const colWidth = Math.max(...names.map((n) => n.length)) + 2;
  const cols = Math.max(1, Math.floor((width + 2) / colWidth));
  const rows = Math.ceil(names.length / cols);
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const row: string[] = [];
    for (let c = 0; c < cols; c++) {
      const name = names[c * rows + r];
      if (name !== undefined) row.push(name);
    }
    lines.push(row.map((n, i) => (i < row.length - 1 ? n.padEnd(colWidth) : n)).join(''));
  }
  return lines.map((l) => `${l}\n`).join('');
}

const deviceNumbers = { null: '1,   3', zero: '1,   5', urandom: '1,   9' };

/** modeString is like '-rw-r--r--' or 'drwxrwxrwt'. */
export function modeString(inode: Inode): string {
  const type = { file: '-', dir: 'd', symlink: 'l', device: 'c' }[inode.kind];
  const m = inode.mode;
  const triple = (shift: number, special: number, char: string): string => {
    const r = m & (4 << shift) ? 'r' : '-';
    const w = m & (2 << shift) ? 'w' : '-';
    const x = m & (1 << shift);
    const s = m & special;
    const xc = s ? (x ? char : char.toUpperCase()) : x ? 'x' : '-';
    return r + w + xc;
  };
  return type + triple(6, 0o4000, 's') + triple(3, 0o2000, 's') + triple(0, 0o1000, 't');
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** dateString is ls's 'Jan  2 15:04' for recent times and 'Jan  2  2006' for old ones. */
function dateString(ms: number): string {
  const d = new Date(ms);
  const day = String(d.getUTCDate()).padStart(2);
  const recent = Math.abs(Date.now() - ms) < 182 * 24 * 3600 * 1000;
  const tail = recent ? `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}` : ` ${d.getUTCFullYear()}`;
  return `${months[d.getUTCMonth()]} ${day} ${tail}`;
}
