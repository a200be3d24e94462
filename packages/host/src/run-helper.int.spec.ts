// Needs the built helpers (make -C native): arbor-spawn, and shell scripts standing in for helpers.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ArborError } from '@arbor/core';
import { CoprocessExitedError } from './coprocess';
import { DEFAULT_HELPERS_DIR } from './helper-path';
import { HelperError, HelperRunner } from './run-helper';
import { SpawnServer, encodeRequest } from './spawn-server';

const SPAWN = join(DEFAULT_HELPERS_DIR, 'arbor-spawn');

beforeAll(() => {
  if (!existsSync(SPAWN)) execFileSync('make', ['-s', '-C', resolve(DEFAULT_HELPERS_DIR, '..')], { stdio: 'inherit' });
});

/** helperDir holds arbor-spawn and an 'arbor-exec' script that runs its arguments as a shell command. */
async function helperDir(withSpawn: boolean): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'arbor-helpers-'));
  if (withSpawn) await symlink(SPAWN, join(dir, 'arbor-spawn'));
  await writeFile(join(dir, 'arbor-exec'), '#!/bin/sh\neval "$1"\n');
  await chmod(join(dir, 'arbor-exec'), 0o755);
  return dir;
}

describe.each([
  ['through arbor-spawn', true],
  ['with node spawn (no arbor-spawn in dir)', false],
])('HelperRunner %s', (_name, withSpawn) => {
  let dir: string;
  let runner: HelperRunner;
  beforeEach(async () => {
    dir = await helperDir(withSpawn);
    runner = new HelperRunner(dir);
  });
  afterEach(async () => {
    runner.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('returns stdout of a helper that succeeds', async () => {
    expect(await runner.run('arbor-exec', ['printf "1234\\n"; echo ignored >&2'])).toBe('1234\n');
  });

  it('folds the exit code and stderr into a HelperError', async () => {
    const err = await runner.run('arbor-exec', ['echo "arbor-exec: no such file" >&2; exit 3']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HelperError);
    expect(err).toMatchObject({ helper: 'arbor-exec', exitCode: 3, stderr: 'arbor-exec: no such file\n' });
  });

  it('reports a helper killed by a signal with no exit code', async () => {
    const err = await runner.run('arbor-exec', ['kill -9 $$']).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: null });
  });

  it('says how to build a helper that is missing', async () => {
    await expect(runner.run('arbor-create', [])).rejects.toThrow(/arbor-create: cannot start .*arbor-create.*make -C native/);
  });

  it('runs helpers side by side, each answer to its own call', async () => {
    const outs = await Promise.all([3, 1, 2].map((n) => runner.run('arbor-exec', [`sleep 0.0${n}; echo ${n}`])));
    expect(outs).toEqual(['3\n', '1\n', '2\n']);
  });

  it('hands back output larger than a pipe buffer whole', async () => {
    const out = await runner.run('arbor-exec', ['head -c 300000 /dev/zero | tr "\\0" x']);
    expect(out).toBe('x'.repeat(300000));
  });

  it('waits for every writer of stdout, as node does', async () => {
    // the background writer outlives the helper by 50 ms
    expect(await runner.run('arbor-exec', ['(sleep 0.05; echo late) & echo early'])).toBe('early\nlate\n');
  });

  it('refuses an argument holding a NUL, quoting it short, and does not run the helper', async () => {
    // the image-config attack: one --env value that would end early and add a flag of its own
    const err = await runner.run('arbor-exec', [`touch ${dir}/ran`, `X=1\u0000--privileged${'x'.repeat(10000)}`]).catch((e: unknown) => e);
    expect(ArborError.is(err)).toBe(true);
    expect(err).toMatchObject({ kind: 'internal', message: expect.stringMatching(/^arbor-exec: .*NUL/) });
    expect((err as Error).message.length).toBeLessThan(300);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });

  it('kills a helper that outlives its timeout and says how long it waited', async () => {
    const started = Date.now();
    // exec: node spawn kills the helper alone, so leave it no child to outlive it
    const err = await runner.run('arbor-exec', ['exec sleep 20'], { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(ArborError.is(err)).toBe(true);
    expect((err as Error).message).toMatch(/^arbor-exec timed out after 300 ms/);
  }, 10000);

  it('takes the timeout of every call from its options', async () => {
    const quick = new HelperRunner(dir, { timeoutMs: 200 });
    try {
      await expect(quick.run('arbor-exec', ['exec sleep 20'])).rejects.toThrow(/arbor-exec timed out after 200 ms/);
      expect(await quick.run('arbor-exec', ['echo fast'])).toBe('fast\n');
    } finally {
      quick.close();
    }
  }, 10000);

  it('refuses an argument holding a NUL for a streaming helper with an error, not a crash', () => {
    let thrown: unknown;
    try {
      runner.spawnStreaming('arbor-tar', ['--extract', 'a\u0000b']);
    } catch (e) {
      thrown = e;
    }
    expect(ArborError.is(thrown)).toBe(true);
    expect((thrown as Error).message).toMatch(/^arbor-tar: .*NUL/);
  });
});

/** alive says a process still exists (a zombie counts as gone: it has ended). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(execFileSync('cat', [`/proc/${pid}/status`], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
  } catch {
    return false;
  }
}

describe('HelperRunner through arbor-spawn, on hostile or stuck helpers', () => {
  let dir: string;
  let runner: HelperRunner;
  beforeEach(async () => {
    dir = await helperDir(true);
    runner = new HelperRunner(dir);
  });
  afterEach(async () => {
    runner.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('kills the process group of a helper that times out, without waiting for the pipes it left open', async () => {
    // the background sleep keeps stdout open, as a stuck grandchild would
    const err = await runner.run('arbor-exec', [`sleep 20 & echo $! > ${dir}/child; sleep 20`], { timeoutMs: 300 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/timed out after 300 ms/);
    const child = Number(await readFile(join(dir, 'child'), 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(child)).toBe(false);
  }, 10000);

  it('spares what a helper detached with setsid, as arbor-exec does with its supervisor', async () => {
    const err = await runner
      .run('arbor-exec', [`setsid sleep 20 </dev/null >/dev/null 2>&1 & echo $! > ${dir}/detached; sleep 20`], { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/timed out/);
    const detached = Number(await readFile(join(dir, 'detached'), 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    try {
      expect(alive(detached)).toBe(true);
    } finally {
      process.kill(detached, 'SIGKILL');
    }
  }, 10000);

  it('answers at once that it is full while 256 helpers hang, and serves again once they time out', async () => {
    const started = Date.now();
    const runs = Array.from({ length: 300 }, () =>
      runner.run('arbor-exec', ['sleep 20'], { timeoutMs: 2000 }).then(
        () => 'ran',
        (e: unknown) => e,
      ),
    );
    const full = await Promise.race(runs);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(ArborError.is(full)).toBe(true);
    expect(full).toMatchObject({ kind: 'resourceExhausted', message: expect.stringMatching(/^arbor-exec: not started: .*256/) });
    const all = await Promise.all(runs);
    const kinds = all.map((e) => ((e as Error).message.includes('timed out') ? 'timed out' : (e as ArborError).kind));
    expect(kinds.filter((k) => k === 'resourceExhausted')).toHaveLength(44);
    expect(kinds.filter((k) => k === 'timed out')).toHaveLength(256);
    expect(await runner.run('arbor-exec', ['echo again'])).toBe('again\n');
    expect(Date.now() - started).toBeLessThan(8000);
  }, 30000);
});

/** RawAnswer is the part of an arbor-spawn response the framing tests look at. */
interface RawAnswer {
  id: number;
  status: number;
  errno: number;
  stdout: string;
}

/** RawSpawn talks to an arbor-spawn process byte by byte, to send frames SpawnServer never would. */
class RawSpawn {
  readonly child: ChildProcess;
  private buffered = Buffer.alloc(0);
  private readonly waiting: { resolve: (r: RawAnswer) => void; reject: (e: Error) => void }[] = [];

  constructor(path = SPAWN) {
    this.child = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.on('close', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`arbor-spawn exited (${code}) without answering`));
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readUInt32LE(0)) {
        const len = this.buffered.readUInt32LE(0);
        const f = this.buffered.subarray(0, 4 + len);
        this.buffered = this.buffered.subarray(4 + len);
        const outLen = f.readUInt32LE(24);
        this.waiting
          .shift()
          ?.resolve({ id: f.readUInt32LE(4), status: f.readUInt32LE(8), errno: f.readInt32LE(20), stdout: f.subarray(28, 28 + outLen).toString() });
      }
    });
  }

  /** send writes bytes and resolves with the next answer. */
  send(bytes: Buffer): Promise<RawAnswer> {
    return new Promise((resolveAnswer, reject) => {
      this.waiting.push({ resolve: resolveAnswer, reject });
      this.child.stdin?.write(bytes);
    });
  }

  close(): void {
    this.child.stdin?.end();
  }
}

