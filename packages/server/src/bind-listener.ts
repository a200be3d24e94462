import { readFile, unlink } from 'node:fs/promises';
import { bindPrivateUnixSocket } from '@arbor/garden-http';
import { ServerCredentials } from '@grpc/grpc-js';
import type { Server } from '@grpc/grpc-js';
import { ConfigError, parseListen } from './arbor-config';
import type { ArborConfig } from './arbor-config';

/** BoundListener is where the server listens, as a client would dial it, and how to clean up. */
export interface BoundListener {
  /** address is like 'unix:///run/arbor/arbord.sock' or '127.0.0.1:7777'. */
  address: string;
  /** cleanup removes the socket file, if any. */
  cleanup(): Promise<void>;
}

function bind(server: Server, target: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(target, credentials, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

async function readPem(path: string, field: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ConfigError(field, `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * bindListener binds the server as config.listen says: a unix socket (parent created, stale
 * socket removed, mode 0600) or TCP (TLS with required client certificates unless insecureTcp or
 * tls.insecureAnonymousClients; port 0 picks a free port).
 */
export async function bindListener(server: Server, config: ArborConfig): Promise<BoundListener> {
  const listener = parseListen(config.listen);
  if (listener.kind === 'unix') {
    const { path } = listener;
    await bindPrivateUnixSocket(
      path,
      async (tempPath) => {
        await bind(server, `unix://${tempPath}`, ServerCredentials.createInsecure());
      },
      (message) => new ConfigError('listen', message),
    );
    return {
      address: `unix://${path}`,
      cleanup: () => unlink(path).catch(() => undefined),
    };
  }
  const { tls } = config;
  let credentials = ServerCredentials.createInsecure();
  if (tls.cert !== '') {
    const [cert, key, ca] = await Promise.all([
      readPem(tls.cert, 'tls.cert'),
      readPem(tls.key, 'tls.key'),
      tls.ca === '' ? Promise.resolve(null) : readPem(tls.ca, 'tls.ca'),
    ]);
    // validateConfig has made sure there is a CA unless anonymous clients were asked for
    credentials = ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], !tls.insecureAnonymousClients);
  }
  const port = await bind(server, `${listener.host}:${listener.port}`, credentials);
  return { address: `${listener.host}:${port}`, cleanup: async () => undefined };
}
