import { unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { GardenHttpServer } from './garden-http-server';
import { bindPrivateUnixSocket } from './private-unix-socket';

/** GardenTls is the server's certificate and the CA of the clients it lets in (PEM bytes). */
export interface GardenTls {
  cert: Buffer;
  key: Buffer;
  /** ca verifies client certificates; required unless anonymousClients. */
  ca?: Buffer;
  /** anonymousClients lets clients in without a certificate (tls.insecureAnonymousClients). */
  anonymousClients: boolean;
}

/**
 * GardenListenTarget is where the front listens: a unix socket (mode 0600) or TCP, with TLS
 * or, when the operator asked for plaintext (insecureTcp), without.
 */
export type GardenListenTarget = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number; tls?: GardenTls };

export interface GardenListener {
  /** address is like 'unix:///run/arbor/garden.sock' or 'tcp://127.0.0.1:7777'. */
  address: string;
  /** close stops accepting, detaches streams, lets requests finish (up to timeoutMs) and removes the socket file. */
  close(timeoutMs?: number): Promise<void>;
}

/** GardenListenError says why the front cannot listen, naming the config field. */
export class GardenListenError extends Error {
  constructor(message: string) {
    super(`invalid config: gardenListen: ${message}`);
    this.name = 'GardenListenError';
  }
}

function listen(server: Server, ...args: [string] | [number, string]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (args.length === 1) server.listen(args[0], done);
    else server.listen(args[0], args[1], done);
  });
}

/**
 * listenGarden serves front on target. A unix socket is bound in a fresh 0700 directory
 * beside its path, made 0600 there and renamed into place, so no other local user can
 * connect at any moment (Garden's socket is 0777); TCP takes TLS with client certificates
 * required unless anonymousClients, the rules arbord's gRPC listener follows.
 */
export async function listenGarden(front: GardenHttpServer, target: GardenListenTarget): Promise<GardenListener> {
  const onConnection = (socket: import('node:net').Socket): void => front.handleConnection(socket);
  if (target.kind === 'unix') {
    const { path } = target;
    const server = createServer({ allowHalfOpen: true }, onConnection);
    try {
      await bindPrivateUnixSocket(
        path,
        (tempPath) => listen(server, tempPath),
        (message) => new GardenListenError(message),
      );
    } catch (err) {
      server.close();
      throw err;
    }
    return {
      address: `unix://${path}`,
      close: async (timeoutMs) => {
        server.close();
        await front.close(timeoutMs);
        await unlink(path).catch(() => undefined);
      },
    };
  }
  const { tls } = target;
  const server = tls
    ? createTlsServer(
        {
          cert: tls.cert,
          key: tls.key,
          ...(tls.ca && { ca: tls.ca }),
          requestCert: !tls.anonymousClients,
          rejectUnauthorized: !tls.anonymousClients,
          allowHalfOpen: true,
        },
        onConnection,
      )
    : createServer({ allowHalfOpen: true }, onConnection);
  // a failed handshake is the client's problem, not the server's
  server.on('tlsClientError', () => undefined);
  await listen(server, target.port, target.host.replace(/^\[(.*)\]$/, '$1'));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : target.port;
  return {
    address: `tcp://${target.host}:${port}`,
    close: async (timeoutMs) => {
      server.close();
      await front.close(timeoutMs);
    },
  };
}
