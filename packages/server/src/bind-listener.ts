import { chmod, lstat, mkdir, mkdtemp, readFile, rename, rm, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
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

/** isListening tells whether something accepts connections on the unix socket at path. */
function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** removeStaleSocket deletes a socket file left by a daemon that is gone; refuses a live one. */
async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!stat) return;
  if (!stat.isSocket()) {
    throw new ConfigError('listen', `${path} exists and is not a socket: remove it or choose another path`);
  }
  if (await isListening(path)) {
    throw new ConfigError('listen', `another server is listening on unix://${path}: stop it or choose another path`);
  }
  await unlink(path);
}

/**
 * bindPrivately binds a unix socket that is 0600 from the moment it exists at path. It is
 * bound in a fresh 0700 directory beside path, like /run/arbor/.bind-x1y2z3/s, where no one
 * else can connect whatever its mode, made 0600 there, and renamed into place: binding at path
 * and chmod-ing after would leave a moment in which any local user could connect to an API
 * that can do what root can.
 */
async function bindPrivately(server: Server, path: string): Promise<void> {
  const privateDir = await mkdtemp(join(dirname(path), '.bind-'));
  try {
    const bound = join(privateDir, 's');
    await bind(server, `unix://${bound}`, ServerCredentials.createInsecure());
    await chmod(bound, 0o600);
    await rename(bound, path);
  } finally {
    await rm(privateDir, { recursive: true, force: true });
  }
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
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await removeStaleSocket(path);
    await bindPrivately(server, path);
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
