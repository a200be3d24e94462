// pull-bench: a cold pull of one image from a loopback registry with the LayerStore (download,
// verify, gunzip, unpack) beside `skopeo copy docker://... dir:...` of it (download and verify
// only), in the same run, alternating; the LayerStore both durable (default) and not. For the same end result (a rootfs on disk) it also
// times `skopeo copy docker://... oci:...` + `umoci raw unpack`. Needs root, dockerd,
// docker-registry, skopeo and umoci.
//   pnpm --filter @arbor/images bench        BENCH_RUNS=7 for more runs
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import { ImagePuller } from '../image-puller';
import { LayerStore } from '../layer-store';
import { LocalRegistry } from '../testing/local-registry';
import { makeTar } from '../testing/make-tar';
import { removeTestImages } from '../testing/test-image';

const run = promisify(execFile);
const TAG = 'arbor-test/pull-bench:1';
const RUNS = Math.max(1, Math.min(50, Number(process.env.BENCH_RUNS ?? 5)));

/** buildBenchImage: busybox, 8 MiB of incompressible files, 8 MiB of text, 200 small files. */
async function buildBenchImage(docker: Dockerode): Promise<void> {
  const entries = [
    { name: 'Dockerfile', content: 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY random /random\nCOPY text /text\nCOPY small /small\n' },
    { name: 'busybox', content: await readFile('/bin/busybox'), mode: 0o755 },
  ];
  for (let i = 0; i < 8; i += 1) entries.push({ name: `random/${i}.bin`, content: randomBytes(1024 * 1024), mode: 0o644 });
  const line = 'the quick brown fox jumps over the lazy dog 0123456789\n';
  for (let i = 0; i < 8; i += 1)
    entries.push({ name: `text/${i}.txt`, content: Buffer.from(line.repeat(Math.ceil((1024 * 1024) / line.length))), mode: 0o644 });
  for (let i = 0; i < 200; i += 1) entries.push({ name: `small/${i}.txt`, content: Buffer.from(`file ${i}\n`), mode: 0o644 });
  const context = await makeTar(entries);
  const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: TAG, rm: true, forcerm: true });
  const output = await new Promise<Array<{ error?: string }>>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, result: Array<{ error?: string }>) => (err ? reject(err) : resolve(result)));
  });
  const failed = output.find((l) => l.error !== undefined);
  if (failed !== undefined) throw new Error(`docker build: ${failed.error}`);
}

/**
 * ShellRunner runs the tools (skopeo, umoci, sync) through one shell started before the
 * runs. Each spawn from this process would fork it: afterwards every page it touches takes
 * a copy-on-write fault (about 1 s per 200 MiB on this VM), a cost that would land on
 * whichever step runs next, not on the tool. Requests and answers are one line each.
 */
class ShellRunner {
  // errors is where the last command's stderr goes, like /tmp/arbor-pull-bench-1234.err
  private readonly errors = join(tmpdir(), `arbor-pull-bench-${process.pid}.err`);
  private readonly child = spawn('sh', ['-c', 'while IFS= read -r line; do eval "$line" </dev/null >/dev/null 2>"$ERRORS"; echo $?; done'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ERRORS: this.errors },
  });
  private readonly answers = createInterface({ input: this.child.stdout });
  private readonly waiting: Array<(status: string) => void> = [];

  constructor() {
    this.answers.on('line', (line) => this.waiting.shift()?.(line.trim()));
  }

  async run(command: string, args: string[]): Promise<void> {
    const line = [command, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
    const status = await new Promise<string>((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin.write(`${line}\n`);
    });
    if (status !== '0') throw new Error(`${command} ${args.join(' ')} exited ${status}: ${await readFile(this.errors, 'utf8').catch(() => '')}`);
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    await rm(this.errors, { force: true });
  }
}

const shell = new ShellRunner();

