import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuncCli, checkRuncVersion, compareVersions, lastLoggedError } from './runc-cli';

describe('checkRuncVersion', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-runc-version-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('accepts runc 1.0 and later and returns the version', () => {
    expect(checkRuncVersion(fakeRuncSync('runc version 1.1.5+ds1'))).toBe('1.1.5');
  });

  it('says clearly when runc is too old', async () => {
    expect(() => checkRuncVersion(fakeRuncSync('runc version 0.1.1'))).toThrow(/runc 0\.1\.1 is too old; 1\.0\.0 or later is needed/);
  });

  it('says clearly when runc is missing, and how to install it', () => {
    expect(() => checkRuncVersion(join(dir, 'no-such-runc'))).toThrow(/cannot run .*no-such-runc.*apt-get install runc/);
  });

  it('refuses a binary that is not runc', () => {
    expect(() => checkRuncVersion(fakeRuncSync('hello'))).toThrow(/did not print a runc version/);
  });

  function fakeRuncSync(output: string): string {
    const path = join(dir, `runc-${Math.random().toString(36).slice(2)}`);
    writeFileSync(path, `#!/bin/sh\necho '${output}'\n`, { mode: 0o755 });
    return path;
  }
});

describe('compareVersions', () => {
  it('orders versions field by field', () => {
    expect(compareVersions([1, 1, 5], [1, 0, 0])).toBeGreaterThan(0);
    expect(compareVersions([0, 9, 9], [1, 0, 0])).toBeLessThan(0);
    expect(compareVersions([1, 0, 0], [1, 0, 0])).toBe(0);
  });
});

describe('lastLoggedError', () => {
  it('takes the message of the last error line of a runc JSON log', () => {
    const log = [
      '{"level":"warning","msg":"ignored","time":"t"}',
      '{"level":"error","msg":"first","time":"t"}',
      '{"level":"error","msg":"container \\"x\\" exists","time":"t"}',
      '{"level":"err',
    ].join('\n');
    expect(lastLoggedError(log)).toBe('container "x" exists');
    expect(lastLoggedError('')).toBe('');
  });
});

describe('RuncCli when its runc is gone after start', () => {
  it('says so as a failed precondition with the fix, for run and for the other commands', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'arbor-runc-gone-'));
    try {
      const runc = new RuncCli(join(dir, 'no-such-runc'), join(dir, 'root'));
      const expected = { kind: 'failedPrecondition', message: expect.stringMatching(/cannot run .*no-such-runc \(ENOENT\): install runc/) };
      await expect(runc.run('c', dir, join(dir, 'pid'))).rejects.toMatchObject(expected);
      await expect(runc.list()).rejects.toMatchObject(expected);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
