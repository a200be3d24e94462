// The runc backend over gRPC beside raw `runc run` of the same bundle, in the same run: the
// config.json Arbor writes for a container (namespaces, mounts, seccomp, cgroups) over the
// default rootfs, with `true` as its process.
import { execFile, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runcConfig } from '@arbor/backend-runc';
import { GrpcClient } from '@arbor/client';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { DEFAULT_HELPERS_DIR } from '@arbor/host';
import { BENCH_NETWORKS, startBenchArbord } from './bench-arbord';
import { createRows } from './create-times';
import { BENCH_RUNS, formatMs, percentile, printTable, ratioAt, timeEach, type Sample } from './stats';

const run = promisify(execFile);

/** arborBundle writes the bundle the runc backend would write for a container, running argv instead of arbor-init. */
async function arborBundle(dir: string, argv: string[]): Promise<string> {
  const bundle = join(dir, `bundle-${argv[0]}`);
  await mkdir(bundle, { recursive: true });
  const spec = runcConfig(
    {
      handle: 'bench',
      hostname: 'bench',
      rootfs: { path: DEFAULT_ROOTFS, env: [], user: '', workingDir: '', entrypoint: [], cmd: [] },
      env: [],
      bindMounts: [],
      privileged: false,
      limits: {},
    },
    { initBinary: join(DEFAULT_HELPERS_DIR, 'arbor-init'), cgroupsPath: `/arbor-bench/${argv[0]}` },
  );
  spec.process.args = argv;
  spec.root.readonly = true;
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
  return bundle;
}

export async function benchRunc(): Promise<void> {
  if (process.getuid?.() !== 0 || spawnSync('runc', ['--version']).status !== 0) {
    console.log('\nrunc backend: skipped (needs root and runc)');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'arbor-bench-runc-'));
  // searchable by others, as the dirs above a state dir must be for user-namespace containers on runc
  await chmod(dir, 0o711);
  const server = await startBenchArbord('runc', dir, BENCH_NETWORKS.runc);
  const client = await GrpcClient.connect(server.address);
  const runcRoot = join(dir, 'raw-runc');
  try {
    const trueBundle = await arborBundle(dir, ['true']);
    let n = 0;
    const lifecycle = async (): Promise<void> => {
      const c = await client.create({ handle: `bench-runc-${n++}` });
      await (await c.run({ path: 'true' }, {})).wait();
      await client.destroy(c.handle);
    };
    const runcRun = (i: number) => run('runc', ['--root', runcRoot, 'run', '--bundle', trueBundle, `arbor-bench-run-${i}`]);

    // warm up each path once, then alternate so load changes hit both alike
    await lifecycle();
    await runcRun(-1);
    const arbor: Sample = [];
    const runc: Sample = [];
    for (let i = 0; i < BENCH_RUNS; i++) {
      arbor.push(...(await timeEach(1, lifecycle)));
      runc.push(...(await timeEach(1, () => runcRun(i))));
    }

    const arborExec: Sample = [];
    const runcExec: Sample = [];
    const container = await client.create({ handle: 'bench-runc-exec' });
    try {
      const runcId = container.handle;
      const stateRoot = join(dir, 'state', 'runc');
      await (await container.run({ path: 'true' }, {})).wait();
      for (let i = 0; i < BENCH_RUNS; i++) {
        arborExec.push(...(await timeEach(1, async () => (await container.run({ path: 'true' }, {})).wait())));
        runcExec.push(...(await timeEach(1, () => run('runc', ['--root', stateRoot, 'exec', runcId, 'true']))));
      }
    } finally {
      await client.destroy(container.handle);
    }

    const creates = await createRows(client, 'bench-runc');

    printTable(`runc backend over gRPC vs raw runc, same bundle, ${BENCH_RUNS} runs each (lower is better)`, [
      { name: 'create + run `true` + destroy p50', value: formatMs(percentile(arbor, 50)), note: `${ratioAt(arbor, runc)} of runc run` },
      { name: 'create + run `true` + destroy p99', value: formatMs(percentile(arbor, 99)) },
      { name: 'raw `runc run` true p50', value: formatMs(percentile(runc, 50)), note: `p99 ${formatMs(percentile(runc, 99))}` },
      { name: 'run `true` in a running container p50', value: formatMs(percentile(arborExec, 50)), note: `${ratioAt(arborExec, runcExec)} of runc exec` },
      { name: 'raw `runc exec` true p50', value: formatMs(percentile(runcExec, 50)) },
      ...creates,
    ]);
  } finally {
    client.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
