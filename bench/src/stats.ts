import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';

/** Sample is a list of durations in milliseconds. */
export type Sample = number[];

export function percentile(sample: Sample, p: number): number {
  const sorted = [...sample].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

/** timeEach runs fn `count` times, one after another, and returns each duration in ms. */
export async function timeEach(count: number, fn: (i: number) => Promise<unknown>): Promise<Sample> {
  const sample: Sample = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await fn(i);
    sample.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return sample;
}

/** ratePerSecond runs fn in a loop for about `ms` milliseconds and returns calls per second. */
export async function ratePerSecond(ms: number, fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let calls = 0;
  while (process.hrtime.bigint() < deadline) {
    await fn();
    calls++;
  }
  return calls / (Number(process.hrtime.bigint() - start) / 1e9);
}

/**
 * ratesInTurn runs fn and its yardstick in turn, sliceMs at a time, until about totalMs have
 * passed in all, and returns the calls per second of each. Taking turns gives a figure and
 * its yardstick the same share of a shared machine's changing load, which one run after the
 * other does not.
 */
export async function ratesInTurn(
  totalMs: number,
  fn: () => Promise<unknown>,
  yardstick: () => Promise<unknown>,
  sliceMs = 100,
): Promise<[rate: number, yardstickRate: number]> {
  const slice = async (f: () => Promise<unknown>): Promise<[calls: number, ns: bigint]> => {
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(sliceMs) * 1_000_000n;
    let calls = 0;
    let now = start;
    while (now < deadline) {
      await f();
      calls++;
      now = process.hrtime.bigint();
    }
    return [calls, now - start];
  };
  const totals = { fn: [0, 0n] as [number, bigint], yardstick: [0, 0n] as [number, bigint] };
  const end = process.hrtime.bigint() + BigInt(totalMs) * 1_000_000n;
  while (process.hrtime.bigint() < end) {
    for (const [key, f] of [
      ['fn', fn],
      ['yardstick', yardstick],
    ] as const) {
      const [calls, ns] = await slice(f);
      totals[key][0] += calls;
      totals[key][1] += ns;
    }
  }
  const rate = ([calls, ns]: [number, bigint]): number => calls / (Number(ns) / 1e9);
  return [rate(totals.fn), rate(totals.yardstick)];
}

/** ratePerSecondInFlight keeps `inFlight` calls of fn running for about `ms` milliseconds and returns calls per second. */
export async function ratePerSecondInFlight(ms: number, inFlight: number, fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let calls = 0;
  const worker = async (): Promise<void> => {
    while (process.hrtime.bigint() < deadline) {
      await fn();
      calls++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return calls / (Number(process.hrtime.bigint() - start) / 1e9);
}

export interface Row {
  name: string;
  /** value is as printed, like '79.4 ms' or '5120/s'. */
  value: string;
  note?: string;
  /** ratio is value over its yardstick's in the same run, like 0.97, for the JSON file (the note says it for people). */
  ratio?: number;
}

/** TABLES are the tables printed in this run, in order, for writeResults. */
const TABLES: Array<{ title: string; rows: Row[] }> = [];

export function printTable(title: string, rows: Row[]): void {
  TABLES.push({ title, rows });
  const w1 = Math.max(...rows.map((r) => r.name.length), 4);
  const w2 = Math.max(...rows.map((r) => r.value.length), 5);
  console.log(`\n${title}`);
  console.log(`${'what'.padEnd(w1)}  ${'value'.padStart(w2)}  note`);
  console.log(`${'-'.repeat(w1)}  ${'-'.repeat(w2)}  ----`);
  for (const r of rows) console.log(`${r.name.padEnd(w1)}  ${r.value.padStart(w2)}  ${r.note ?? ''}`);
}

/** figureOf splits a printed value into its number and unit: '79.4 ms' is 79.4 'ms', '5120/s' is 5120 '/s'; text is neither. */
export function figureOf(value: string): { figure?: number; unit?: string } {
  const m = /^(-?\d+(?:\.\d+)?)\s*(.*)$/.exec(value.trim());
  return m ? { figure: Number(m[1]), unit: m[2] ?? '' } : {};
}

/**
 * writeResults writes every table printed in this run to path as JSON, like
 * { "startedAt": "...", "host": { "cpus": 2, "loadavg": [..] }, "tables": [{ "title": "...",
 * "rows": [{ "name": "Ping", "value": "1042/s", "figure": 1042, "unit": "/s", "note": "0.98x of ...", "ratio": 0.98 }] }] },
 * for comparing runs without reading the printed tables.
 */
export async function writeResults(path: string, startedAt: Date): Promise<void> {
  const results = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', loadavg: loadavg(), node: process.version },
    benchRuns: BENCH_RUNS,
    tables: TABLES.map(({ title, rows }) => ({ title, rows: rows.map((r) => ({ ...r, ...figureOf(r.value) })) })),
  };
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
}

/** BENCH_RUNS is how many runs the backend sections make of each path (env BENCH_RUNS, default 30). */
export const BENCH_RUNS = Number(process.env.BENCH_RUNS ?? 30);

/** formatMs prints a duration like '79.4 ms'. */
export const formatMs = (n: number): string => `${n.toFixed(1)} ms`;

/** ratioAt prints how a's p-th percentile compares with b's, like '0.95x'. */
export const ratioAt = (a: Sample, b: Sample, p = 50): string => `${(percentile(a, p) / percentile(b, p)).toFixed(2)}x`;
