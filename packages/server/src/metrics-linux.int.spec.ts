// arbord's /metrics over the linux backend: per-container numbers come from the real cgroups,
// and the layer store's size from <stateDir>/images. Needs root, the built helpers and the
// default rootfs (scripts/setup.sh).
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeIf } from '@arbor/testkit';
import { silentLogger } from '@arbor/core';
import { linuxBackendModules, loopbackOnlyNetworkerModule } from '@arbor/backend-linux';
import { pack } from 'tar-stream';
import { startArbord } from './start-arbord';
import type { RunningArbord } from './start-arbord';

/** linuxWithoutHostNetwork: the linux backend without the LinuxNetworker's sweep of other arbords' links (see arbord-linux.int.spec.ts). */
const linuxWithoutHostNetwork = () => [...linuxBackendModules, loopbackOnlyNetworkerModule];

/** writeOciImage writes an OCI layout at dir holding one image tagged 'v1' of one layer with a file of size bytes. */
async function writeOciImage(dir: string, size: number): Promise<void> {
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
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }],
    }),
  );
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
}

/** sample is the value of the line 'name{handle="handle"} value', or of 'name value' without a handle. */
function sample(text: string, name: string, handle?: string): number | undefined {
  const prefix = handle === undefined ? `${name} ` : `${name}{handle="${handle}"} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

describeIf({ root: true })('arbord /metrics over the linux backend', () => {
  let dir: string;
  let arbord: RunningArbord;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbord-metrics-linux-'));
    arbord = await startArbord(
      { backend: 'linux', listen: `unix://${dir}/arbord.sock`, stateDir: join(dir, 'state'), metricsListen: '127.0.0.1:0' },
      { backends: { linux: linuxWithoutHostNetwork }, logger: silentLogger, shutdownTimeoutMs: 500 },
    );
  }, 60_000);
  afterAll(async () => {
    const left = await arbord.backend.containers();
    await Promise.allSettled(left.map((c) => arbord.backend.destroy(c.handle)));
    await arbord.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  test('a busy container shows real cpu, memory and pids; a pulled image shows in the layer store', async () => {
    await writeOciImage(join(dir, 'image'), 256 * 1024);
    await arbord.backend.pullImage({ uri: `oci://${dir}/image#v1` });
    const container = await arbord.backend.create({ handle: 'metrics-busy' });
    // some CPU time, then two processes (sh and sleep) that stay
    await container.run({ path: 'sh', args: ['-c', 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; sleep 60'] }, {});
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const text = await (await fetch(`http://${arbord.metricsAddress}/metrics`)).text();
    const numbers = {
      cpu: sample(text, 'arbor_container_cpu_usage_seconds_total', 'metrics-busy'),
      memory: sample(text, 'arbor_container_memory_usage_bytes', 'metrics-busy'),
      pids: sample(text, 'arbor_container_pids', 'metrics-busy'),
      processes: sample(text, 'arbor_processes'),
      layerStore: sample(text, 'arbor_layer_store_bytes'),
    };
    console.log('metrics over the linux backend:', numbers);
    expect(numbers.cpu).toBeGreaterThan(0);
    expect(numbers.memory).toBeGreaterThan(0);
    expect(numbers.pids).toBeGreaterThanOrEqual(2);
    expect(numbers.processes).toBe(1);
    expect(numbers.layerStore).toBeGreaterThanOrEqual(256 * 1024);
    expect(text).toMatch(/^arbor_container_phase_duration_seconds_count\{op="create",phase="containerizer",outcome="ok"\} 1$/m);
    expect(text).toMatch(/^arbor_image_pulls_total\{outcome="ok"\} 1$/m);
    await arbord.backend.destroy('metrics-busy');
  }, 60_000);
});
