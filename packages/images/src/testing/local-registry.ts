import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';

/** freePort asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * LocalRegistry runs Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with its
 * storage in a temp dir:
 *   docker-registry serve <dir>/config.yml   with   http.addr: 127.0.0.1:<free port>
 */
export class LocalRegistry {
  host = '';
  dir = '';
  private child: ChildProcess | undefined;

  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'arbor-registry-'));
    const port = await freePort();
    this.host = `127.0.0.1:${port}`;
    const config = [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(this.dir, 'data')}`,
      'http:',
      `  addr: ${this.host}`,
      '',
    ].join('\n');
    await writeFile(join(this.dir, 'config.yml'), config);
    this.child = spawn('docker-registry', ['serve', join(this.dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    this.child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    // Bounded wait for the registry to answer /v2/.
    for (let i = 0; i < 100; i += 1) {
      if (this.child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
      const status = await new Promise<number>((resolve) => {
        const req = request(`http://${this.host}/v2/`, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(0));
        req.end();
      });
      if (status === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`docker-registry did not answer on ${this.host}: ${stderr}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }
}

/** ByteFlipper flips one bit of the byte at offset (counted over the whole stream). */
class ByteFlipper extends Transform {
  private seen = 0;
  constructor(private readonly offset: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const start = this.seen;
    this.seen += chunk.length;
    if (this.offset >= start && this.offset < this.seen) {
      const copy = Buffer.from(chunk);
      copy.writeUInt8(copy.readUInt8(this.offset - start) ^ 1, this.offset - start);
      done(null, copy);
      return;
    }
    done(null, chunk);
  }
}

/**
 * CountingProxy sits between a puller and a registry: it counts blob requests and, when
 * tamper is set, flips a byte in every blob larger than 100 KiB (the busybox layer).
 */
export class CountingProxy {
  blobRequests = 0;
  tamper = false;
  host = '';
  private server: Server | undefined;

  constructor(private readonly upstream: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (/\/blobs\/sha256:/.test(req.url ?? '')) this.blobRequests += 1;
      const upstream = request(
        `http://${this.upstream}${req.url ?? '/'}`,
        { method: req.method ?? 'GET', headers: { ...req.headers, host: this.upstream } },
        (answer: IncomingMessage) => {
          const size = Number(answer.headers['content-length'] ?? 0);
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          if (this.tamper && /\/blobs\//.test(req.url ?? '') && size > 100 * 1024) answer.pipe(new ByteFlipper(Math.floor(size / 2))).pipe(res);
          else answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
