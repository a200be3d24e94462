// What the specs of arbord over the linux backend share (arbord-linux, metrics-linux): one
// arbord per block, without the host network, and a small OCI image to pull.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { silentLogger } from '@arbor/core';
import { linuxBackendModules, loopbackOnlyNetworkerModule } from '@arbor/backend-linux';
import { startArbord } from '../start-arbord';
import type { RunningArbord } from '../start-arbord';
import type { ArborConfigInput } from '../arbor-config';

/**
 * linuxWithoutHostNetwork is the linux backend as arbord composes it, but with the
 * LoopbackOnlyNetworker: the LinuxNetworker would, at start, sweep the links and iptables
 * chains of any other arbord on this host, like tests running beside this one.
 */
const linuxWithoutHostNetwork = () => [...linuxBackendModules, loopbackOnlyNetworkerModule];

/**
 * useLinuxArbord starts one arbord over the linux backend for the enclosing block (beforeAll),
 * in a fresh temp dir like /tmp/arbord-linux-XXXXXX with its socket and state there, config
 * added (like { defaultPidLimit: 8 }); afterAll destroys what is left, stops it and removes the
 * dir. Call the returned function inside a test for arbord and its dir.
 */
export function useLinuxArbord(prefix: string, config: ArborConfigInput = {}): () => { arbord: RunningArbord; dir: string } {
  let running: { arbord: RunningArbord; dir: string } | undefined;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    const arbord = await startArbord(
      { backend: 'linux', listen: `unix://${dir}/arbord.sock`, stateDir: join(dir, 'state'), ...config },
      { backends: { linux: linuxWithoutHostNetwork }, logger: silentLogger, shutdownTimeoutMs: 500 },
    );
    running = { arbord, dir };
  }, 60_000);
  afterAll(async () => {
    if (!running) return;
    const { arbord, dir } = running;
    const left = await arbord.backend.containers();
    await Promise.allSettled(left.map((c) => arbord.backend.destroy(c.handle)));
    await arbord.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);
  return () => {
    if (!running) throw new Error('useLinuxArbord: arbord runs only inside the tests of its block');
    return running;
  };
}

/** writeOciImage writes an OCI layout at dir holding one image, tagged tag, of one uncompressed layer with a file data.bin of size bytes. */
export async function writeOciImage(dir: string, tag: string, size: number): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const blob = async (bytes: Buffer) => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(dir, 'blobs', 'sha256', hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const tar = pack();
  tar.entry({ name: 'data.bin' }, Buffer.alloc(size, 7));
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  const layer = await blob(Buffer.concat(chunks));
  const config = await blob(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layer.digest] } })),
  );
  const manifest = await blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
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
