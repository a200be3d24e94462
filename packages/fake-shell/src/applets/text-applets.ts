import type { ByteSource, Program } from '@arbor/backend-fake';
import { badOption, fsErrorOf, getopt, openRead, usage } from './common';

// Applets that move or transform bytes: dd and tr, with busybox's messages.

const ddSuffixes: Record<string, number> = {
  '': 1,
  c: 1,
  w: 2,
  b: 512,
  kB: 1000,
  k: 1024,
  K: 1024,
  MB: 1000 ** 2,
  M: 1024 ** 2,
  GB: 1000 ** 3,
  G: 1024 ** 3,
};

/** dd [if=F] [of=F] [bs=N] [count=N] [skip=N] [seek=N] [conv=notrunc] [status=none|noxfer] */
export const dd: Program = async (proc) => {
  const ops = new Map<string, string>();
  for (const arg of proc.args) {
    const eq = arg.indexOf('=');
    if (eq < 0) {
      await proc.err(`dd: invalid argument '${arg}'\n`);
      return 1;
    }
    ops.set(arg.slice(0, eq), arg.slice(eq + 1));
  }
  const number = (key: string, fallback: number): number | undefined => {
    const text = ops.get(key);
    if (text === undefined) return fallback;
    const m = /^(\d+)([a-zA-Z]*)$/.exec(text);
    const factor = m ? ddSuffixes[m[2] as string] : undefined;
    return m && factor !== undefined ? Number(m[1]) * factor : undefined;
  };
  const bs = number('bs', 512);
  const count = number('count', Infinity);
  const skip = number('skip', 0);
  if (!bs || count === undefined || skip === undefined) {
    await proc.err(`dd: invalid number\n`);
    return 1;
  }
  const inPath = ops.get('if');
  const outPath = ops.get('of');
  let source: ByteSource;
  try {
    source = inPath === undefined ? { read: () => proc.read(0) } : openRead(proc, inPath);
  } catch (err) {
    await proc.err(`dd: can't open '${inPath}': ${fsErrorOf(err).strerror}\n`);
    return 1;
  }
  let write: (data: Buffer) => Promise<void>;
  if (outPath === undefined) {
    write = (data) => proc.out(data);
  } else {
    try {
      const inode = proc.fs.openForWrite(outPath, {
        cwd: proc.cwd,
        cred: proc.cred,
        mode: 0o644,
        truncate: !(ops.get('conv') ?? '').includes('notrunc'),
      });
      write = async (data) => {
        if (inode.kind === 'file') proc.fs.append(inode, data, outPath);
      };
    } catch (err) {
      await proc.err(`dd: can't open '${outPath}': ${fsErrorOf(err).strerror}\n`);
      return 1;
    }
  }
  const records = { inFull: 0, inPartial: 0, outFull: 0, outPartial: 0 };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let eof = false;
  let status = 0;
  let skipped = 0;
  const readBlock = async (): Promise<Buffer | null> => {
    while (pendingBytes < bs && !eof) {
      const chunk = await proc.task.block(source.read());
      if (chunk === null) eof = true;
      else {
        pending.push(chunk);
        pendingBytes += chunk.length;
      }
    }
    if (pendingBytes === 0) return null;
    const all = Buffer.concat(pending, pendingBytes);
    const block = all.subarray(0, bs);
    pending = all.length > bs ? [all.subarray(bs)] : [];
    pendingBytes = all.length - block.length;
    return block;
  };
  try {
    while (skipped < skip && (await readBlock()) !== null) skipped++;
    while (records.inFull + records.inPartial < count) {
      const block = await readBlock();
      if (block === null) break;
      const full = block.length === bs;
      if (full) records.inFull++;
      else records.inPartial++;
      try {
        await write(block);
      } catch (err) {
        await proc.err(`dd: error writing '${outPath ?? 'standard output'}': ${fsErrorOf(err).strerror}\n`);
        status = 1;
        break;
      }
      if (full) records.outFull++;
      else records.outPartial++;
    }
  } catch (err) {
    await proc.err(`dd: error reading '${inPath ?? 'standard input'}': ${fsErrorOf(err).strerror}\n`);
    status = 1;
  }
  const statusOp = ops.get('status');
  if (statusOp !== 'none') {
    // Debian's busybox prints no third 'bytes copied' line
    await proc.err(`${records.inFull}+${records.inPartial} records in\n${records.outFull}+${records.outPartial} records out\n`);
  }
  return status;
};

