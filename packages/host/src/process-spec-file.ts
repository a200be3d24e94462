import { join } from 'node:path';
import { InvalidArgumentError, validateText } from '@arbor/core';
import { writeFileAtomically } from '@arbor/depot';
import type { ResourceLimits, WindowSize } from '@arbor/core';

/**
 * PROCESS_SPEC_FILE is the file in a process dir (like <stateDir>/depot/<handle>/processes/<id>/
 * process.spec) that tells arbor-exec what to start; arbor-exec removes it once read.
 */
export const PROCESS_SPEC_FILE = 'process.spec';

/**
 * PROCESS_SPEC_LIMITS are what arbor-exec accepts (native/arbor-exec/arbor-exec.c): a value is
 * at most the kernel's limit on one argv or env string less its NUL (MAX_ARG_STRLEN).
 */
export const PROCESS_SPEC_LIMITS = { fileBytes: 4 << 20, valueBytes: 131071, args: 8192, env: 4096 } as const;

/** ProcessSpecData is everything about a process that is data, never a helper option. */
export interface ProcessSpecData {
  path: string;
  args: readonly string[];
  /** containerEnv comes before env; a later entry wins over an earlier one of the same key. */
  containerEnv: readonly string[];
  env: readonly string[];
  /** user is '', a name, 'uid' or 'uid:gid'; arbor-exec checks it in the container. */
  user?: string;
  /** dir is the working dir; arbor-exec refuses one that is not absolute. */
  dir?: string;
  rlimits?: ResourceLimits;
  /** tty: present means a terminal of this size. */
  tty?: WindowSize;
}

const MAGIC = Buffer.from('ARBORPS1', 'latin1');

/**
 * encodeProcessSpec lays out spec as arbor-exec reads it: the magic "ARBORPS1", then one
 * record per value: a tag byte, the value's length as a little-endian u32, its UTF-8 bytes and
 * a NUL. Tags: 'p' the program, then each argument; 'e' an env entry; 'u' the user; 'd' the
 * working dir; 'r' an rlimit NAME=N; 't' a TTY COLSxROWS. It checks only what the format
 * needs (no NUL inside a value, the sizes above); arbor-exec checks the rest itself.
 * @throws InvalidArgumentError naming the field, like 'env[2]'
 */
export function encodeProcessSpec(spec: ProcessSpecData): Buffer {
  const records: [string, string, string][] = [['p', spec.path, 'path']];
  spec.args.forEach((arg, i) => records.push(['p', arg, `args[${i}]`]));
  spec.containerEnv.forEach((entry, i) => records.push(['e', entry, `container env[${i}]`]));
  spec.env.forEach((entry, i) => records.push(['e', entry, `env[${i}]`]));
  if (spec.user) records.push(['u', spec.user, 'user']);
  if (spec.dir) records.push(['d', spec.dir, 'dir']);
  for (const [name, value] of Object.entries(spec.rlimits ?? {})) {
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`rlimits.${name}`, `${value} is not a whole number from 0`);
    records.push(['r', `${name}=${value}`, `rlimits.${name}`]);
  }
  if (spec.tty) {
    const { columns, rows } = spec.tty;
    for (const [n, field] of [
      [columns, 'tty.windowSize.columns'],
      [rows, 'tty.windowSize.rows'],
    ] as const) {
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(field, `${n} is not from 0 to 65535`);
    }
    records.push(['t', `${columns}x${rows}`, 'tty']);
  }
  if (1 + spec.args.length > PROCESS_SPEC_LIMITS.args) throw new InvalidArgumentError('args', `at most ${PROCESS_SPEC_LIMITS.args - 1} arguments`);
  if (spec.containerEnv.length + spec.env.length > PROCESS_SPEC_LIMITS.env)
    throw new InvalidArgumentError('env', `at most ${PROCESS_SPEC_LIMITS.env} entries with the container's`);
  const values = records.map(([tag, value, field]) => {
    validateText(value, field);
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > PROCESS_SPEC_LIMITS.valueBytes)
      throw new InvalidArgumentError(field, `is ${bytes.length} bytes: at most ${PROCESS_SPEC_LIMITS.valueBytes}`);
    return { tag, bytes };
  });
  const size = values.reduce((sum, v) => sum + 6 + v.bytes.length, MAGIC.length);
  if (size > PROCESS_SPEC_LIMITS.fileBytes)
    throw new InvalidArgumentError('process', `args and env take ${size} bytes: at most ${PROCESS_SPEC_LIMITS.fileBytes}`);
  const out = Buffer.alloc(size);
  let at = MAGIC.copy(out, 0);
  for (const { tag, bytes } of values) {
    at = out.writeUInt8(tag.charCodeAt(0), at);
    at = out.writeUInt32LE(bytes.length, at);
    at += bytes.copy(out, at);
    at = out.writeUInt8(0, at);
  }
  return out;
}

/**
 * writeProcessSpec puts an encoded spec into dir as PROCESS_SPEC_FILE, mode 0600 (it may hold
 * secrets in its env), through a temp file and a rename: arbor-exec never reads half of one.
 */
export async function writeProcessSpec(dir: string, encoded: Buffer): Promise<void> {
  await writeFileAtomically(join(dir, PROCESS_SPEC_FILE), encoded, 0o600, { sync: false });
}
