// The linux backend over gRPC beside the raw tools on the same rootfs, in the same run:
// `runc run` of a busybox bundle and `unshare` + chroot, both running `true`.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GrpcClient } from '@arbor/client';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { BENCH_NETWORKS, startBenchArbord } from './bench-arbord';
import { createRows } from './create-times';
import { BENCH_RUNS, formatMs, percentile, printTable, ratioAt, timeEach, type Sample } from './stats';

const run = promisify(execFile);

/** runDetached runs a command whose children outlive it (runc run --detach) with no pipes to hold. */
function runDetached(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

/** runcBundle writes an OCI bundle over the default rootfs whose process runs argv. */
async function runcBundle(dir: string, argv: string[]): Promise<string> {
  const bundle = join(dir, `bundle-${argv[0]}`);
  await run('mkdir', ['-p', bundle]);
  await run('runc', ['spec', '--bundle', bundle]);
  const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8'));
  spec.root = { path: DEFAULT_ROOTFS, readonly: true };
  spec.process.terminal = false;
  spec.process.args = argv;
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
  return bundle;
}

export async function benchLinux(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('\nlinux backend: skipped (needs root)');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'arbor-bench-linux-'));
  const server = await startBenchArbord('linux', dir, BENCH_NETWORKS.linux);
  const client = await GrpcClient.connect(server.address);
  try {
    const trueBundle = await runcBundle(dir, ['true']);
    const sleepBundle = await runcBundle(dir, ['sleep', '1000']);
    let n = 0;
    const lifecycle = async (): Promise<void> => {
      const c = await client.create({ handle: `bench-linux-${n++}` });
      await (await c.run({ path: 'true' }, {})).wait();
      await client.destroy(c.handle);
    };
    const runcRun = (i: number) => run('runc', ['run', '--bundle', trueBundle, `arbor-bench-run-${i}`]);
    const unshare = () => run('unshare', ['--fork', '--pid', '--mount', '--net', '--uts', '--ipc', 'chroot', DEFAULT_ROOTFS, '/bin/true']);

    // warm up each path once, then alternate so load changes hit all of them alike
    await lifecycle();
    await runcRun(-1);
    await unshare();
    const arbor: Sample = [];
    const runc: Sample = [];
    const raw: Sample = [];
    for (let i = 0; i < BENCH_RUNS; i++) {
      arbor.push(...(await timeEach(1, lifecycle)));
      runc.push(...(await timeEach(1, () => runcRun(i))));
      raw.push(...(await timeEach(1, unshare)));
    }

    const arborExec: Sample = [];
    const runcExec: Sample = [];
    const container = await client.create({ handle: 'bench-linux-exec' });
    try {
      // a bench that died before its cleanup leaves the name taken
      await run('runc', ['delete', '--force', 'arbor-bench-exec']).catch(() => undefined);
      await runDetached('runc', ['run', '--detach', '--bundle', sleepBundle, 'arbor-bench-exec']);
      await (await container.run({ path: 'true' }, {})).wait();
      for (let i = 0; i < BENCH_RUNS; i++) {
        arborExec.push(...(await timeEach(1, async () => (await container.run({ path: 'true' }, {})).wait())));
        runcExec.push(...(await timeEach(1, () => run('runc', ['exec', 'arbor-bench-exec', 'true']))));
      }
    } finally {
      await run('runc', ['delete', '--force', 'arbor-bench-exec']).catch(() => undefined);
      await client.destroy(container.handle);
    }

    const creates = await createRows(client, 'bench-linux');

    printTable(`linux backend over gRPC vs raw tools, same rootfs, ${BENCH_RUNS} runs each (lower is better)`, [
      { name: 'create + run `true` + destroy p50', value: formatMs(percentile(arbor, 50)), note: `${ratioAt(arbor, runc)} of runc run` },
      { name: 'create + run `true` + destroy p99', value: formatMs(percentile(arbor, 99)), note: `${ratioAt(arbor, runc, 99)} of runc run's p99` },
      { name: 'raw `runc run` true p50', value: formatMs(percentile(runc, 50)), note: `p99 ${formatMs(percentile(runc, 99))}` },
      { name: 'raw `unshare` + chroot true p50', value: formatMs(percentile(raw, 50)), note: `arbor is ${ratioAt(arbor, raw)} of it` },
      { name: 'run `true` in a running container p50', value: formatMs(percentile(arborExec, 50)), note: `${ratioAt(arborExec, runcExec)} of runc exec` },
      {
        name: 'run `true` in a running container p99',
        value: formatMs(percentile(arborExec, 99)),
        note: `${ratioAt(arborExec, runcExec, 99)} of runc exec's p99`,
      },
      { name: 'raw `runc exec` true p50', value: formatMs(percentile(runcExec, 50)), note: `p99 ${formatMs(percentile(runcExec, 99))}` },
      ...creates,
    ]);
  } finally {
    client.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
