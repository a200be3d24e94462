import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import {
  ContainerNotFoundError,
  ContainerStoppedError,
  ExecutableNotFoundError,
  InvalidArgumentError,
  ProcessAlreadyExistsError,
  ProcessNotFoundError,
  ResourceExhaustedError,
} from '@arbor/core';
import { probeCommand, probeScriptFile, steps } from '@arbor/probes';
import { eventually } from '@arbor/testkit';
import { Collector, makeHarness, probe, request, runToEnd, start, type Harness } from './testing';

const { copyStdin, exit, ignoreTerm, line, printArgs, sleep, ttySize, zeros } = steps;

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ stopTimeoutMs: 150 });
});
afterEach(async () => {
  await h.containerizer.destroy(h.handle);
});

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** StuckWriter never finishes a write: it models a client that stopped reading. */
export class StuckWriter extends Writable {
  received = 0;
  constructor() {
    super({ highWaterMark: 1024 });
  }
  override _write(chunk: Buffer): void {
    this.received += chunk.length;
  }
}

describe('run', () => {
  it('reports stdout, stderr and the exit code', async () => {
    expect(await runToEnd(h, probe([line('out'), line('err', 'stderr'), exit(42)]))).toEqual({ code: 42, stdout: 'out\n', stderr: 'err\n' });
  });

  it('finds a bare name on PATH and an absolute path', async () => {
    expect((await runToEnd(h, probe([line('via PATH')]))).stdout).toBe('via PATH\n');
    expect((await runToEnd(h, request({ path: '/bin/sh', args: probeCommand([line('absolute')]).args }))).stdout).toBe('absolute\n');
  });

  it('throws ExecutableNotFoundError for a missing or non-executable file', async () => {
    await expect(start(h, request({ path: 'no-such-binary' }))).rejects.toBeInstanceOf(ExecutableNotFoundError);
    await expect(start(h, request({ path: '/bin/nope' }))).rejects.toBeInstanceOf(ExecutableNotFoundError);
    h.fs.writeFile('/tmp/script', '#!/bin/sh\necho hi\n', { mode: 0o644 });
    await expect(start(h, request({ path: '/tmp/script' }))).rejects.toThrow(/permission denied/);
  });

  it('runs a probe streamed in as a script, with its args', async () => {
    h.fs.writeFile('/tmp/probe', probeScriptFile([printArgs('arg='), exit(3)]), { mode: 0o755 });
    expect(await runToEnd(h, request({ path: '/tmp/probe', args: ['a', 'b c'] }))).toEqual({ code: 3, stdout: 'arg=a\narg=b c\n', stderr: '' });
  });

  it('answers anything but a probe with 127 and a line saying the fake runs probes only', async () => {
    for (const spec of [request({ path: 'sh', args: ['-c', 'echo hi'] }), request({ path: 'echo', args: ['hi'] })]) {
      const r = await runToEnd(h, spec);
      expect(r.code).toBe(127);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^(sh|echo): the fake backend runs probes .* only: for a shell, .*fake-shell.*\n$/);
    }
  });

  it('throws InvalidArgumentError for a user the container does not know', async () => {
    const err = await start(h, probe([], { user: 'alice' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({ field: 'user' });
  });

  it('refuses a second running process with the same id, and allows it once the first exited', async () => {
    const first = await start(h, probe([sleep(0.1)], { id: 'same' }));
    await expect(start(h, probe([], { id: 'same' }))).rejects.toBeInstanceOf(ProcessAlreadyExistsError);
    await first.wait();
    expect(await (await start(h, probe([], { id: 'same' }))).wait()).toBe(0);
  });

  it('fails like fork at the pid limit', async () => {
    const limited = await makeHarness({ limits: { pid: { max: 1 } } });
    const running = await start(limited, probe([sleep(5)]));
    const err = await start(limited, probe([])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    expect(err).toMatchObject({ resource: 'pids' });
    expect((await limited.containerizer.metrics(limited.handle)).pid).toEqual({ current: 1, max: 1 });
    await limited.containerizer.destroy(limited.handle);
    expect(await running.wait()).toBe(137);
  });

  it('lists running processes in info and counts them in metrics', async () => {
    const p = await start(h, probe([sleep(5)], { id: 'sleeper' }));
    await runToEnd(h, probe([], { id: 'quick' }));
    expect((await h.containerizer.info(h.handle)).processIds).toEqual(['sleeper']);
    expect((await h.containerizer.metrics(h.handle)).pid.current).toBe(1);
    await p.signal('SIGKILL');
    await p.wait();
    expect((await h.containerizer.info(h.handle)).processIds).toEqual([]);
  });
});

describe('output', () => {
  it('fans out to every attached caller', async () => {
    const a = new Collector();
    const b = new Collector();
    const p = await start(h, probe([sleep(0.1), line('for-both'), exit(9)], { id: 'shared' }), { stdout: a });
    const attached = await h.containerizer.attach(h.handle, 'shared', { stdout: b });
    expect(await Promise.all([p.wait(), attached.wait()])).toEqual([9, 9]);
    expect([a.text, b.text]).toEqual(['for-both\n', 'for-both\n']);
  });

  it('gives an attacher only the output from then on', async () => {
    const first = new Collector();
    const p = await start(h, probe([line('early'), sleep(0.15), line('late')], { id: 'later' }), { stdout: first });
    await eventually(() => expect(first.text).toBe('early\n'));
    const second = new Collector();
    const attached = await h.containerizer.attach(h.handle, 'later', { stdout: second });
    await attached.wait();
    await p.wait();
    expect(second.text).toBe('late\n');
  });

  it('resolves wait only after all output reached a slow writer', async () => {
    let received = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, done) {
        setTimeout(() => {
          received += chunk.length;
          done();
        }, 1);
      },
    });
    const p = await start(h, probe([zeros(300000)]), { stdout: slow });
    expect(await p.wait()).toBe(0);
    expect(received).toBe(300000);
  });

  it('holds a process back while a writer does not drain, buffering no more than a chunk', async () => {
    const stuck = new StuckWriter();
    const p = await start(h, probe([zeros(10 * 1024 * 1024)], { id: 'flood' }), { stdout: stuck });
    await wait(150);
    const process = h.container.process('flood');
    expect((await h.containerizer.info(h.handle)).processIds).toEqual(['flood']);
    expect(stuck.received).toBeLessThanOrEqual(64 * 1024);
    expect(stuck.writableLength).toBeLessThanOrEqual(64 * 1024);
    expect(process?.hub.inFlightBytes()).toBeLessThanOrEqual(64 * 1024);
    await p.signal('SIGKILL');
  });

  it('drops a detached caller and goes on for the others', async () => {
    const stuck = new StuckWriter();
    const detach = new AbortController();
    const fast = new Collector();
    const p = await start(h, probe([zeros(1000000)], { id: 'yes' }), { stdout: stuck, detach: detach.signal });
    await h.containerizer.attach(h.handle, 'yes', { stdout: fast });
    await wait(50);
    expect(fast.bytes).toBeLessThan(1000000);
    detach.abort();
    expect(await p.wait()).toBe(0);
    await eventually(() => expect(fast.bytes).toBeGreaterThan(900000));
  });

  it('drops a writer that is destroyed, without failing the process', async () => {
    const doomed = new PassThrough();
    doomed.on('error', () => undefined);
    const p = await start(h, probe([line('one'), sleep(0.1), line('two'), exit(3)]), { stdout: doomed });
    doomed.destroy();
    expect(await p.wait()).toBe(3);
  });
});

