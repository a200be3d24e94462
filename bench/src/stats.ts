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

export interface Row {
  name: string;
  value: string;
  note?: string;
}

export function printTable(title: string, rows: Row[]): void {
  const w1 = Math.max(...rows.map((r) => r.name.length), 4);
  const w2 = Math.max(...rows.map((r) => r.value.length), 5);
  console.log(`\n${title}`);
  console.log(`${'what'.padEnd(w1)}  ${'value'.padStart(w2)}  note`);
  console.log(`${'-'.repeat(w1)}  ${'-'.repeat(w2)}  ----`);
  for (const r of rows) console.log(`${r.name.padEnd(w1)}  ${r.value.padStart(w2)}  ${r.note ?? ''}`);
}

/** BENCH_RUNS is how many runs the backend sections make of each path (env BENCH_RUNS, default 30). */
export const BENCH_RUNS = Number(process.env.BENCH_RUNS ?? 30);

/** formatMs prints a duration like '79.4 ms'. */
export const formatMs = (n: number): string => `${n.toFixed(1)} ms`;

/** ratioAt prints how a's p-th percentile compares with b's, like '0.95x'. */
export const ratioAt = (a: Sample, b: Sample, p = 50): string => `${(percentile(a, p) / percentile(b, p)).toFixed(2)}x`;
