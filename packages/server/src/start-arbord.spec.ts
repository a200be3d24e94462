import { spawn } from 'node:child_process';
import { statSync, watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Metadata, credentials, loadPackageDefinition, status } from '@grpc/grpc-js';
import type { ChannelCredentials, Client, ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { silentLogger } from '@arbor/core';
import { selfSignedCert } from '@arbor/testkit';
import { BindMountMode, ContainerSpec, GardenClient, ProcessSpec } from '@arbor/proto';
import type { CreateResponse, CurrentLimitsResponse, ProcessOutput } from '@arbor/proto';
import { pack } from 'tar-stream';
import { JsonLogger } from './json-logger';
import { startArbord } from './start-arbord';
import type { RunningArbord, StartOptions } from './start-arbord';
import type { ArborConfigInput } from './arbor-config';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arbord-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function start(config: ArborConfigInput, options: StartOptions = {}): Promise<RunningArbord> {
  return startArbord(
    // the fake backend: these tests are about the server, not about containers
    { backend: 'fake', stateDir: join(dir, 'state'), listen: `unix://${dir}/arbord.sock`, ...config },
    { logger: silentLogger, shutdownTimeoutMs: 500, ...options },
  );
}

/** GrpcMethod is a method of a client built from a .proto at run time, like Health's check. */
type GrpcMethod = (this: Client, ...args: unknown[]) => unknown;

function unary<Res>(fn: (cb: (err: ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
}

function garden(address: string, creds: ChannelCredentials = credentials.createInsecure()): GardenClient {
  // TLS: the certificate names localhost; dialling 127.0.0.1 as such avoids SNI with an IP
  return new GardenClient(address, creds, { 'grpc.ssl_target_name_override': 'localhost' });
}

const emptySpec = (): ContainerSpec => ContainerSpec.create();

describe('unix socket', () => {
  test('the socket is created with its parent directory, mode 0600, and removed at stop', async () => {
    const path = join(dir, 'nested', 'deeper', 'arbord.sock');
    const arbord = await start({ listen: `unix://${path}` });
    expect(arbord.address).toBe(`unix://${path}`);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const client = garden(arbord.address);
    await unary((cb) => client.ping({}, cb));
    client.close();
    await arbord.stop();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('the socket appears at its path already 0600, and its mode never changes after: there is no moment anyone may connect', async () => {
    const parent = join(dir, 'watched');
    await mkdir(parent);
    const name = 'arbord.sock';
    const events: string[] = [];
    let modeAtFirstSight: number | undefined;
    // inotify on the directory sees the socket come (rename) and any chmod of it (change)
    const watcher = watch(parent, (event, file) => {
      if (file !== name) return;
      events.push(event);
      if (modeAtFirstSight === undefined) modeAtFirstSight = statSync(join(parent, name), { throwIfNoEntry: false })?.mode;
    });
    const arbord = await start({ listen: `unix://${parent}/${name}` });
    await new Promise((resolve) => setTimeout(resolve, 200));
    watcher.close();
    expect(events).toEqual(['rename']);
    expect((modeAtFirstSight ?? 0) & 0o777).toBe(0o600);
    expect((await stat(join(parent, name))).mode & 0o777).toBe(0o600);
    // nothing is left behind of how it was made
    expect(await readdir(parent)).toEqual([name]);
    await arbord.stop();
    expect(await readdir(parent)).toEqual([]);
  });

  test('a stale socket file left by a killed daemon is replaced', async () => {
    const path = join(dir, 'stale.sock');
    // a process that binds the socket and dies without cleaning up
    await new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [
        '-e',
        `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
      ]);
      child.on('exit', () => resolve());
    });
    expect((await stat(path)).isSocket()).toBe(true);
    const arbord = await start({ listen: `unix://${path}` });
    const client = garden(arbord.address);
    await unary((cb) => client.ping({}, cb));
    client.close();
    await arbord.stop();
  });

  test('a socket someone is listening on is not taken over', async () => {
    const path = join(dir, 'busy.sock');
    const other: NetServer = createServer();
    await new Promise<void>((resolve) => other.listen(path, resolve));
    await expect(start({ listen: `unix://${path}` })).rejects.toThrow(/another server is listening on unix:\/\/.*busy\.sock/);
    await new Promise((resolve) => other.close(resolve));
  });
});

describe('tcp', () => {
  test('refused without TLS, saying how to allow it', async () => {
    await expect(start({ listen: 'tcp://127.0.0.1:0' })).rejects.toThrow(/TCP without TLS is refused.*insecureTcp/);
  });

  test('plaintext when insecureTcp is set, on the port the OS picked', async () => {
    const arbord = await start({ listen: 'tcp://127.0.0.1:0', insecureTcp: true });
    expect(arbord.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(arbord.address).not.toBe('127.0.0.1:0');
    const client = garden(arbord.address);
    await unary((cb) => client.ping({}, cb));
    client.close();
    await arbord.stop();
  });

  test('TLS without tls.ca is refused: clients would need no certificate', async () => {
    await expect(start({ listen: 'tcp://127.0.0.1:0', tls: { cert: '/c.pem', key: '/k.pem' } })).rejects.toThrow(/tls\.ca: TCP needs client certificates/);
  });

  test('TLS, and a required client certificate', async () => {
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    const pair = await selfSignedCert();
    await writeFile(cert, pair.cert);
    await writeFile(key, pair.key, { mode: 0o600 });
    const pem = Buffer.from(pair.cert);
    const keyPem = Buffer.from(pair.key);
    const arbord = await start({ listen: 'tcp://127.0.0.1:0', tls: { cert, key, ca: cert } });
    // the server's own self-signed pair doubles as a client certificate signed by the CA
    const withCert = garden(arbord.address, credentials.createSsl(pem, keyPem, pem));
    await unary((cb) => withCert.ping({}, cb));
    withCert.close();
    const withoutCert = garden(arbord.address, credentials.createSsl(pem));
    await expect(unary((cb) => withoutCert.ping({}, new Metadata(), { deadline: Date.now() + 3000 }, cb))).rejects.toMatchObject({
      code: expect.any(Number),
    });
    withoutCert.close();
    await arbord.stop();
  });
});

describe('serving', () => {
  let arbord: RunningArbord;
  const lines: string[] = [];
  beforeAll(async () => {
    arbord = await start(
      { listen: `unix://${dir}/serving.sock` },
      { logger: new JsonLogger({ level: 'debug', sink: { write: (line: string) => lines.push(line) } }) },
    );
  });
  afterAll(async () => {
    await arbord.stop();
  });

  test('an unknown backend fails start, listing the valid ones', async () => {
    await expect(start({ backend: 'x' })).rejects.toThrow("unknown backend 'x': valid backends are linux, runc, fake");
  });

  test('health reports SERVING for the server and for arbor.v1.Garden', async () => {
    const def = loadSync(healthProtoPath, { enums: String });
    const pkg = loadPackageDefinition(def) as unknown as {
      grpc: { health: { v1: { Health: new (address: string, creds: ChannelCredentials) => Client & Record<string, GrpcMethod> } } };
    };
    const health = new pkg.grpc.health.v1.Health(arbord.address, credentials.createInsecure());
    for (const service of ['', 'arbor.v1.Garden']) {
      const res = await unary<{ status: string }>((cb) => health['check']?.call(health, { service }, cb));
      expect(res.status).toBe('SERVING');
    }
    health.close();
  });

  test('reflection lists arbor.v1.Garden', async () => {
    const reflectionProto = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1alpha/reflection.proto');
    const pkg = loadPackageDefinition(loadSync(reflectionProto)) as unknown as {
      grpc: { reflection: { v1alpha: { ServerReflection: new (a: string, c: ChannelCredentials) => Client & Record<string, GrpcMethod> } } };
    };
    const reflection = new pkg.grpc.reflection.v1alpha.ServerReflection(arbord.address, credentials.createInsecure());
    const call = reflection['serverReflectionInfo']?.call(reflection) as NodeJS.ReadWriteStream;
    const answer = new Promise<{ listServicesResponse: { service: Array<{ name: string }> } }>((resolve, reject) => {
      call.on('data', resolve);
      call.on('error', reject);
    });
    call.write({ listServices: '' } as never);
    const services = (await answer).listServicesResponse.service.map((s) => s.name);
    call.end();
    reflection.close();
    expect(services).toContain('arbor.v1.Garden');
  });

  test('an unknown enum value is INVALID_ARGUMENT naming the field', async () => {
    const client = garden(arbord.address);
    const spec = { ...emptySpec(), bindMounts: [{ srcPath: '/a', dstPath: '/b', mode: 7 as BindMountMode, origin: 0, idmap: false }] };
    const err = await unary((cb) => client.create({ spec }, cb)).catch((e: ServiceError) => e);
    client.close();
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((err as ServiceError).details).toContain('bindMounts[0].mode: unknown value 7');
  });

  test('a number too big for the server is INVALID_ARGUMENT, not INTERNAL', async () => {
    const client = garden(arbord.address);
    const err = await unary((cb) => client.create({ spec: { ...emptySpec(), graceTimeMs: 2 ** 60 } }, cb)).catch((e: ServiceError) => e);
    client.close();
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((err as ServiceError).details).toMatch(/^request: cannot decode/);
  });

  test('a container created without a pid limit reports the default one, 4096', async () => {
    const client = garden(arbord.address);
    await unary((cb) => client.create({ spec: { ...emptySpec(), handle: 'default-pids-1' } }, cb));
    const res = await unary<CurrentLimitsResponse>((cb) => client.currentLimits({ handle: 'default-pids-1' }, cb));
    client.close();
    expect(res.limits?.pid).toEqual({ max: 4096 });
  });

  test('each call logs JSON lines carrying its handle', async () => {
    const client = garden(arbord.address);
    await unary<CreateResponse>((cb) => client.create({ spec: { ...emptySpec(), handle: 'logged-1' } }, cb));
    await unary((cb) => client.info({ handle: 'missing-1' }, cb)).catch(() => undefined);
    client.close();
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toContainEqual(
      expect.objectContaining({ level: 'info', event: 'container-created', rpc: 'Create', handle: 'logged-1', time: expect.any(String) }),
    );
    expect(events).toContainEqual(expect.objectContaining({ event: 'call-failed', rpc: 'Info', handle: 'missing-1' }));
  });

  test('Run streams started first, then output, then exit_status last, then ends', async () => {
    const client = garden(arbord.address);
    await unary((cb) => client.create({ spec: { ...emptySpec(), handle: 'run-proto-1' } }, cb));
    const call = client.run();
    const outputs: ProcessOutput[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (m: ProcessOutput) => outputs.push(m));
      call.on('end', resolve);
      call.on('error', reject);
    });
    const spec = { ...ProcessSpec.create(), path: 'sh', args: ['-c', 'cat; echo done >&2; exit 4'] };
    call.write({ input: { $case: 'start', value: { handle: 'run-proto-1', spec } } });
    call.write({ input: { $case: 'stdin', value: Buffer.from('in-bytes') } });
    call.write({ input: { $case: 'stdinClose', value: true } });
    await ended;
    client.close();
    const cases = outputs.map((m) => m.output?.$case);
    expect(cases[0]).toBe('started');
    expect(cases[cases.length - 1]).toBe('exitStatus');
    expect(outputs[outputs.length - 1]?.output).toEqual({ $case: 'exitStatus', value: 4 });
    const bytes = (kind: 'stdout' | 'stderr') => Buffer.concat(outputs.flatMap((m) => (m.output?.$case === kind ? [m.output.value] : []))).toString();
    expect(bytes('stdout')).toBe('in-bytes');
    expect(bytes('stderr')).toBe('done\n');
  });

  test('Run on an unknown handle ends with NOT_FOUND before anything is sent', async () => {
    const client = garden(arbord.address);
    const call = client.run();
    const outputs: ProcessOutput[] = [];
    const failed = new Promise<ServiceError>((resolve) => {
      call.on('data', (m: ProcessOutput) => outputs.push(m));
      call.on('error', resolve);
    });
    call.write({ input: { $case: 'start', value: { handle: 'nobody', spec: { ...ProcessSpec.create(), path: 'true' } } } });
    const err = await failed;
    client.close();
    expect(err.code).toBe(status.NOT_FOUND);
    expect(outputs).toEqual([]);
  });

  test('StreamOut sends the tar in messages of at most 64 KiB', async () => {
    const client = garden(arbord.address);
    await unary((cb) => client.create({ spec: { ...emptySpec(), handle: 'stream-proto-1' } }, cb));
    const content = Buffer.alloc(300 * 1024, 1);
    const tar = pack();
    tar.entry({ name: 'big.bin' }, content);
    tar.finalize();
    const tarBytes: Buffer[] = [];
    for await (const chunk of tar) tarBytes.push(chunk as Buffer);
    await new Promise<void>((resolve, reject) => {
      const call = client.streamIn((err) => (err ? reject(err) : resolve()));
      call.write({ part: { $case: 'header', value: { handle: 'stream-proto-1', path: '/data', user: '' } } });
      call.write({ part: { $case: 'tar', value: Buffer.concat(tarBytes) } });
      call.end();
    });
    const sizes: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const out = client.streamOut({ handle: 'stream-proto-1', path: '/data/big.bin', user: '' });
      out.on('data', (m: { tar: Buffer }) => sizes.push(m.tar.length));
      out.on('end', resolve);
      out.on('error', reject);
    });
    client.close();
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(content.length);
  });
});