describe('stdin', () => {
  it('feeds the Run caller stdin and ends at its end', async () => {
    const stdout = new Collector();
    const p = await start(h, probe([copyStdin()]), { stdin: Readable.from([Buffer.from('hello '), Buffer.from('world')]), stdout });
    expect(await p.wait()).toBe(0);
    expect(stdout.text).toBe('hello world');
  });

  it('pauses a stdin the process does not read, instead of buffering it all', async () => {
    const stdin = new PassThrough({ highWaterMark: 1024 });
    const p = await start(h, probe([sleep(5)]), { stdin });
    let accepted = 0;
    while (stdin.write(Buffer.alloc(16 * 1024)) && accepted < 100) accepted++;
    expect(accepted).toBeLessThan(10);
    await p.signal('SIGKILL');
  });

  it('gives EOF at once when Run has no stdin', async () => {
    expect(await runToEnd(h, probe([copyStdin()]))).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('takes input from an attached caller too', async () => {
    const runStdin = new PassThrough();
    const stdout = new Collector();
    const p = await start(h, probe([copyStdin()], { id: 'echoer' }), { stdin: runStdin, stdout });
    const attachStdin = new PassThrough();
    await h.containerizer.attach(h.handle, 'echoer', { stdin: attachStdin });
    attachStdin.write('from-attach ');
    await eventually(() => expect(stdout.text).toBe('from-attach '));
    runStdin.end('from-run');
    expect(await p.wait()).toBe(0);
    expect(stdout.text).toBe('from-attach from-run');
  });
});

describe('signals', () => {
  it.each([
    ['SIGTERM', 143],
    ['SIGKILL', 137],
    ['SIGINT', 130],
    ['SIGHUP', 129],
    ['SIGUSR1', 138],
  ] as const)('%s ends a process with 128+N (%i)', async (signal, code) => {
    const p = await start(h, probe([sleep(10)]));
    await p.signal(signal);
    expect(await p.wait()).toBe(code);
  });

  it('ignores SIGWINCH and SIGCHLD by default', async () => {
    const p = await start(h, probe([sleep(0.1)]));
    await p.signal('SIGWINCH');
    await p.signal('SIGCHLD');
    expect(await p.wait()).toBe(0);
  });

  it('lets a process ignore TERM, but not KILL', async () => {
    const stdout = new Collector();
    const p = await start(h, probe([ignoreTerm(), line('ready'), sleep(0.2), exit(4)]), { stdout });
    await eventually(() => expect(stdout.text).toBe('ready\n'));
    await p.signal('SIGTERM');
    expect(await p.wait()).toBe(4);
    const killed = await start(h, probe([ignoreTerm(), sleep(5)]));
    await killed.signal('SIGKILL');
    expect(await killed.wait()).toBe(137);
  });

  it('refuses signal and setTty after exit with ProcessNotFoundError', async () => {
    const p = await start(h, probe([]));
    await p.wait();
    await expect(p.signal('SIGTERM')).rejects.toBeInstanceOf(ProcessNotFoundError);
    await expect(p.setTty({ windowSize: { columns: 1, rows: 1 } })).rejects.toBeInstanceOf(ProcessNotFoundError);
  });
});

describe('attach', () => {
  it('gives the exit status of a process that already exited', async () => {
    await runToEnd(h, probe([exit(5)], { id: 'gone' }));
    expect(await (await h.containerizer.attach(h.handle, 'gone', {})).wait()).toBe(5);
  });

  it('throws ProcessNotFoundError for an unknown id', async () => {
    await expect(h.containerizer.attach(h.handle, 'nobody', {})).rejects.toBeInstanceOf(ProcessNotFoundError);
  });
});

describe('tty', () => {
  it('sends stderr to stdout with \\n turned into \\r\\n, and has an 80x24 window', async () => {
    const r = await runToEnd(h, probe([line('out'), line('err', 'stderr'), ttySize()], { tty: {} }));
    expect(r).toEqual({ code: 0, stdout: 'out\r\nerr\r\n24 80\r\n', stderr: '' });
  });

  it('changes the window size with setTty', async () => {
    const stdout = new Collector();
    const p = await start(h, probe([line('ready'), sleep(0.15), ttySize()], { tty: { windowSize: { columns: 100, rows: 30 } } }), { stdout });
    await eventually(() => expect(stdout.text).toBe('ready\r\n'));
    await p.setTty({ windowSize: { columns: 132, rows: 50 } });
    await p.wait();
    expect(stdout.text).toBe('ready\r\n50 132\r\n');
  });

  it('sends INT for a typed ^C', async () => {
    const stdin = new PassThrough();
    const p = await start(h, probe([copyStdin()], { tty: {} }), { stdin, stdout: new Collector() });
    stdin.write('\x03');
    expect(await p.wait()).toBe(130);
  });

  it('echoes typed input, as a terminal does', async () => {
    const stdout = new Collector();
    const p = await start(h, probe([copyStdin()], { tty: {} }), { stdin: Readable.from(['hi\n']), stdout });
    await p.wait();
    expect(stdout.text).toBe('hi\r\nhi\r\n');
  });
});

describe('stop', () => {
  it('sends TERM, then KILL after the stop timeout, and marks the container stopped', async () => {
    const obedient = await start(h, probe([sleep(10)]));
    const ready = new Collector();
    const stubborn = await start(h, probe([ignoreTerm(), line('ready'), sleep(10)]), { stdout: ready });
    await eventually(() => expect(ready.text).toBe('ready\n'));
    const began = Date.now();
    await h.containerizer.stop(h.handle, false);
    expect(Date.now() - began).toBeGreaterThanOrEqual(140);
    expect(await obedient.wait()).toBe(143);
    expect(await stubborn.wait()).toBe(137);
    expect((await h.containerizer.info(h.handle)).state).toBe('stopped');
  });

  it('kills at once with kill', async () => {
    const ready = new Collector();
    const p = await start(h, probe([ignoreTerm(), line('ready'), sleep(10)]), { stdout: ready });
    await eventually(() => expect(ready.text).toBe('ready\n'));
    await h.containerizer.stop(h.handle, true);
    expect(await p.wait()).toBe(137);
  });

  it('refuses to run in a stopped container, but still streams files', async () => {
    await h.containerizer.stop(h.handle, true);
    await expect(start(h, probe([]))).rejects.toBeInstanceOf(ContainerStoppedError);
    const tar = await h.containerizer.streamOut(h.handle, { path: '/etc/passwd' });
    let bytes = 0;
    for await (const chunk of tar) bytes += (chunk as Buffer).length;
    expect(bytes).toBeGreaterThan(512);
  });
});

describe('create', () => {
  it('accepts and mounts an idmapped bind (the fake has no user namespaces to map)', async () => {
    const handle = `${h.handle}-binds`;
    const bindMounts = [
      { srcPath: mkdtempSync(join(tmpdir(), 'fake-binds-')), dstPath: '/data', mode: 'rw' as const, origin: 'host' as const, idmap: true },
      { srcPath: '/etc', dstPath: '/conf', mode: 'ro' as const, origin: 'container' as const },
    ];
    await h.volumizer.create(handle, { uri: '' }, undefined);
    const rootfs = { path: '', env: [], user: '', workingDir: '', entrypoint: [], cmd: [] };
    await h.containerizer.create({ handle, hostname: handle, rootfs, env: [], bindMounts, privileged: false, limits: {} });
    try {
      expect(h.containerizer.container(handle).fs.resolve('/data').inode.kind).toBe('dir');
    } finally {
      await h.containerizer.destroy(handle);
    }
  });
});

describe('destroy', () => {
  it('kills every process, forgets the container, and can be repeated', async () => {
    const p = await start(h, probe([sleep(10)]));
    await h.containerizer.destroy(h.handle);
    expect(await p.wait()).toBe(137);
    await h.containerizer.destroy(h.handle);
    expect(await h.containerizer.handles()).toEqual([]);
    await expect(h.containerizer.info(h.handle)).rejects.toBeInstanceOf(ContainerNotFoundError);
  });
});

describe('capacity and metrics', () => {
  it('reports the host memory and the configured container count', async () => {
    const capacity = await h.containerizer.capacity();
    expect(capacity.memoryInBytes).toBeGreaterThan(0);
    expect(capacity.maxContainers).toBe(1024);
  });

  it('reports the memory limit and pid limit in force', async () => {
    await h.containerizer.limit(h.handle, { memory: { limitInBytes: 1234 }, pid: { max: 7 } });
    const m = await h.containerizer.metrics(h.handle);
    expect(m.memory.limitInBytes).toBe(1234);
    expect(m.pid.max).toBe(7);
  });
});
