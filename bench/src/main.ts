// bench: the hot paths of Arbor over gRPC, printed as a table. The fake backend isolates
// the cost of the server, the client and the wire; later sections compare real backends
// with the raw tools (runc, unshare) measured in the same run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcClient } from '@arbor/client';
import { sizeThreadPool, startArbord } from '@arbor/server';
import { benchCli } from './cli';
import { benchLinux } from './linux';
import { benchRunc } from './runc';
import { withRawGrpcServer } from './raw-grpc';
import { percentile, printTable, ratePerSecond, timeEach } from './stats';

const ms = (n: number): string => `${n.toFixed(2)} ms`;

async function benchFakeOverGrpc(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'arbor-bench-'));
  const server = await startArbord({ backend: 'fake', listen: `unix://${dir}/arbord.sock`, stateDir: dir, logLevel: 'error' });
  const client = await GrpcClient.connect(server.address);
  try {
    // warm up the connection and the JIT before measuring
    for (let i = 0; i < 200; i++) await client.ping();
    const pings = await ratePerSecond(2000, () => client.ping());
    const rawPings = await withRawGrpcServer(async (ping) => {
      for (let i = 0; i < 200; i++) await ping();
      return ratePerSecond(2000, ping);
    });

    let n = 0;
    const createDestroy = await ratePerSecond(2000, async () => {
      const c = await client.create({ handle: `bench-${n++}` });
      await client.destroy(c.handle);
    });

    const container = await client.create({ handle: 'bench-run' });
    await timeEach(50, async () => (await container.run({ path: 'true' }, {})).wait());
    const runs = await timeEach(500, async () => (await container.run({ path: 'true' }, {})).wait());
    await client.destroy(container.handle);

    printTable('fake backend over gRPC (unix socket)', [
      { name: 'Ping', value: `${pings.toFixed(0)}/s`, note: `${(pings / rawPings).toFixed(2)}x of a bare grpc-js server` },
      { name: 'bare grpc-js unary (same run)', value: `${rawPings.toFixed(0)}/s`, note: 'empty handler, same proto and socket kind' },
      { name: 'Create+Destroy', value: `${createDestroy.toFixed(0)}/s` },
      { name: 'Run `true` round trip p50', value: ms(percentile(runs, 50)), note: `${runs.length} runs` },
      { name: 'Run `true` round trip p99', value: ms(percentile(runs, 99)) },
    ]);
  } finally {
    client.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** BENCH_ONLY is `fake`, `cli`, `linux` or `runc` to run one section, e.g. while tuning one backend. */
const ONLY = process.env.BENCH_ONLY;

async function main(): Promise<void> {
  // arbord runs in this process: size its thread pool as the arbord binary does
  sizeThreadPool();
  if (!ONLY || ONLY === 'fake') await benchFakeOverGrpc();
  if (!ONLY || ONLY === 'cli') await benchCli();
  if (!ONLY || ONLY === 'linux') await benchLinux();
  if (!ONLY || ONLY === 'runc') await benchRunc();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
