import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { sha256Of } from '../digest';

export interface FakeRegistryOptions {
  /** auth: 'bearer' sends a token challenge, 'basic' a Basic one, 'none' serves everyone. */
  auth: 'bearer' | 'basic' | 'none';
  username?: string;
  password?: string;
  /** tls serves https with this PEM pair (see selfSignedCert) instead of http. */
  tls?: { cert: string; key: string };
  /** plainToo, with tls, answers plain http on the same port as well: http://<host>/ is then this same server. */
  plainToo?: boolean;
  /** address is the loopback address to listen on; default 127.0.0.1. */
  address?: string;
  /** realm is the token realm the Bearer challenge names; by default this server's /token. */
  realm?: string;
  /** anonymousTokens hands tokens to requests without credentials too, like Docker Hub for public images. */
  anonymousTokens?: boolean;
  /** redirectBlobs answers blob requests with a 307 to <redirectBlobs>/<digest>, like a registry in front of a CDN. */
  redirectBlobs?: string;
}

/** FakeRequest is one request the fake saw, like { path: '/token', authorization: 'Basic Y2k6czNjcmV0' }. */
export interface FakeRequest {
  path: string;
  authorization: string | undefined;
}

/**
 * FakeRegistry is a small Distribution API v2 server on loopback for unit tests: it serves
 * blobs and manifests put into it, with token or basic auth, counts blob requests and
 * records every request's Authorization header. Any path under /blobs-cdn/ serves a blob
 * by digest without auth, as blob storage a registry redirects to.
 */
export class FakeRegistry {
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { body: Buffer; mediaType: string }>();
  readonly requests: FakeRequest[] = [];
  /** redirectBlobs starts as options.redirectBlobs; a test may set it once the port is known. */
  redirectBlobs: string | undefined;
  blobRequests = 0;
  tokenRequests = 0;
  private server: Server | NetServer | undefined;
  private readonly token = 'secret-token';
  private servers: Server[] = [];
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: FakeRegistryOptions) {
    this.redirectBlobs = options.redirectBlobs;
  }

  get host(): string {
    return `${this.options.address ?? '127.0.0.1'}:${(this.server?.address() as AddressInfo).port}`;
  }

  /** url is this server's origin, like 'https://127.0.0.1:41234'. */
  get url(): string {
    return `${this.options.tls === undefined ? 'http' : 'https'}://${this.host}`;
  }

  addBlob(bytes: Buffer): string {
    const digest = sha256Of(bytes);
    this.blobs.set(digest, bytes);
    return digest;
  }

  /** addManifest stores a manifest under its digest and the given tags; returns its digest. */
  addManifest(body: object, mediaType: string, tags: string[] = []): string {
    const bytes = Buffer.from(JSON.stringify(body));
    const digest = sha256Of(bytes);
    for (const ref of [digest, ...tags]) this.manifests.set(ref, { body: bytes, mediaType });
    return digest;
  }

  async start(): Promise<void> {
    const handle = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res);
    const plain = createServer(handle);
    const tls = this.options.tls === undefined ? undefined : createTlsServer(this.options.tls, handle);
    this.servers = [plain, ...(tls === undefined ? [] : [tls])];
    if (tls !== undefined && this.options.plainToo === true) {
      // one port, both protocols: a TLS connection starts with a handshake record (0x16)
      this.server = createNetServer((socket) => {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        socket.once('readable', () => {
          const head = socket.read(1) as Buffer | null;
          if (head === null) return;
          socket.unshift(head);
          (head[0] === 0x16 ? tls : plain).emit('connection', socket);
        });
      });
    } else {
      this.server = tls ?? plain;
    }
    await new Promise<void>((resolve) => this.server?.listen(0, this.options.address ?? '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    for (const server of this.servers) server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private basic(): string {
    return `Basic ${Buffer.from(`${this.options.username ?? ''}:${this.options.password ?? ''}`).toString('base64')}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ path: url.pathname, authorization: req.headers.authorization });
    const cdn = /^\/blobs-cdn\/([^/]+)$/.exec(url.pathname);
    if (cdn !== null) {
      const blob = this.blobs.get(decodeURIComponent(cdn[1] ?? ''));
      if (blob === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length }).end(blob);
      return;
    }
    if (url.pathname === '/token') {
      this.tokenRequests += 1;
      const anonymous = this.options.anonymousTokens === true && req.headers.authorization === undefined;
      if ((!anonymous && req.headers.authorization !== this.basic()) || url.searchParams.get('service') !== 'fake') {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: this.token }));
      return;
    }
    if (this.options.auth === 'bearer' && req.headers.authorization !== `Bearer ${this.token}`) {
      res
        .writeHead(401, { 'www-authenticate': `Bearer realm="${this.options.realm ?? `${this.url}/token`}",service="fake",scope="repository:x:pull"` })
        .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    if (this.options.auth === 'basic' && req.headers.authorization !== this.basic()) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
      return;
    }
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (match?.[2] === 'manifests') {
      const manifest = this.manifests.get(match[3] ?? '');
      if (manifest === undefined) {
        res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': manifest.mediaType, 'docker-content-digest': sha256Of(manifest.body) }).end(manifest.body);
      return;
    }
    if (match?.[2] === 'blobs') {
      this.blobRequests += 1;
      if (this.redirectBlobs !== undefined) {
        res.writeHead(307, { location: `${this.redirectBlobs}/${match[3] ?? ''}` }).end();
        return;
      }
      const blob = this.blobs.get(match[3] ?? '');
      if (blob === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length }).end(blob);
      return;
    }
    res.writeHead(404).end();
  }
}
