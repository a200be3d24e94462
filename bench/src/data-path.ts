// The data path of the linux backend over gRPC beside the raw tools, in the same run and in
// turn: a process's stdout through Run to the `arbor` CLI's stdout (a pipe), and StreamOut of
// about 1.5 GB of files (the CLI's stream-out to a pipe). Each path's first run checks what
// arrived by sha256 and is not timed; the timed runs count the bytes.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GrpcClient } from '@arbor/client';
import type { Container } from '@arbor/core';
import { BENCH_NETWORKS, startBenchArbord } from './bench-arbord';
import { percentile, printTable, type Sample } from './stats';

/** ARBOR_CLI is the `arbor` executable: env BENCH_ARBOR_CLI (to hold the CLI fixed while comparing servers), else @arbor/client's bin. */
const ARBOR_CLI = process.env.BENCH_ARBOR_CLI ?? join(dirname(require.resolve('@arbor/client/package.json')), 'dist', 'cli.js');

/** CLI_NODE_ARGS are node options for each CLI process, from env BENCH_CLI_NODE_ARGS, like '--cpu-prof --cpu-prof-dir=/tmp/prof'. */
const CLI_NODE_ARGS = (process.env.BENCH_CLI_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

/** DATA_RUNS is how many timed runs each path makes: env BENCH_RUNS, default 3 (a run moves a gigabyte or more). */
const DATA_RUNS = Number(process.env.BENCH_RUNS ?? 3);

/** BLOCK_BYTES is the pseudo-random block every byte of both paths is copied from. */
const BLOCK_BYTES = 8 * 1024 * 1024;
/** STDOUT_BLOCKS blocks make the 1,000 MiB a process writes to its stdout. */
const STDOUT_BLOCKS = 125;
/** FILES, each a line with its number then FILE_BLOCKS blocks, make the about 1.5 GB StreamOut tars. */
const FILES = 90;
const FILE_BLOCKS = 2;

/** IN_CONTAINER is where the block and the files live in the container, like /bench-data/files/f7. */
const IN_CONTAINER = '/bench-data';

/** writeBlocks is a shell loop writing the block `count` times to stdout, the same program in the container and on the host. */
const writeBlocks = (block: string, count: number): string => `j=0; while [ $j -lt ${count} ]; do cat ${block}; j=$((j+1)); done`;

/** makeFiles is a shell loop writing the FILES files under dir. */
const makeFiles = (block: string, dir: string): string =>
  `mkdir -p ${dir} && i=0; while [ $i -lt ${FILES} ]; do { echo $i; ${writeBlocks(block, FILE_BLOCKS)}; } > ${dir}/f$i || exit 1; i=$((i+1)); done`;

/** HASH_READER is a node program that prints '<bytes> <sha256 hex>' of its stdin. */
const HASH_READER =
  "const h=require('crypto').createHash('sha256');let n=0;process.stdin.on('data',(c)=>{n+=c.length;h.update(c)}).on('end',()=>console.log(n+' '+h.digest('hex')))";

/**
 * piped runs argv with its stdout piped into the shell command reader, and returns the
 * reader's output and the wall time of both; a failure of either throws.
 */
function piped(argv: string[], reader: string): Promise<{ out: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    // "$@" keeps argv as it is: no quoting of the container's script inside another shell's
    const child = spawn('bash', ['-o', 'pipefail', '-c', `"$@" | ${reader}`, 'bash', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code === 0) resolve({ out: out.trim(), ms });
      else reject(new Error(`bench data: ${argv.slice(0, 6).join(' ')} ... | ${reader} exited ${code}: ${err.trim()}`));
    });
  });
}

