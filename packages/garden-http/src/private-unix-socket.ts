import { chmod, lstat, mkdir, mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';

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

/**
 * bindPrivateUnixSocket serves a unix socket at path that is 0600 from the moment it exists:
 * listenAt binds it in a fresh 0700 directory beside path (like /run/arbor/.bind-x1y2z3/s),
 * where no one else can connect whatever its mode; it is made 0600 there and renamed into
 * place. Binding at path and chmod-ing after would leave a moment in which any local user
 * could connect to an API that can do what root can. The parent dir is made when missing; a
 * socket file left by a server that is gone is removed, a live one refused.
 * @throws the error refuse(message) makes, when path is not a socket or a server listens on it
 */
export async function bindPrivateUnixSocket(path: string, listenAt: (tempPath: string) => Promise<void>, refuse: (message: string) => Error): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const stat = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (stat) {
    if (!stat.isSocket()) throw refuse(`${path} exists and is not a socket: remove it or choose another path`);
    if (await isListening(path)) throw refuse(`another server is listening on unix://${path}: stop it or choose another path`);
    await unlink(path);
  }
  const privateDir = await mkdtemp(join(dirname(path), '.bind-'));
  try {
    const bound = join(privateDir, 's');
    await listenAt(bound);
    await chmod(bound, 0o600);
    await rename(bound, path);
  } finally {
    await rm(privateDir, { recursive: true, force: true });
  }
}
