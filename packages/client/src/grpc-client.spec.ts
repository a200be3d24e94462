import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { ContainerModule } from 'inversify';
import { pack, extract } from 'tar-stream';
import {
  ArborError,
  ContainerNotFoundError,
  ContainerStoppedError,
  ExecutableNotFoundError,
  HandleAlreadyExistsError,
  InvalidArgumentError,
  InvalidTarError,
  PermissionDeniedError,
  PortInUseError,
  ProcessAlreadyExistsError,
  ProcessNotFoundError,
  PropertyNotFoundError,
  ResourceExhaustedError,
  ServiceUnavailableError,
  TOKENS,
  UnrecoverableError,
  composeBackend,
} from '@arbor/core';
import type { BindMount, Container, Containerizer } from '@arbor/core';
import { fakeBackendModule } from '@arbor/backend-fake';
import { backends } from '@arbor/server';
import { eventually } from '@arbor/testkit';
import { GrpcClient } from './grpc-client';
import { startFixture } from './arbord-fixture.testkit';
import type { ArbordFixture } from './arbord-fixture.testkit';

/** Sink collects what a process writes; a counting sink keeps only the byte count. */
class Sink extends Writable {
  readonly chunks: Buffer[] = [];
  private counted = 0;
  constructor(
    private readonly delayMs = 0,
    private readonly keep = true,
  ) {
    super({ highWaterMark: 16 * 1024 });
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.counted += chunk.length;
    if (this.keep) this.chunks.push(chunk);
    if (this.delayMs > 0) setTimeout(callback, this.delayMs);
    else callback();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString();
  }
  get length(): number {
    return this.counted;
  }
}

async function tarOf(files: Record<string, Buffer | string>): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function filesOf(tar: Readable): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {};
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file') files[header.name] = Buffer.concat(chunks);
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  tar.pipe(ex);
  await done;
  return files;
}

// The fake backend, instrumented: containerizer.info throws nextInfoError when set (so every
// error class can travel server -> client), stdoutAccepted counts the stdout bytes the
// server has taken from processes (to see how far the server runs ahead of a slow client),
// and createdBinds keeps the bind mounts each create reached the containerizer with.
let nextInfoError: unknown;
let stdoutAccepted = 0;
const createdBinds = new Map<string, BindMount[]>();
const instrumentedBackend = (): ContainerModule[] => {
  const fake = backends['fake'];
  if (!fake) throw new Error('the server has no fake backend');
  return [...[fake()].flat(), instrumentation];
};
const instrumentation = new ContainerModule((options) => {
  options.onActivation<Containerizer>(TOKENS.Containerizer, (_context, containerizer) => {
    const create = containerizer.create.bind(containerizer);
    containerizer.create = async (desired) => {
      createdBinds.set(desired.handle, desired.bindMounts);
      return create(desired);
    };
    const info = containerizer.info.bind(containerizer);
    containerizer.info = async (handle) => {
      if (nextInfoError !== undefined) throw nextInfoError;
      return info(handle);
    };
    const run = containerizer.run.bind(containerizer);
    containerizer.run = async (handle, spec, io) => {
      const stdout = io.stdout;
      if (!stdout) return run(handle, spec, io);
      const counting = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          stdout.write(chunk, (err) => {
            stdoutAccepted += chunk.length;
            callback(err);
          });
        },
        final(callback) {
          stdout.end(callback);
        },
      });
      return run(handle, spec, { ...io, stdout: counting });
    };
    return containerizer;
  });
});

let f: ArbordFixture;
let client: GrpcClient;

beforeAll(async () => {
  f = await startFixture({ maxContainers: 20 }, { backends: { fake: instrumentedBackend } });
  client = f.client;
});
afterAll(async () => {
  await f.stop();
});