/** sha256Of hashes the parts in order. */
function sha256Of(parts: Array<Buffer | string>, times = 1): string {
  const hash = createHash('sha256');
  for (let t = 0; t < times; t++) for (const p of parts) hash.update(p);
  return hash.digest('hex');
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** inTurn runs each path once per round, a first untimed round then DATA_RUNS timed ones. */
async function inTurn(first: Array<() => Promise<unknown>>, timed: Array<() => Promise<number>>): Promise<Sample[]> {
  for (const f of first) await f();
  const samples: Sample[] = timed.map(() => []);
  for (let round = 0; round < DATA_RUNS; round++) for (const [i, t] of timed.entries()) samples[i]?.push(await t());
  return samples;
}

/** checkCount throws unless the reader counted `bytes`. */
function checkCount(what: string, out: string, bytes: number): void {
  if (Number(out) !== bytes) throw new Error(`bench data: ${what} gave ${out} bytes, not ${bytes}`);
}

async function streamInBlock(container: Container, hostDir: string): Promise<void> {
  const tar = spawn('tar', ['c', '-C', hostDir, 'block'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await container.streamIn({ path: IN_CONTAINER, tar: tar.stdout });
}

async function runToEnd(container: Container, script: string): Promise<void> {
  const status = await (await container.run({ path: 'sh', args: ['-c', script] }, {})).wait();
  if (status !== 0) throw new Error(`bench data: sh -c '${script}' in the container exited ${status}`);
}

export async function benchDataPath(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('\ndata path: skipped (needs root)');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'arbor-bench-data-'));
  const server = await startBenchArbord('linux', dir, BENCH_NETWORKS.data);
  const client = await GrpcClient.connect(server.address);
  const handle = 'bench-data';
  try {
    const block = randomBytes(BLOCK_BYTES);
    const hostFiles = join(dir, 'files');
    await mkdir(hostFiles);
    await writeFile(join(dir, 'block'), block);
    const container = await client.create({ handle });
    await streamInBlock(container, dir);
    await runToEnd(container, makeFiles(`${IN_CONTAINER}/block`, `${IN_CONTAINER}/files`));
    // the same files on the host, for tar c
    const expected = new Map<string, string>();
    for (let i = 0; i < FILES; i++) {
      const parts = [`${i}\n`, ...Array<Buffer>(FILE_BLOCKS).fill(block)];
      await writeFile(join(hostFiles, `f${i}`), parts);
      expected.set(`f${i}`, sha256Of(parts));
    }
    const stdoutBytes = BLOCK_BYTES * STDOUT_BLOCKS;
    const stdoutSha = sha256Of([block], STDOUT_BLOCKS);
    let fileBytes = 0;
    for (let i = 0; i < FILES; i++) fileBytes += `${i}\n`.length + FILE_BLOCKS * BLOCK_BYTES;

    const arbor = (...args: string[]): string[] => [process.execPath, ...CLI_NODE_ARGS, ARBOR_CLI, '--address', server.address, ...args];
    const runStdout = arbor('run', handle, '--', 'sh', '-c', writeBlocks(`${IN_CONTAINER}/block`, STDOUT_BLOCKS));
    const hostStdout = ['sh', '-c', `${writeBlocks(join(dir, 'block'), STDOUT_BLOCKS)} | cat`];
    const streamOut = arbor('stream-out', handle, '--path', `${IN_CONTAINER}/files/`);
    const hostTar = ['tar', 'c', '-C', hostFiles, '.'];

    const checkStdout = async (): Promise<void> => {
      const { out } = await piped(runStdout, `${process.execPath} -e "${HASH_READER}"`);
      if (out !== `${stdoutBytes} ${stdoutSha}`) throw new Error(`bench data: Run's stdout arrived as '${out}', not '${stdoutBytes} ${stdoutSha}'`);
    };
    const checkStreamOut = async (): Promise<void> => {
      const extracted = join(dir, 'extracted');
      await rm(extracted, { recursive: true, force: true });
      await mkdir(extracted);
      await piped(streamOut, `tar x -C ${extracted}`);
      for (const [name, sha] of expected) {
        const got = await sha256File(join(extracted, name)).catch((err: Error) => err.message);
        if (got !== sha) throw new Error(`bench data: StreamOut's ${name} arrived as ${got}, not ${sha}`);
      }
      await rm(extracted, { recursive: true, force: true });
    };
    const timedCount = (argv: string[], bytes: number) => async (): Promise<number> => {
      const { out, ms } = await piped(argv, 'wc -c');
      checkCount(argv.slice(0, 4).join(' '), out, bytes);
      return ms;
    };

    const [arborRun, hostRun] = await inTurn(
      [checkStdout, timedCount(hostStdout, stdoutBytes)],
      [timedCount(runStdout, stdoutBytes), timedCount(hostStdout, stdoutBytes)],
    );
    const [arborOut, hostOut] = await inTurn(
      [checkStreamOut, () => piped(hostTar, 'wc -c')],
      [async () => piped(streamOut, 'wc -c').then((r) => r.ms), () => piped(hostTar, 'wc -c').then((r) => r.ms)],
    );

    const mib = (bytes: number, ms: number): number => bytes / (1024 * 1024) / (ms / 1000);
    const mb = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);
    const p50 = (s: Sample | undefined): number => percentile(s ?? [], 50);
    const runRate = mib(stdoutBytes, p50(arborRun));
    const hostRate = mib(stdoutBytes, p50(hostRun));
    const outRate = mb(fileBytes, p50(arborOut));
    const tarRate = mb(fileBytes, p50(hostOut));
    printTable(
      `data path, linux backend over gRPC vs the same writer on the host, median of ${DATA_RUNS} in turn (higher is better; sha256 checked in an untimed first run)`,
      [
        {
          name: 'stdout through Run (1,000 MiB, CLI to a pipe)',
          value: `${runRate.toFixed(0)} MiB/s`,
          note: `${(runRate / hostRate).toFixed(2)}x of the host's (aim >= 0.7x); sha256 ok`,
          ratio: runRate / hostRate,
        },
        { name: 'the same writer | cat on the host (same run)', value: `${hostRate.toFixed(0)} MiB/s`, note: 'a shell loop of cat, as in the container' },
        {
          name: `StreamOut of ${(fileBytes / 1e9).toFixed(2)} GB (${FILES} files, CLI to a pipe)`,
          value: `${outRate.toFixed(0)} MB/s`,
          note: `${(outRate / tarRate).toFixed(2)}x of tar c (aim >= 0.5x); sha256 of each file ok`,
          ratio: outRate / tarRate,
        },
        { name: '`tar c` of the same files on the host (same run)', value: `${tarRate.toFixed(0)} MB/s`, note: 'GNU tar to a pipe' },
      ],
    );
  } finally {
    await client.destroy(handle).catch(() => undefined);
    client.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
