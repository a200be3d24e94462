// arbord (startArbord: config, composition root, Gardener) over the linux backend, for what
// its config sets in the kernel and in the image store: the default pid limit in a container's
// cgroup, and the bound on what one image pull unpacks. Needs root, the built helpers and the
// default rootfs (scripts/setup.sh).
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describeIf } from '@arbor/testkit';
import { ResourceExhaustedError, silentLogger } from '@arbor/core';
import { linuxBackendModules, loopbackOnlyNetworkerModule } from '@arbor/backend-linux';
import { pack } from 'tar-stream';
import { startArbord } from './start-arbord';
import type { RunningArbord } from './start-arbord';

/**
 * linuxWithoutHostNetwork is the linux backend as arbord composes it, but with the
 * LoopbackOnlyNetworker: the LinuxNetworker would, at start, sweep the links and iptables
 * chains of any other arbord on this host, like tests running beside this one.
 */
const linuxWithoutHostNetwork = () => [...linuxBackendModules, loopbackOnlyNetworkerModule];

const MiB = 1024 * 1024;

async function tarOf(name: string, content: Buffer): Promise<Buffer> {
  const tar = pack();
  tar.entry({ name }, content);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** writeOciImage writes an OCI layout at dir holding one image, tagged tag, of one uncompressed layer with a file of size bytes. */
async function writeOciImage(dir: string, tag: string, size: number): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const blob = async (bytes: Buffer) => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(dir, 'blobs', 'sha256', hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const layer = await tarOf('data.bin', Buffer.alloc(size, 7));
  const config = await blob(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [(await blob(layer)).digest] } })),
  );
  const manifest = await blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await blob(layer)) }],
      }),
    ),
  );
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
}

describeIf({ root: true })('arbord over the linux backend', () => {
  let dir: string;
  let arbord: RunningArbord;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbord-linux-'));
    arbord = await startArbord(
      {
        backend: 'linux',
        listen: `unix://${dir}/arbord.sock`,
        stateDir: join(dir, 'state'),
        defaultPidLimit: 8,
        imageMaxUnpackedBytes: 1 * MiB,
      },
      { backends: { linux: linuxWithoutHostNetwork }, logger: silentLogger, shutdownTimeoutMs: 500 },
    );
  }, 60_000);
  afterAll(async () => {
    const left = await arbord.backend.containers();
    await Promise.allSettled(left.map((c) => arbord.backend.destroy(c.handle)));
    await arbord.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  test('a container created without a pid limit gets defaultPidLimit in its cgroup: a fork bomb stops there', async () => {
    const container = await arbord.backend.create({ handle: 'default-pids' });
    expect(await container.currentPidLimits()).toEqual({ max: 8 });
    // metrics read pids.max and pids.current from the container's cgroup
    expect((await container.metrics()).pid.max).toBe(8);
    const stderr = new PassThrough();
    let errors = '';
    stderr.on('data', (d: Buffer) => (errors += d.toString()));
    // gentle: 20 sleeps asked for, each gone when the container is destroyed
    await container.run({ path: 'sh', args: ['-c', 'for i in $(seq 20); do sleep 60 & done; wait'] }, { stderr });
    for (let i = 0; i < 50 && !/fork/i.test(errors); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(errors).toMatch(/can't fork/);
    const { current, max } = (await container.metrics()).pid;
    expect(max).toBe(8);
    expect(current).toBeLessThanOrEqual(8);
    await arbord.backend.destroy('default-pids');
  }, 60_000);

  test("a spec's own pid limit wins over the default", async () => {
    const container = await arbord.backend.create({ handle: 'own-pids', limits: { pid: { max: 100 } } });
    expect((await container.metrics()).pid.max).toBe(100);
    await arbord.backend.destroy('own-pids');
  }, 60_000);

  test('an image unpacking past imageMaxUnpackedBytes is refused; one under it is pulled', async () => {
    await writeOciImage(join(dir, 'big'), 'v1', 2 * MiB);
    const err = await arbord.backend.pullImage({ uri: `oci://${dir}/big#v1` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    expect((err as Error).message).toMatch(/unpacks past the limit of 1048576 bytes/);
    await writeOciImage(join(dir, 'small'), 'v1', 64 * 1024);
    expect((await arbord.backend.pullImage({ uri: `oci://${dir}/small#v1` })).layers).toBe(1);
  }, 60_000);
});