describe('containers', () => {
  test('create, lookup, list by property, info, destroy', async () => {
    const c = await client.create({ handle: 'web-1', properties: { app: 'web' } });
    await client.create({ handle: 'db-1', properties: { app: 'db' } });
    expect(c.handle).toBe('web-1');
    expect((await client.lookup('web-1')).handle).toBe('web-1');
    expect((await client.containers({ app: 'web' })).map((x) => x.handle)).toEqual(['web-1']);
    const info = await c.info();
    expect(info.state).toBe('active');
    expect(info.properties).toEqual({ app: 'web' });
    await client.destroy('web-1');
    await client.destroy('db-1');
    await expect(client.lookup('web-1')).rejects.toBeInstanceOf(ContainerNotFoundError);
  });

  test('a generated handle comes back from create', async () => {
    const c = await client.create({});
    expect(c.handle).toMatch(/^[0-9a-f-]{36}$/);
    await client.destroy(c.handle);
  });

  test('bulkInfo and bulkMetrics give values and typed errors per handle', async () => {
    await client.create({ handle: 'bulk-1' });
    const infos = await client.bulkInfo(['bulk-1', 'missing']);
    expect(infos['bulk-1']?.value?.state).toBe('active');
    expect(infos['missing']?.error).toBeInstanceOf(ContainerNotFoundError);
    const metrics = await client.bulkMetrics(['bulk-1', 'missing']);
    expect(metrics['bulk-1']?.value?.memory.usageInBytes).toEqual(expect.any(Number));
    expect(metrics['missing']?.error).toBeInstanceOf(ContainerNotFoundError);
    await client.destroy('bulk-1');
  });

  test('capacity and ping', async () => {
    await client.ping();
    const capacity = await client.capacity();
    expect(capacity.maxContainers).toBe(20);
    expect(capacity.memoryInBytes).toBeGreaterThan(0);
  });

  test('limits set live come back from currentLimits', async () => {
    const c = await client.create({ handle: 'limits-1', limits: { pid: { max: 10 } } });
    await c.limitMemory({ limitInBytes: 512 * 1024 * 1024 });
    await c.limitDisk({ byteSoft: 0, byteHard: 1 << 20, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' });
    expect(await c.currentLimits()).toEqual({
      pid: { max: 10 },
      memory: { limitInBytes: 512 * 1024 * 1024 },
      disk: { byteSoft: 0, byteHard: 1 << 20, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' },
    });
    expect(await c.currentCpuLimits()).toEqual({ weight: 0 });
    await client.destroy('limits-1');
  });

  test('a bind mount asking for idmap reaches the backend so; one of origin container is INVALID_ARGUMENT', async () => {
    // a small host dir: the fake models a bind's contents, and refuses a source as big as /
    const src = mkdtempSync(join(tmpdir(), 'arbor-idmap-bind-'));
    try {
      const bindMounts: BindMount[] = [
        { srcPath: src, dstPath: '/host', mode: 'rw', origin: 'host', idmap: true },
        { srcPath: src, dstPath: '/host-ro', mode: 'ro', origin: 'host' },
      ];
      await client.create({ handle: 'idmap-1', bindMounts });
      expect(createdBinds.get('idmap-1')).toEqual(bindMounts);
      await client.destroy('idmap-1');
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
    const wrong = client.create({ handle: 'idmap-2', bindMounts: [{ srcPath: '/etc', dstPath: '/etc2', mode: 'ro', origin: 'container', idmap: true }] });
    await expect(wrong).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'bindMounts[0].idmap' });
  });

  test('properties, net in and grace time', async () => {
    const c = await client.create({ handle: 'props-1' });
    await c.setProperty('a', '1');
    expect(await c.property('a')).toBe('1');
    expect(await c.properties()).toEqual({ a: '1' });
    await c.removeProperty('a');
    await expect(c.property('a')).rejects.toBeInstanceOf(PropertyNotFoundError);
    const mapping = await c.netIn(0, 8080);
    expect(mapping.containerPort).toBe(8080);
    expect(mapping.hostPort).toBeGreaterThan(0);
    await expect(c.netIn(mapping.hostPort, 9090)).rejects.toMatchObject({ name: 'PortInUseError', port: mapping.hostPort });
    await c.setGraceTime(60_000);
    await client.destroy('props-1');
  });
});

describe('errors', () => {
  let c: Container;
  beforeAll(async () => {
    c = await client.create({ handle: 'errors-1' });
  });
  afterAll(async () => {
    nextInfoError = undefined;
    await client.destroy('errors-1');
  });

  const typed: ArborError[] = [
    new ContainerNotFoundError('web-1'),
    new ProcessNotFoundError('proc-1'),
    new PropertyNotFoundError('web-1', 'color'),
    new HandleAlreadyExistsError('web-1'),
    new ProcessAlreadyExistsError('proc-1'),
    new ExecutableNotFoundError('/bin/nope'),
    new InvalidArgumentError('limits.memory.limitInBytes', 'must be a whole number'),
    new InvalidTarError('truncated'),
    new PermissionDeniedError('user vcap may not write /root'),
    new ResourceExhaustedError('ports', 'no ports left'),
    new PortInUseError(61001),
    new ContainerStoppedError('web-1'),
    new ServiceUnavailableError('backend is restarting'),
    new UnrecoverableError('depot is corrupt'),
    new ArborError('failedPrecondition', 'plain arbor error'),
  ];
  test.each(typed.map((e) => [e.name, e] as const))('%s comes back as the same class with its fields', async (_name, err) => {
    nextInfoError = err;
    const got: unknown = await c.info().catch((e: unknown) => e);
    expect(got).toBeInstanceOf(err.constructor);
    const arbor = got as ArborError;
    expect(arbor.kind).toBe(err.kind);
    expect(arbor.message).toBe(err.message);
    expect(arbor.fields()).toEqual(err.fields());
  });

  test('an error that is not an ArborError arrives as an internal ArborError', async () => {
    nextInfoError = new Error('disk on fire');
    const got: unknown = await c.info().catch((e: unknown) => e);
    expect(ArborError.is(got)).toBe(true);
    expect((got as ArborError).kind).toBe('internal');
    expect((got as ArborError).message).toContain('disk on fire');
  });

  test('bad input fails before anything is sent, with the same error as in-process', async () => {
    nextInfoError = undefined;
    const negative = c.limitMemory({ limitInBytes: -1 });
    await expect(negative).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(negative).rejects.toMatchObject({ field: 'limits.memory.limitInBytes' });
    await expect(client.create({ handle: 'bad handle!' })).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'handle' });
    await expect(c.netOut({ protocol: 'tcp', ports: [{ start: 90, end: 80 }] })).rejects.toMatchObject({ field: 'rule.ports[0]' });
    await expect(client.lookup('bad handle!')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  test('errors found by the server keep their class: duplicate handle, unknown handle', async () => {
    await expect(client.create({ handle: 'errors-1' })).rejects.toBeInstanceOf(HandleAlreadyExistsError);
    await expect(client.destroy('never-made')).rejects.toMatchObject({ name: 'ContainerNotFoundError', handle: 'never-made' });
  });

  test('no server: ServiceUnavailableError naming the socket and how to start arbord', async () => {
    const lost = await GrpcClient.connect(`unix://${f.dir}/nobody.sock`);
    const err: unknown = await lost.ping().catch((e: unknown) => e);
    lost.close();
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect((err as Error).message).toContain(`unix://${f.dir}/nobody.sock`);
    expect((err as Error).message).toContain('arbord');
  });
});

describe('processes', () => {
  let c: Container;
  beforeAll(async () => {
    c = await client.create({ handle: 'proc-1' });
  });
  afterAll(async () => {
    await client.destroy('proc-1');
  });

  test('stdout arrives, then the exit status', async () => {
    const stdout = new Sink();
    const p = await c.run({ path: 'echo', args: ['hi'] }, { stdout });
    expect(p.id).not.toBe('');
    expect(await p.wait()).toBe(0);
    expect(stdout.text).toBe('hi\n');
  });

  test('stdin is piped in and closed at its end', async () => {
    const stdout = new Sink();
    const p = await c.run({ path: 'cat' }, { stdin: Readable.from([Buffer.from('one '), Buffer.from('two')]), stdout });
    expect(await p.wait()).toBe(0);
    expect(stdout.text).toBe('one two');
  });

  test('stderr and a non-zero exit code', async () => {
    const stdout = new Sink();
    const stderr = new Sink();
    const p = await c.run({ path: 'sh', args: ['-c', 'echo failing >&2; exit 3'] }, { stdout, stderr });
    expect(await p.wait()).toBe(3);
    expect(stderr.text).toBe('failing\n');
    await expect(p.signal('SIGTERM')).rejects.toBeInstanceOf(ProcessNotFoundError);
  });

  test('a missing executable fails run itself', async () => {
    await expect(c.run({ path: 'no-such-program' }, {})).rejects.toBeInstanceOf(ExecutableNotFoundError);
  });

  test('every byte is written before wait resolves, and a slow writer holds the process back', async () => {
    const total = 24 * 1024 * 1024;
    let maxAhead = 0;
    const stdout = new Sink(4, false);
    const accepted0 = stdoutAccepted;
    const sampler = setInterval(() => {
      maxAhead = Math.max(maxAhead, stdoutAccepted - accepted0 - stdout.length);
    }, 2);
    const p = await c.run({ path: 'head', args: ['-c', String(total), '/dev/zero'] }, { stdout });
    const status = await p.wait();
    clearInterval(sampler);
    expect(status).toBe(0);
    expect(stdout.length).toBe(total);
    // what the server took but the client has not yet written stays small: memory is bounded
    expect(maxAhead).toBeLessThan(8 * 1024 * 1024);
  }, 60_000);

  test('detach leaves the process running; attach gets its exit status', async () => {
    const detach = new AbortController();
    const p = await c.run({ path: 'sleep', args: ['1000'] }, { detach: detach.signal });
    detach.abort();
    await expect(p.wait()).rejects.toThrow(/detached/);
    expect((await c.info()).processIds).toContain(p.id);
    const again = await c.attach(p.id, {});
    expect(again.id).toBe(p.id);
    await again.signal('SIGTERM');
    expect(await again.wait()).toBe(143);
  });

  test('attach to an unknown process id fails with ProcessNotFoundError', async () => {
    await expect(c.attach('nope', {})).rejects.toMatchObject({ name: 'ProcessNotFoundError', processId: 'nope' });
  });

  test('a stdin that never ends can be written to while the process runs', async () => {
    const stdin = new PassThrough();
    const stdout = new Sink();
    const p = await c.run({ path: 'cat' }, { stdin, stdout });
    stdin.write('ping');
    await eventually(() => expect(stdout.text).toBe('ping'), 5000, 10);
    stdin.end();
    expect(await p.wait()).toBe(0);
  });
});

describe('files', () => {
  let c: Container;
  beforeAll(async () => {
    c = await client.create({ handle: 'files-1' });
  });
  afterAll(async () => {
    await client.destroy('files-1');
  });

  test('streamIn then streamOut gives back the files', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const tar = await tarOf({ 'hello.txt': 'hello\n', 'big.bin': big });
    await c.streamIn({ path: '/app', tar: Readable.from([tar]) });
    const files = await filesOf(await c.streamOut({ path: '/app' }));
    const named = (suffix: string) => Object.entries(files).find(([name]) => name.endsWith(suffix))?.[1];
    expect(named('hello.txt')?.toString()).toBe('hello\n');
    expect(named('big.bin')?.equals(big)).toBe(true);
  });

  test('streamOut of a missing path rejects before any byte, as it does in-process', async () => {
    const remote: unknown = await c.streamOut({ path: '/nowhere' }).catch((e: unknown) => e);
    const { backend: local } = await composeBackend(fakeBackendModule, {});
    await local.start();
    const localContainer = await local.create({ handle: 'files-1' });
    const expected: unknown = await localContainer.streamOut({ path: '/nowhere' }).catch((e: unknown) => e);
    await local.stop();
    expect(ArborError.is(expected)).toBe(true);
    expect(remote).toBeInstanceOf((expected as ArborError).constructor);
    expect(remote).toMatchObject({ kind: (expected as ArborError).kind, message: (expected as ArborError).message });
  });

  test('a stream that is not a tar fails with InvalidTarError', async () => {
    const garbage = Readable.from([Buffer.alloc(1536, 'x')]);
    await expect(c.streamIn({ path: '/app', tar: garbage })).rejects.toBeInstanceOf(InvalidTarError);
  });

  test('a failing tar source fails streamIn with its own error', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk read failed'));
      },
    });
    await expect(c.streamIn({ path: '/app', tar: failing })).rejects.toThrow('disk read failed');
  });

  test('streamIn to an unknown container rejects with ContainerNotFoundError', async () => {
    const gone = await client.create({ handle: 'files-gone' });
    await client.destroy('files-gone');
    const tar = await tarOf({ 'a.txt': 'a' });
    await expect(gone.streamIn({ path: '/app', tar: Readable.from([tar]) })).rejects.toBeInstanceOf(ContainerNotFoundError);
  });
});