/** tr [-d] SET1 [SET2]: translates or deletes bytes; sets know ranges, escapes and [:classes:]. */
export const tr: Program = async (proc) => {
  const opts = getopt(proc.args, 'dsc');
  if ('bad' in opts) return badOption(proc, opts.bad, 'tr [-cds] STRING1 [STRING2]');
  const [set1, set2] = opts.operands;
  const del = opts.flags.has('d');
  if (set1 === undefined || (!del && set2 === undefined)) {
    return usage(
      proc,
      'tr [-cds] STRING1 [STRING2]',
      'Translate, squeeze, or delete characters from stdin, writing to stdout\n\n\t-c\tTake complement of STRING1\n\t-d\tDelete input characters coded STRING1\n\t-s\tSqueeze multiple output characters of STRING2 into one character',
    );
  }
  const from = expandSet(set1);
  const to = set2 === undefined ? [] : expandSet(set2);
  const map = new Int16Array(256).fill(-1);
  const deleted = new Set<number>();
  from.forEach((b, i) => {
    if (del) deleted.add(b);
    else map[b] = to[Math.min(i, to.length - 1)] ?? b;
  });
  for (;;) {
    const chunk = await proc.read(0);
    if (chunk === null) return 0;
    const out: number[] = [];
    for (const b of chunk) {
      if (deleted.has(b)) continue;
      const m = map[b] as number;
      out.push(m >= 0 ? m : b);
    }
    await proc.out(Buffer.from(out));
  }
};

const classes: Record<string, (b: number) => boolean> = {
  alpha: (b) => (b >= 65 && b <= 90) || (b >= 97 && b <= 122),
  digit: (b) => b >= 48 && b <= 57,
  alnum: (b) => classes.alpha?.(b) === true || classes.digit?.(b) === true,
  upper: (b) => b >= 65 && b <= 90,
  lower: (b) => b >= 97 && b <= 122,
  space: (b) => b === 32 || (b >= 9 && b <= 13),
  blank: (b) => b === 32 || b === 9,
  punct: (b) => b > 32 && b < 127 && classes.alnum?.(b) !== true,
};

function expandSet(text: string): number[] {
  const out: number[] = [];
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    const cls = /^\[:([a-z]+):\]/.exec(text.slice(i));
    if (cls && classes[cls[1] as string]) {
      for (let b = 0; b < 256; b++) if ((classes[cls[1] as string] as (b: number) => boolean)(b)) bytes.push(b);
      i += cls[0].length - 1;
      continue;
    }
    if (c === '\\' && i + 1 < text.length) {
      const n = text[++i] as string;
      const oct = /^[0-7]{1,3}/.exec(text.slice(i));
      if (oct) {
        bytes.push(parseInt(oct[0], 8) & 255);
        i += oct[0].length - 1;
      } else bytes.push(({ n: 10, t: 9, r: 13, '\\': 92 } as Record<string, number>)[n] ?? n.charCodeAt(0));
      continue;
    }
    bytes.push(c.charCodeAt(0) & 255);
  }
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (bytes[i + 1] === 45 && bytes[i + 2] !== undefined && i + 2 < bytes.length) {
      const end = bytes[i + 2] as number;
      for (let x = b; x <= end; x++) out.push(x);
      i += 2;
    } else out.push(b);
  }
  return out;
}
