// The `arbor` CLI as a whole process beside `node -e 0`, node's own start, in the same run and
// in turn, against a fake arbord this section starts: a short command's cost is mostly
// start-up (issue #15 aims at ping <= 1.3x node -e 0, and create + run + destroy from the
// shell <= 0.5x `docker run --rm`, measured here too when a Docker engine answers).
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { startArbord } from '@arbor/server';
import { BENCH_RUNS, formatMs, percentile, printTable, type Sample } from './stats';

/** ARBOR_CLI is the `arbor` executable as installed: @arbor/client's bin. */
const ARBOR_CLI = join(dirname(require.resolve('@arbor/client/package.json')), 'dist', 'cli.js');

/** CLI_RUNS bounds the runs (each a node start): BENCH_RUNS, at most 50. */
const CLI_RUNS = Math.min(BENCH_RUNS, 50);

/** wallMs runs node with args (or command with args) to its exit and returns how long that took; a failure throws. */
function wallMs(args: string[], command = process.execPath): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(Number(process.hrtime.bigint() - start) / 1e6);
      else reject(new Error(`bench cli: ${command} ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
    });
  });
}

/**
 * rawPingScript is one gRPC Ping to arbord at socketPath by node:http2 alone (an empty message
 * framed by hand), then exit: the floor of any client that speaks HTTP/2 from node, which the
 * CLI's grpc-js and commander add to.
 */
function rawPingScript(socketPath: string): string {
  return `const s = require('node:http2').connect('http://arbord', { createConnection: () => require('node:net').connect(${JSON.stringify(socketPath)}) });
const call = s.request({ ':method': 'POST', ':path': '/arbor.v1.Garden/Ping', 'content-type': 'application/grpc', te: 'trailers' });
const done = (h) => h['grpc-status'] === undefined || process.exit(h['grpc-status'] === '0' ? 0 : 1);
call.on('response', done);
call.on('trailers', done);
call.on('data', () => {});
call.end(Buffer.alloc(5));`;
}

/** DOCKER_IMAGE is the image the `docker run --rm` yardstick runs: one static `true`, built here. */
const DOCKER_IMAGE = 'arbor-bench-true:latest';

/** BUSYBOX is a statically linked busybox, which runs as `true` when named so (BENCH_BUSYBOX, else /usr/bin/busybox). */
const BUSYBOX = process.env['BENCH_BUSYBOX'] ?? '/usr/bin/busybox';

/**
 * dockerYardstick imports DOCKER_IMAGE into the local Docker engine (no registry needed: a
 * tar holding only /true) and returns what times one `docker run --rm` of it, or why there is
 * none: no engine answered, or no static busybox to make the image of.
 */
async function dockerYardstick(dir: string): Promise<(() => Promise<number>) | string> {
  const run = promisify(execFile);
  try {
    await run('docker', ['version', '--format', '{{.Server.Version}}'], { timeout: 10_000 });
  } catch {
    return 'no Docker engine answered';
  }
  const root = join(dir, 'docker-true');
  await mkdir(root);
  try {
    await copyFile(BUSYBOX, join(root, 'true'));
  } catch {
    return `no static busybox at ${BUSYBOX} (BENCH_BUSYBOX) to make an image of`;
  }
  await run('sh', ['-c', `tar -C "$1" -c true | docker import - "$2"`, 'sh', root, DOCKER_IMAGE], { timeout: 60_000 });
  return () => wallMs(['run', '--rm', DOCKER_IMAGE, '/true'], 'docker');
}

/** inTurn runs each of commands once per round, CLI_RUNS rounds, so drift hits them alike. */
async function inTurn(commands: Array<() => Promise<number>>): Promise<Sample[]> {
  const samples: Sample[] = commands.map(() => []);
  for (let round = -1; round < CLI_RUNS; round++) {
    for (const [i, command] of commands.entries()) {
      const ms = await command();
      if (round >= 0) samples[i]?.push(ms); // round -1 warms up (and writes the CLI's code cache)
    }
  }
  return samples;
}

export async function benchCli(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'arbor-bench-cli-'));
  const server = await startArbord({ backend: 'fake', listen: `unix://${dir}/arbord.sock`, stateDir: dir, logLevel: 'error' });
  const arbor = (...args: string[]): Promise<number> => wallMs([ARBOR_CLI, '--address', server.address, ...args]);
  let n = 0;
  let docker: Awaited<ReturnType<typeof dockerYardstick>> | undefined;
  try {
    docker = await dockerYardstick(dir);
    const rawPing = rawPingScript(server.address.replace(/^unix:\/\//, ''));
    const [ping, nodeStart, http2, raw, help, cycle, dockerRun] = await inTurn([
      () => arbor('ping'),
      () => wallMs(['-e', '0']),
      () => wallMs(['-e', "require('node:http2')"]),
      () => wallMs(['-e', rawPing]),
      () => arbor('--help'),
      async () => {
        const handle = `bench-cli-${n++}`;
        return (await arbor('create', '--handle', handle)) + (await arbor('run', handle, '--', 'true')) + (await arbor('destroy', handle));
      },
      ...(typeof docker === 'function' ? [docker] : []),
    ]);
    const p50 = (s: Sample | undefined): number => percentile(s ?? [], 50);
    const ofNode = (s: Sample | undefined, calls = 1): string => `${(p50(s) / (calls * p50(nodeStart))).toFixed(2)}x of node -e 0`;
    printTable(`arbor CLI, whole process (fake arbord, median of ${CLI_RUNS} in turn)`, [
      { name: 'arbor ping', value: formatMs(p50(ping)), note: ofNode(ping) },
      { name: 'node -e 0 (same run)', value: formatMs(p50(nodeStart)), note: "node's own start" },
      { name: 'node -e "require(\'node:http2\')"', value: formatMs(p50(http2)), note: `${ofNode(http2)}: the floor of any grpc-js client` },
      { name: 'Ping by node:http2 alone (node -e)', value: formatMs(p50(raw)), note: `${ofNode(raw)}: the floor of any HTTP/2 client` },
      { name: 'arbor --help', value: formatMs(p50(help)), note: ofNode(help) },
      {
        name: 'create + run `true` + destroy (3 calls)',
        value: formatMs(p50(cycle)),
        note: `${ofNode(cycle, 3)} per call` + (dockerRun ? `; ${(p50(cycle) / p50(dockerRun)).toFixed(2)}x of docker run --rm` : ''),
      },
      typeof docker !== 'function'
        ? { name: 'docker run --rm (yardstick)', value: '-', note: docker }
        : { name: 'docker run --rm of a static `true` (same run)', value: formatMs(p50(dockerRun)), note: `${ofNode(dockerRun)}; the image has one file` },
    ]);
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    if (typeof docker === 'function') await promisify(execFile)('docker', ['rmi', DOCKER_IMAGE]).catch(() => undefined);
  }
}
