import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sha256Of } from '../digest';

export interface FakeRegistryOptions {
  /** auth: 'bearer' sends a token challenge, 'basic' a Basic one, 'none' serves everyone. */
  auth: 'bearer' | 'basic' | 'none';
  username?: string;
  password?: string;
}

/**
 * FakeRegistry is a small Distribution API v2 server on loopback for unit tests: it serves
 * blobs and manifests put into it, with token or basic auth, and counts blob requests.
 */
export class FakeRegistry {
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { body: Buffer; mediaType: string }>();
  blobRequests = 0;
  tokenRequests = 0;
  private server: Server | undefined;
  private readonly token = 'secret-token';

  constructor(private readonly options: FakeRegistryOptions) {}

  get host(): string {
    return `127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
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
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private basic(): string {
    return `Basic ${Buffer.from(`${this.options.username ?? ''}:${this.options.password ?? ''}`).toString('base64')}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', `http://${this.host}`);
    if (url.pathname === '/token') {
      this.tokenRequests += 1;
      if (req.headers.authorization !== this.basic() || url.searchParams.get('service') !== 'fake') {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: this.token }));
      return;
    }
    if (this.options.auth === 'bearer' && req.headers.authorization !== `Bearer ${this.token}`) {
      res
        .writeHead(401, { 'www-authenticate': `Bearer realm="http://${this.host}/token",service="fake",scope="repository:x:pull"` })
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
