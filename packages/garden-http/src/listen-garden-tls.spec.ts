// Garden's HTTP front on TCP with TLS: a client certificate signed by the CA is required,
// unless anonymous clients were asked for; raw HTTP inside node:tls.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { fakeBackendModule } from '@arbor/backend-fake';
import { composeBackend } from '@arbor/core';
import type { Backend } from '@arbor/core';
import { GardenHttpServer } from './garden-http-server';
import { listenGarden } from './listen-garden';
import type { GardenListener } from './listen-garden';
import { call } from './wire.testkit';

let dir: string;
let cert: Buffer;
let key: Buffer;
let backend: Backend;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'garden-tls-'));
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    join(dir, 'k.pem'),
    '-out',
    join(dir, 'c.pem'),
  ]);
  cert = await readFile(join(dir, 'c.pem'));
  key = await readFile(join(dir, 'k.pem'));
  backend = (await composeBackend(fakeBackendModule, {})).backend;
  await backend.start();
});
afterAll(async () => {
  await backend?.stop();
  await rm(dir, { recursive: true, force: true });
});

function target(listener: GardenListener, withCert: boolean) {
  const port = Number(listener.address.split(':').pop());
  return {
    connect: () =>
      new Promise<TLSSocket>((resolve, reject) => {
        // the server's self-signed pair doubles as a client certificate signed by the CA
        const socket = connect({ host: '127.0.0.1', port, ca: cert, ...(withCert && { cert, key }) }, () => resolve(socket));
        socket.once('error', reject);
      }),
  };
}

describe('Garden HTTP front over TLS', () => {
  it('serves clients with a certificate signed by tls.ca and refuses the others', async () => {
    const listener = await listenGarden(new GardenHttpServer(backend), {
      kind: 'tcp',
      host: '127.0.0.1',
      port: 0,
      tls: { cert, key, ca: cert, anonymousClients: false },
    });
    try {
      expect((await call(target(listener, true), 'GET', '/ping')).body.toString()).toBe('{}\n');
      await expect(call(target(listener, false), 'GET', '/ping')).rejects.toThrow();
    } finally {
      await listener.close(1000);
    }
  });

  it('lets anonymous clients in only when asked to', async () => {
    const listener = await listenGarden(new GardenHttpServer(backend), {
      kind: 'tcp',
      host: '127.0.0.1',
      port: 0,
      tls: { cert, key, anonymousClients: true },
    });
    try {
      expect((await call(target(listener, false), 'GET', '/ping')).status).toBe(200);
    } finally {
      await listener.close(1000);
    }
  });
});
