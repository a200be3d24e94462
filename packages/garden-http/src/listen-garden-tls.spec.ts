// Garden's HTTP front on TCP with TLS: a client certificate signed by the CA is required,
// unless anonymous clients were asked for; raw HTTP inside node:tls.
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { fakeBackendModule } from '@arbor/backend-fake';
import { fakeShellModule } from '@arbor/fake-shell';
import { composeBackend } from '@arbor/core';
import type { Backend } from '@arbor/core';
import { GardenHttpServer } from './garden-http-server';
import { listenGarden } from './listen-garden';
import type { GardenListener } from './listen-garden';
import { call } from './wire.testkit';
import { selfSignedCert } from '@arbor/testkit';

let cert: Buffer;
let key: Buffer;
let backend: Backend;

beforeAll(async () => {
  const pair = await selfSignedCert();
  cert = Buffer.from(pair.cert);
  key = Buffer.from(pair.key);
  backend = (await composeBackend([fakeBackendModule, fakeShellModule], {})).backend;
  await backend.start();
});
afterAll(async () => {
  await backend?.stop();
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
