import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pack } from 'tar-stream';
import { silentLogger } from '@arbor/core';
import { startArbord, type RunningArbord } from '@arbor/server';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
// The linux backend mounts overlays and makes namespaces: only root can.
const describeRoot = isRoot ? describe : describe.skip;
const title = isRoot ? 'examples/docker-image' : 'examples/docker-image (SKIPPED: needs root for the linux backend)';

/** tarOf packs entries (files, directories, symlinks) into one uncompressed tar. */
async function tarOf(
  entries: Array<{ name: string; type?: 'file' | 'directory' | 'symlink'; content?: Buffer | string; mode?: number; linkname?: string }>,
): Promise<Buffer> {
  const p = pack();
  // read while writing: pack holds back an entry until what it made so far is read
  const chunks: Buffer[] = [];
  const read = (async () => {
    for await (const chunk of p as AsyncIterable<Buffer>) chunks.push(chunk);
  })();
  for (const { content, ...header } of entries) {
    const body = typeof content === 'string' ? Buffer.from(content) : content;
    await new Promise<void>((resolve, reject) => {
      p.entry({ mtime: new Date(0), ...header }, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  await read;
  return Buffer.concat(chunks);
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/**
 * buildImage writes a `docker save`-style archive of a one-layer image made from Debian's
 * static busybox, whose program prints from its env, working dir and a file of its own,
 * writes to stderr and exits 3.
 */
async function buildImage(path: string): Promise<void> {
  const layer = await tarOf([
    { name: 'bin/', type: 'directory', mode: 0o755 },
    { name: 'bin/busybox', content: await readFile('/bin/busybox'), mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'srv/', type: 'directory', mode: 0o755 },
    { name: 'srv/motd', content: 'a file from the image\n', mode: 0o644 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ]);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {
        Env: ['PATH=/bin', 'GREETING=hello'],
        Entrypoint: ['/bin/sh', '-c'],
        Cmd: ['echo "$GREETING from $(pwd)"; busybox cat motd; echo to-stderr >&2; exit 3'],
        WorkingDir: '/srv',
      },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layer)}`] },
    }),
  );
  const manifest = [{ Config: `${sha256(config)}.json`, RepoTags: ['arbor-example/hello:1'], Layers: ['layer/layer.tar'] }];
  await writeFile(
    path,
    await tarOf([
      { name: 'manifest.json', content: JSON.stringify(manifest) },
      { name: `${sha256(config)}.json`, content: config },
      { name: 'layer/', type: 'directory' },
      { name: 'layer/layer.tar', content: layer },
    ]),
  );
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** example runs the built example, as a user would. */
function example(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, '../dist/docker-image.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function hasCommand(name: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${name}`]).then(
    () => true,
    () => false,
  );
}

describeRoot(title, () => {
  jest.setTimeout(120_000);
  let dir: string;
  let archive: string;
  let server: RunningArbord;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-example-image-'));
    archive = join(dir, 'hello.tar');
    await buildImage(archive);
    server = await startArbord(
      // a pool of its own, so that other arbords on this host do not collide with it
      {
        backend: 'linux',
        listen: `unix://${join(dir, 'arbord.sock')}`,
        stateDir: join(dir, 'state'),
        networkPool: '10.254.236.0/24',
        portPoolStart: 64001,
        portPoolSize: 100,
        logLevel: 'error',
      },
      { logger: silentLogger },
    );
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs a docker-archive image's entrypoint + cmd with its env and working dir, streams its output and exits with its status", async () => {
    const result = await example([`docker-archive://${archive}`, server.address]);
    expect(result.stdout).toBe('hello from /srv\na file from the image\n');
    expect(result.stderr).toContain('to-stderr\n');
    expect(result.stderr).toContain(`running ["/bin/sh","-c","echo \\"$GREETING from $(pwd)\\"; busybox cat motd; echo to-stderr >&2; exit 3"]`);
    expect(result.stderr).toMatch(/exited with 3\n/);
    expect(result.code).toBe(3);
    expect(await server.backend.containers()).toEqual([]);
  });

  it('pulls the same image from a loopback registry, showing progress, when docker-registry and skopeo are here', async () => {
    if (!(await hasCommand('docker-registry')) || !(await hasCommand('skopeo'))) {
      console.warn('skipped the registry part: docker-registry or skopeo is not installed');
      return;
    }
    const port = await freePort();
    const config = join(dir, 'registry.yml');
    await writeFile(
      config,
      `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'registry')}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
    );
    const registry: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
    try {
      let pushed = false;
      for (let i = 0; i < 50 && !pushed; i += 1) {
        pushed = await run('skopeo', [
          'copy',
          '--quiet',
          '--dest-tls-verify=false',
          `docker-archive:${archive}`,
          `docker://127.0.0.1:${port}/arbor-example/hello:1`,
        ]).then(
          () => true,
          async () => {
            await new Promise((resolve) => setTimeout(resolve, 100));
            return false;
          },
        );
      }
      expect(pushed).toBe(true);
      const result = await example([`docker://127.0.0.1:${port}/arbor-example/hello#1`, server.address]);
      expect(result.stdout).toBe('hello from /srv\na file from the image\n');
      expect(result.code).toBe(3);
      // not a terminal: one line per step of the pull
      expect(result.stderr).toContain(`docker://127.0.0.1:${port}/arbor-example/hello#1: resolving\n`);
      expect(result.stderr).toMatch(/: downloaded, verified and unpacked \(/);
      expect(result.stderr).toMatch(/#1: done sha256:[0-9a-f]{64} \(1 layers\)\n/);
    } finally {
      registry.kill('SIGTERM');
    }
  });
});
