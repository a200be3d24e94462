// End to end: a real arbord (packages/server/dist/main.js, fake backend) on a loopback TCP
// port with TLS, reached by GrpcClient and by the built arbor CLI. TCP reaches the API,
// which is root on the host, from anyone who can reach the port: only a client certificate
// signed by tls.ca may use it.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PermissionDeniedError, ServiceUnavailableError } from '@arbor/core';
import { GrpcClient } from './grpc-client';
import type { TlsOptions } from './grpc-client';

const run = promisify(execFile);
const ARBORD = join(__dirname, '..', '..', 'server', 'dist', 'main.js');
const CLI = join(__dirname, '..', 'dist', 'cli.js');

let dir: string;
/** pki holds the PEM file paths: ca signs server and client; other-ca signs rogue. */
const pki = {
  ca: '',
  serverCert: '',
  serverKey: '',
  clientCert: '',
  clientKey: '',
  otherCa: '',
  rogueCert: '',
  rogueKey: '',
};

async function openssl(...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** makeCa writes name.crt and name.key, a self-signed CA. */
async function makeCa(name: string): Promise<void> {
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`);
}

/** makeLeaf writes name.crt and name.key signed by ca, for the given extensions (like subjectAltName). */
async function makeLeaf(name: string, ca: string, ext: string): Promise<void> {
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  await writeFile(join(dir, `${name}.ext`), `${ext}\n`);
  await openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  );
}

// each test starts a real arbord (node loading its backends): seconds on a busy 2-core host
jest.setTimeout(30_000);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arbor-mtls-'));
  await makeCa('ca');
  await makeCa('other-ca');
  await makeLeaf('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
  await makeLeaf('client', 'ca', 'extendedKeyUsage=clientAuth');
  await makeLeaf('rogue', 'other-ca', 'extendedKeyUsage=clientAuth');
  Object.assign(pki, {
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    otherCa: join(dir, 'other-ca.crt'),
    rogueCert: join(dir, 'rogue.crt'),
    rogueKey: join(dir, 'rogue.key'),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** collect runs a process to its end. */
function collect(child: ChildProcess): Promise<Exited> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function arbordProcess(args: string[]): ChildProcess {
  return spawn(process.execPath, [ARBORD, '--backend', 'fake', '--state-dir', join(dir, 'state'), '--listen', 'tcp://127.0.0.1:0', ...args], {
    env: { PATH: process.env['PATH'] },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

interface Arbord {
  address: string;
  /** log is what arbord wrote so far, JSON lines. */
  log(): string;
  stop(): Promise<void>;
}

/** startArbord runs the real arbord and waits for its arbord-started line, which names the port. */
function startArbord(args: string[]): Promise<Arbord> {
  const child = arbordProcess(args);
  const exited = collect(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const onData = (): void => {
      const started = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event?: string; address?: string })
        .find((e) => e.event === 'arbord-started');
      if (!started?.address) return;
      child.stdout?.off('data', onData);
      resolve({
        address: started.address,
        log: () => out,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      });
    };
    child.stdout?.on('data', onData);
    void exited.then((e) => reject(new Error(`arbord exited ${String(e.code)} before it started: ${e.stderr}`)));
  });
}

async function tls(files: { ca?: string; cert?: string; key?: string }): Promise<TlsOptions> {
  return {
    ...(files.ca && { ca: await readFile(files.ca) }),
    ...(files.cert && { cert: await readFile(files.cert) }),
    ...(files.key && { key: await readFile(files.key) }),
  };
}

/** pingWith connects with the given TLS files and pings; resolves with the error, if any. */
async function pingWith(address: string, files: { ca?: string; cert?: string; key?: string }): Promise<unknown> {
  const client = await GrpcClient.connect({ address, tls: await tls(files) });
  try {
    await client.ping();
    return undefined;
  } catch (err) {
    return err;
  } finally {
    client.close();
  }
}

function arbor(args: string[]): Promise<Exited> {
  return collect(spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env['PATH'] }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

describe('arbord on TCP with TLS', () => {
  test('refuses to start without tls.ca, naming the key and the flag that allows anonymous clients', async () => {
    const child = arbordProcess(['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey]);
    // one that starts anyway is stopped, and fails the test below
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const exited = await collect(child);
    clearTimeout(timer);
    expect(exited.code).toBe(1);
    expect(exited.stderr).toMatch(/tls\.ca.*--tls-ca/);
    expect(exited.stderr).toContain('--tls-insecure-anonymous-clients');
  });

  describe('with tls.ca: client certificates are required', () => {
    let arbord: Arbord;
    beforeAll(async () => {
      arbord = await startArbord(['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--tls-ca', pki.ca]);
    });
    afterAll(async () => {
      await arbord.stop();
    });

    test('a client with a certificate signed by tls.ca is served', async () => {
      expect(await pingWith(arbord.address, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey })).toBeUndefined();
      const client = await GrpcClient.connect({ address: `tcp://${arbord.address}`, tls: await tls({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }) });
      const container = await client.create({ handle: 'mtls-1' });
      expect((await client.containers()).map((c) => c.handle)).toEqual(['mtls-1']);
      await client.destroy(container.handle);
      client.close();
    });

    test('a client without a certificate is refused, and told it needs one', async () => {
      const err = await pingWith(arbord.address, { ca: pki.ca });
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect((err as Error).message).toMatch(/client certificate/);
    });

    test('a client with a certificate signed by another CA is refused', async () => {
      const err = await pingWith(arbord.address, { ca: pki.ca, cert: pki.rogueCert, key: pki.rogueKey });
      // Node's TLS server closes the connection without an alert saying why: the client can only suspect
      expect(err).toBeInstanceOf(ServiceUnavailableError);
      expect((err as Error).message).toMatch(/does not trust the client certificate given: is it signed by arbord's tls\.ca\?/);
    });

    test('the CLI: --tls-ca, --tls-cert and --tls-key reach it; without a certificate or with a foreign one it is refused', async () => {
      const address = ['--address', arbord.address];
      expect(await arbor([...address, '--tls-ca', pki.ca, '--tls-cert', pki.clientCert, '--tls-key', pki.clientKey, 'ping'])).toMatchObject({
        code: 0,
        stdout: 'ok\n',
      });
      const anonymous = await arbor([...address, '--tls-ca', pki.ca, 'ping']);
      expect(anonymous.code).toBe(1);
      expect(anonymous.stderr).toMatch(/client certificate.*--tls-cert/);
      const rogue = await arbor([...address, '--tls-ca', pki.ca, '--tls-cert', pki.rogueCert, '--tls-key', pki.rogueKey, 'ping']);
      expect(rogue.code).toBe(1);
      expect(rogue.stderr).toMatch(/client certificate/);
      const plaintext = await arbor([...address, 'ping']);
      expect(plaintext.code).toBe(1);
    });

    test('a certificate without its key is refused before anything is sent', async () => {
      const cert = await readFile(pki.clientCert);
      await expect(GrpcClient.connect({ address: arbord.address, tls: { cert } })).rejects.toMatchObject({
        name: 'InvalidArgumentError',
        field: 'tls.key',
      });
    });

    test('the CLI refuses a certificate without its key as a usage error', async () => {
      const half = await arbor(['--address', arbord.address, '--tls-ca', pki.ca, '--tls-cert', pki.clientCert, 'ping']);
      expect(half.code).toBe(2);
      expect(half.stderr).toMatch(/--tls-cert and --tls-key/);
    });
  });

  test('--tls-insecure-anonymous-clients lets a client without a certificate in, and arbord says so in its log', async () => {
    const arbord = await startArbord(['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--tls-insecure-anonymous-clients']);
    try {
      expect(await pingWith(arbord.address, { ca: pki.ca })).toBeUndefined();
      expect(arbord.log()).toMatch(/"event":"insecure-tls-anonymous-clients-allowed"/);
    } finally {
      await arbord.stop();
    }
  });
});
