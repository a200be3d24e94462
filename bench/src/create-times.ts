// Create time of the two kinds of container a real backend makes, side by side in one run.
import type { GrpcClient } from '@arbor/client';
import { BENCH_RUNS, formatMs, percentile, ratioAt, timeEach, type Row, type Sample } from './stats';

/**
 * createRows times BENCH_RUNS creates of each kind, alternating so load changes hit both:
 * unprivileged (a user namespace of its own ids, idmapped layers: the default) and privileged
 * (host root, no user namespace). Destroys are not timed.
 */
export async function createRows(client: GrpcClient, prefix: string): Promise<Row[]> {
  const unprivileged: Sample = [];
  const privileged: Sample = [];
  let n = 0;
  const createOne = (asPrivileged: boolean) => async () => {
    const c = await client.create({ handle: `${prefix}-create-${n++}`, privileged: asPrivileged });
    return c.handle;
  };
  for (let i = 0; i < BENCH_RUNS; i++) {
    for (const [sample, asPrivileged] of [
      [unprivileged, false],
      [privileged, true],
    ] as const) {
      let handle = '';
      sample.push(...(await timeEach(1, async () => (handle = await createOne(asPrivileged)()))));
      await client.destroy(handle);
    }
  }
  return [
    {
      name: 'create p50, unprivileged (user namespace)',
      value: formatMs(percentile(unprivileged, 50)),
      note: `${ratioAt(unprivileged, privileged)} of privileged`,
    },
    { name: 'create p50, privileged (host root)', value: formatMs(percentile(privileged, 50)), note: `p99 ${formatMs(percentile(privileged, 99))}` },
  ];
}