/** settle writes back all dirty data (untimed), so no step pays for the one before. */
async function settle(): Promise<void> {
  await shell.run('sync', []);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function main(): Promise<void> {
  const docker = new Dockerode();
  const registry = new LocalRegistry();
  const work = await mkdtemp(join(tmpdir(), 'arbor-pull-bench-'));
  try {
    await buildBenchImage(docker);
    await registry.start();
    await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${TAG}`, `docker://${registry.host}/${TAG}`]);
    const arbor: number[] = [];
    const arborNoSync: number[] = [];
    const skopeo: number[] = [];
    const unpacked: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const store = new LayerStore({ stateDir: join(work, `state-${i}`) });
      await store.init();
      const puller = new ImagePuller({ store });
      // Each timed step starts with nothing dirty on disk: a flush (syncfs) inside one step
      // would otherwise write back what the step before it left, like umoci's rootfs.
      await settle();
      let started = process.hrtime.bigint();
      const image = await puller.pull({ uri: `docker://${registry.host}/${TAG.replace(':', '#')}` });
      arbor.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (image.layerDirs.length !== 4) throw new Error(`expected 4 layers, got ${image.layerDirs.length}`);

      const fastStore = new LayerStore({ stateDir: join(work, `nosync-${i}`), durable: false });
      await fastStore.init();
      await settle();
      started = process.hrtime.bigint();
      await new ImagePuller({ store: fastStore }).pull({ uri: `docker://${registry.host}/${TAG.replace(':', '#')}` });
      arborNoSync.push(Number(process.hrtime.bigint() - started) / 1e6);

      await settle();
      started = process.hrtime.bigint();
      await shell.run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${registry.host}/${TAG}`, `dir:${join(work, `skopeo-${i}`)}`]);
      skopeo.push(Number(process.hrtime.bigint() - started) / 1e6);

      await settle();
      started = process.hrtime.bigint();
      const layout = join(work, `oci-${i}`);
      await shell.run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${registry.host}/${TAG}`, `oci:${layout}:bench`]);
      await shell.run('umoci', ['raw', 'unpack', '--image', `${layout}:bench`, join(work, `rootfs-${i}`)]);
      unpacked.push(Number(process.hrtime.bigint() - started) / 1e6);
      for (const dir of [`state-${i}`, `nosync-${i}`, `skopeo-${i}`, `oci-${i}`, `rootfs-${i}`]) await rm(join(work, dir), { recursive: true, force: true });
    }
    const a = median(arbor);
    const s = median(skopeo);
    const fmt = (values: number[]): string => values.map((v) => v.toFixed(0)).join(' ');
    console.log(`image: ${TAG} (4 layers, ~19 MiB unpacked), ${RUNS} cold runs each, alternating`);
    const n = median(arborNoSync);
    console.log(`LayerStore pull (fetch+verify+gunzip+unpack+sync): median ${a.toFixed(1)} ms  [${fmt(arbor)}]`);
    console.log(`LayerStore pull, durable: false (no sync):      median ${n.toFixed(1)} ms  [${fmt(arborNoSync)}]`);
    console.log(`skopeo copy docker:// -> dir: (fetch+verify):      median ${s.toFixed(1)} ms  [${fmt(skopeo)}]`);
    const u = median(unpacked);
    console.log(`skopeo copy -> oci: + umoci raw unpack:         median ${u.toFixed(1)} ms  [${fmt(unpacked)}]`);
    console.log(`ratio LayerStore/skopeo: ${(a / s).toFixed(2)}x, without sync ${(n / s).toFixed(2)}x (aim: <= 1.00; skopeo neither unpacks nor syncs)`);
    console.log(`ratio LayerStore/(skopeo+umoci): ${(a / u).toFixed(2)}x, without sync ${(n / u).toFixed(2)}x (same end result: files on disk)`);
  } finally {
    await shell.stop();
    await registry.stop();
    await removeTestImages(docker, (t) => t === TAG);
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
