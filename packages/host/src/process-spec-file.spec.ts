import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@arbor/core';
import { PROCESS_SPEC_FILE, PROCESS_SPEC_LIMITS, encodeProcessSpec, writeProcessSpec } from './process-spec-file';
import type { ProcessSpecData } from './process-spec-file';

const base: ProcessSpecData = { path: 'sh', args: [], containerEnv: [], env: [] };

/** record is one record as arbor-exec reads it: tag, u32 LE length, bytes, NUL. */
function record(tag: string, value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const head = Buffer.alloc(5);
  head.write(tag, 0, 'latin1');
  head.writeUInt32LE(bytes.length, 1);
  return Buffer.concat([head, bytes, Buffer.from([0])]);
}

describe('encodeProcessSpec', () => {
  it('lays out the magic, then each value as a tagged, length-prefixed, NUL-ended record in a fixed order', () => {
    const encoded = encodeProcessSpec({
      path: '/bin/sh',
      args: ['-c', 'echo "$A"'],
      containerEnv: ['A=from-image'],
      env: ['A=mine=yes'],
      user: 'vcap',
      dir: '/srv',
      rlimits: { nofile: 100, core: 0 },
      tty: { columns: 120, rows: 40 },
    });
    expect(encoded).toEqual(
      Buffer.concat([
        Buffer.from('ARBORPS1', 'latin1'),
        record('p', '/bin/sh'),
        record('p', '-c'),
        record('p', 'echo "$A"'),
        record('e', 'A=from-image'),
        record('e', 'A=mine=yes'),
        record('u', 'vcap'),
        record('d', '/srv'),
        record('r', 'nofile=100'),
        record('r', 'core=0'),
        record('t', '120x40'),
      ]),
    );
  });

  it('carries option-like and non-ASCII values as plain data, and leaves out what is absent', () => {
    const encoded = encodeProcessSpec({ ...base, args: ['--privileged', 'ü ✓', ''], env: ['X=--cgroup'] });
    expect(encoded).toEqual(
      Buffer.concat([Buffer.from('ARBORPS1'), record('p', 'sh'), record('p', '--privileged'), record('p', 'ü ✓'), record('p', ''), record('e', 'X=--cgroup')]),
    );
  });

  it.each([
    ['path', { path: 'sh\u0000--privileged' }],
    ['args[1]', { args: ['-c', 'x\u0000y'] }],
    ['container env[0]', { containerEnv: ['X=1\u0000--privileged'] }],
    ['env[0]', { env: ['X=1\u0000--privileged'] }],
    ['user', { user: 'root\u0000--privileged' }],
    ['dir', { dir: '/tmp\u0000--privileged' }],
  ])('refuses a NUL in %s: a C string would end there', (field, extra) => {
    expect(() => encodeProcessSpec({ ...base, ...extra })).toThrow(InvalidArgumentError);
    expect(() => encodeProcessSpec({ ...base, ...extra })).toThrow(new RegExp(`^${field.replace(/[[\]]/g, '\\$&')}: .*NUL`));
  });

  it('refuses what arbor-exec would refuse for its size, counting UTF-8 bytes', () => {
    const limit = PROCESS_SPEC_LIMITS.valueBytes;
    expect(() => encodeProcessSpec({ ...base, env: [`X=${'a'.repeat(limit - 2)}`] })).not.toThrow();
    expect(() => encodeProcessSpec({ ...base, env: [`X=${'a'.repeat(limit - 1)}`] })).toThrow(/^env\[0\]: is 131072 bytes/);
    expect(() => encodeProcessSpec({ ...base, args: ['ü'.repeat(limit / 2 + 1)] })).toThrow(/^args\[0\]: is 131072 bytes/);
    expect(() => encodeProcessSpec({ ...base, args: new Array<string>(PROCESS_SPEC_LIMITS.args).fill('a') })).toThrow(/^args: /);
    expect(() => encodeProcessSpec({ ...base, containerEnv: ['A=1'], env: new Array<string>(PROCESS_SPEC_LIMITS.env).fill('B=2') })).toThrow(/^env: /);
    const big = new Array<string>(40).fill('x'.repeat(120_000));
    expect(() => encodeProcessSpec({ ...base, args: big })).toThrow(/^process: .* at most 4194304/);
  });

  it('refuses rlimits and window sizes that are not whole numbers in range', () => {
    expect(() => encodeProcessSpec({ ...base, rlimits: { nofile: 1.5 } })).toThrow(/^rlimits\.nofile: /);
    expect(() => encodeProcessSpec({ ...base, rlimits: { nofile: -1 } })).toThrow(/^rlimits\.nofile: /);
    expect(() => encodeProcessSpec({ ...base, tty: { columns: 65536, rows: 24 } })).toThrow(/^tty\.windowSize\.columns: /);
  });
});

describe('writeProcessSpec', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-spec-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes the spec readable by its owner only, with no temp file left, over one that was there', async () => {
    await writeFile(join(dir, PROCESS_SPEC_FILE), 'old');
    const encoded = encodeProcessSpec({ ...base, env: ['SECRET=x'] });
    await writeProcessSpec(dir, encoded);
    expect(await readFile(join(dir, PROCESS_SPEC_FILE))).toEqual(encoded);
    expect(await readdir(dir)).toEqual([PROCESS_SPEC_FILE]);
    await rm(join(dir, PROCESS_SPEC_FILE));
    await writeProcessSpec(dir, encoded);
    expect((await stat(join(dir, PROCESS_SPEC_FILE))).mode & 0o777).toBe(0o600);
  });
});
