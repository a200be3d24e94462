// bench: the hot paths of Arbor over gRPC, printed as a table. The fake backend isolates
// the cost of the server, the client and the wire; later sections compare real backends
// with the raw tools (runc, unshare) measured in the same run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcClient } from '@arbor/client';
import { sizeThreadPool, startArbord } from '@arbor/server';
import { benchCli } from './cli';
import { benchDataPath } from './data-path';
import { benchLinux } from './linux';
import { benchRunc } from './runc';
import { withRawGrpcServer } from './raw-grpc';
import { percentile, printTable, ratePerSecond, ratePerSecondInFlight, ratesInTurn, timeEach, writeResults } from './stats';

const ms = (n: number): string => `${n.toFixed(2)} ms`;
const perSecond = (n: number): string => `${n.toFixed(0)}/s`;

/** FAKE_MS is how long each rate of the fake section is measured, in all its turns. */
const FAKE_MS = 4000;

/** IN_FLIGHT is how many Create+Destroy cycles run at once in the concurrent row, as many clients would. */
const IN_FLIGHT = 16;

async function benchFakeOverGrpc(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'arbor-bench-'));
  const server = await startArbord({ backend: 'fake', listen: `unix://${dir}/arbord.sock`, stateDir: dir, logLevel: 'error' });
  const client = await GrpcClient.connect(server.address);
  try {
    let n = 0;
    const createDestroy = async (): Promise<void> => {
      const c = await client.create({ handle: `bench-${n++}` });
      await client.destroy(c.handle);
    };
    // the yardsticks: a bare grpc-js server's empty Ping, once and twice (a Create+Destroy is two calls), in turn with arbord's
    const [pings, rawPings, createDestroys, rawPairs] = await withRawGrpcServer(async (rawPing) => {
      // warm up the connections and the JIT before measuring
      for (let i = 0; i < 200; i++) await Promise.all([client.ping(), rawPing(), createDestroy()]);
      const [p, rp] = await ratesInTurn(FAKE_MS, () => client.ping(), rawPing);
      const [cd, rpp] = await ratesInTurn(FAKE_MS, createDestroy, async () => (await rawPing(), await rawPing()));
      return [p, rp, cd, rpp] as const;
    });
    const concurrent = await ratePerSecondInFlight(FAKE_MS / 2, IN_FLIGHT, createDestroy);
    // the Gardener over the fake ports without gRPC: what the backend itself costs of a Create+Destroy
    const { backend } = server;
    const inProcess = await ratePerSecond(FAKE_MS / 2, async () => backend.destroy((await backend.create({ handle: `bench-${n++}` })).handle));

    const container = await client.create({ handle: 'bench-run' });
    await timeEach(50, async () => (await container.run({ path: 'true' }, {})).wait());
    const runs = await timeEach(500, async () => (await container.run({ path: 'true' }, {})).wait());
    await client.destroy(container.handle);

    printTable(`fake backend over gRPC (unix socket; rates in turn with their yardstick, ${FAKE_MS / 1000} s each)`, [
      { name: 'Ping', value: perSecond(pings), note: `${(pings / rawPings).toFixed(2)}x of a bare grpc-js server (aim >= 0.95x)`, ratio: pings / rawPings },
      { name: 'bare grpc-js unary (same run)', value: perSecond(rawPings), note: 'empty handler, same proto and socket kind' },
      {
        name: 'Create+Destroy',
        value: perSecond(createDestroys),
        note: `${(createDestroys / rawPairs).toFixed(2)}x of two bare grpc-js calls (aim >= 5000/s)`,
        ratio: createDestroys / rawPairs,
      },
      { name: 'two bare grpc-js unary calls (same run)', value: perSecond(rawPairs), note: 'the most any two-call cycle can do here' },
      { name: `Create+Destroy, ${IN_FLIGHT} in flight`, value: perSecond(concurrent), note: 'one client, one connection' },
      { name: 'Create+Destroy in process', value: perSecond(inProcess), note: 'the Gardener over the fake ports, no gRPC' },
      { name: 'Run `true` round trip p50', value: ms(percentile(runs, 50)), note: `${runs.length} runs` },
      { name: 'Run `true` round trip p99', value: ms(percentile(runs, 99)) },
    ]);
  } finally {
    client.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** BENCH_ONLY is `fake`, `cli`, `linux`, `data` or `runc` to run one section, e.g. while tuning one backend. */
const ONLY = process.env.BENCH_ONLY;

/** RESULTS_PATH is where the figures go as JSON: env BENCH_RESULTS, default bench/results/latest.json (not committed). */
const RESULTS_PATH = process.env.BENCH_RESULTS ?? join(__dirname, '..', 'results', 'latest.json');

async function main(): Promise<void> {
  const startedAt = new Date();
  // arbord runs in this process: size its thread pool as the arbord binary does
  sizeThreadPool();
  if (!ONLY || ONLY === 'fake') await benchFakeOverGrpc();
  if (!ONLY || ONLY === 'cli') await benchCli();
  if (!ONLY || ONLY === 'linux') await benchLinux();
  if (!ONLY || ONLY === 'data') await benchDataPath();
  if (!ONLY || ONLY === 'runc') await benchRunc();
  await writeResults(RESULTS_PATH, startedAt);
  console.log(`\nfigures as JSON: ${RESULTS_PATH}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
