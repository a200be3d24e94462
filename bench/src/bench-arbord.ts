import { join } from 'node:path';
import { startArbord } from '@arbor/server';

/** BenchNetwork is a section's own tag, pools and user ids, apart from each other section's and a running arbord's. */
export interface BenchNetwork {
  tag: string;
  networkPool: string;
  portPoolStart: number;
  usernsBase: number;
}

/**
 * BENCH_NETWORKS: a section's arbord never sweeps another's (or a running arbord's) links,
 * chains or cgroups, and refuses to start, naming it, if another holds them.
 */
export const BENCH_NETWORKS = {
  linux: { tag: 'x', networkPool: '10.253.0.0/22', portPoolStart: 47000, usernsBase: 3_600_000_000 },
  runc: { tag: 'y', networkPool: '10.253.4.0/22', portPoolStart: 47200, usernsBase: 3_700_000_000 },
  data: { tag: 'z', networkPool: '10.253.8.0/22', portPoolStart: 47400, usernsBase: 3_650_000_000 },
} as const satisfies Record<string, BenchNetwork>;

/** startBenchArbord starts arbord in this process with backend over a unix socket and state in dir, on network (user namespaces on, as by default). */
export function startBenchArbord(backend: 'linux' | 'runc', dir: string, network: BenchNetwork): ReturnType<typeof startArbord> {
  return startArbord({
    backend,
    listen: `unix://${dir}/arbord.sock`,
    stateDir: join(dir, 'state'),
    logLevel: 'error',
    tag: network.tag,
    networkPool: network.networkPool,
    portPoolStart: network.portPoolStart,
    portPoolSize: 200,
    userns: { base: network.usernsBase, size: 256 * 65536 },
  });
}