/** u32s is native-endian (little on our hosts) uint32s. */
function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32LE(v, 4 * i));
  return b;
}

/** frame wraps a body (id onwards) in its length. */
function frame(body: Buffer): Buffer {
  return Buffer.concat([u32s(body.length), body]);
}

describe('arbor-spawn framing', () => {
  const REFUSED = 3;
  const cases: [string, Buffer, number][] = [
    ['a frame too short for its id', u32s(2, 0).subarray(0, 6), 0],
    ['a frame too short for timeout and argc', frame(u32s(7, 1000)), 7],
    ['no arguments at all', frame(u32s(8, 1000, 0)), 8],
    ['more arguments than it takes', frame(Buffer.concat([u32s(9, 1000, 100000), u32s(0)])), 9],
    ['an argument longer than the frame', frame(Buffer.concat([u32s(10, 1000, 1, 50), Buffer.from('/bin/echo')])), 10],
    ['arguments shorter than the frame', frame(Buffer.concat([u32s(11, 1000, 1, 9), Buffer.from('/bin/echoXYZ')])), 11],
    ['an argument holding a NUL', frame(Buffer.concat([u32s(12, 1000, 2, 9), Buffer.from('/bin/echo'), u32s(3), Buffer.from('a\0b')])), 12],
    ['a frame over 4 MiB', frame(Buffer.concat([u32s(13, 1000, 1, 5 << 20), Buffer.alloc(5 << 20, 0x61)])), 13],
  ];
  let raw: RawSpawn;
  beforeAll(() => {
    raw = new RawSpawn();
  });
  afterAll(() => raw.close());

  it.each(cases)('answers %s with an error for that request, then serves the next one', async (_name, bad, id) => {
    expect(await raw.send(bad)).toMatchObject({ id, status: REFUSED });
    expect(await raw.send(encodeRequest(99, 5000, ['/bin/echo', 'still', 'here']))).toMatchObject({ id: 99, status: 0, stdout: 'still here\n' });
  });

  it('never turns an argument holding a NUL into two arguments', async () => {
    const server = new SpawnServer(SPAWN);
    try {
      const counted = await server.run(['/bin/sh', '-c', 'echo $#', 'sh', 'X=1\u0000--privileged']).then(
        (r) => r.stdout.toString(),
        (e: unknown) => e,
      );
      // before length-prefixed arguments, sh saw 2
      expect(ArborError.is(counted)).toBe(true);
      expect(await server.run(['/bin/sh', '-c', 'echo $#', 'sh', 'X=1 --privileged'])).toMatchObject({ stdout: Buffer.from('1\n') });
    } finally {
      server.close();
    }
  });

  it('keeps at most 1 MiB of what a program prints, and says it cut the rest', async () => {
    const server = new SpawnServer(SPAWN);
    try {
      // 64 MiB on stdout: before the bound, arbor-spawn held all of it (and a helper fed hostile data could print without end)
      const result = await server.run(['/bin/sh', '-c', 'head -c 67108864 /dev/zero; echo done >&2']);
      expect(result.stdout.length).toBeLessThan((1 << 20) + 100);
      expect(result.stdout.toString('latin1')).toMatch(/output cut at 1 MiB/);
      expect(result.stderr.toString()).toBe('done\n');
    } finally {
      server.close();
    }
  });

  it('passes none of its own inherited files on to the programs it starts', async () => {
    // the wrapper leaves fd 7 open across exec, as a leaky parent of arbord would
    const dir = await mkdtemp(join(tmpdir(), 'arbor-fds-'));
    const wrapper = join(dir, 'leaky-parent');
    await writeFile(wrapper, `#!/bin/sh\nexec 7</dev/null\nexec ${SPAWN}\n`);
    await chmod(wrapper, 0o755);
    const server = new SpawnServer(wrapper);
    try {
      const listed = await server.run(['/bin/ls', '/proc/self/fd']);
      // 3 is ls's own handle on the directory it lists
      expect(listed.stdout.toString().split('\n').filter(Boolean)).toEqual(['0', '1', '2', '3']);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('SpawnServer', () => {
  it('fails the runs in flight when it dies, saying so, and the runner starts a new one', async () => {
    const dir = await helperDir(true);
    const runner = new HelperRunner(dir);
    try {
      await runner.run('arbor-exec', ['true']);
      const slow = runner.run('arbor-exec', ['sleep 5']);
      // kill the server, found as the parent of the helper it started
      await new Promise((r) => setTimeout(r, 50));
      const server = execFileSync('pgrep', ['-f', '-n', `${dir}/arbor-spawn`])
        .toString()
        .trim();
      process.kill(Number(server), 'SIGKILL');
      await expect(slow).rejects.toThrow(/arbor-spawn: '.*arbor-exec' got no answer, it may or may not have been carried out/);
      expect(await runner.run('arbor-exec', ['echo again'])).toBe('again\n');
    } finally {
      runner.close();
      try {
        execFileSync('pkill', ['-f', `${dir}/arbor-exec`]);
      } catch {
        // already gone
      }
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves the runner on node spawn when arbor-spawn cannot start at all', async () => {
    const dir = await helperDir(false);
    // executable, but its interpreter is missing: the exec fails
    await writeFile(join(dir, 'arbor-spawn'), '#!/nonexistent/interpreter\n');
    await chmod(join(dir, 'arbor-spawn'), 0o755);
    const runner = new HelperRunner(dir);
    try {
      expect(await runner.run('arbor-exec', ['echo first'])).toBe('first\n');
      expect(await runner.run('arbor-exec', ['echo second'])).toBe('second\n');
    } finally {
      runner.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers a program that cannot start with its errno', async () => {
    const server = new SpawnServer(SPAWN);
    try {
      expect(await server.run(['/nonexistent/helper'])).toMatchObject({ exitCode: null, spawnErrno: 2 });
    } finally {
      server.close();
    }
  });

  it('fails a run with a typed error saying arbor-spawn cannot start, and nothing ran', async () => {
    const server = new SpawnServer('/nonexistent/arbor-spawn');
    const err = await server.run(['/bin/true']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoprocessExitedError);
    expect(err).toMatchObject({ startFailed: true, message: expect.stringMatching(/arbor-spawn: cannot start \/nonexistent\/arbor-spawn/) });
  });
});
