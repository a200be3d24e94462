import { PoolRegistry, TAGS } from '@arbor/network';

/** TestNetwork is what a test's arbord names its links, chains and cgroups by, and the pools it owns. */
export interface TestNetwork {
  /** tag is like 'x': links 'arbx...', chains 'arbx-o-...', cgroups 'arbor-x...'. */
  tag: string;
  /** networkPool is like '10.252.4.0/22': 10.252.<4 k>.0/22 for the k-th of TAGS, apart from arbord's default 10.254.0.0/22. */
  networkPool: string;
  /** portPoolStart and portPoolSize: 100 ports from 43000 + 100 k, apart from arbord's default 61001-65534. */
  portPoolStart: number;
  portPoolSize: number;
  /** staticBlock is like '10.251.4.0/22': 10.251.<4 k>.0/22, where its tests ask for static addresses. */
  staticBlock: string;
  /** usernsBase and usernsSize: 256 containers' host ids from 2.5e9 + 2^24 k, apart from arbord's default pool (1e9 to 2e9) and each other's. */
  usernsBase: number;
  usernsSize: number;
}

/** USERNS_IDS_PER_TAG hold 256 containers of 65536 ids each. */
const USERNS_IDS_PER_TAG = 256 * 65536;

let handedOut = 0;

/** testNetworkFor is the pools of a tag of TAGS, the same on every run. */
export function testNetworkFor(tag: string): TestNetwork {
  const k = TAGS.indexOf(tag);
  if (k < 0) throw new Error(`test network: '${tag}' is not one of TAGS`);
  return {
    tag,
    networkPool: `10.252.${4 * k}.0/22`,
    portPoolStart: 43000 + 100 * k,
    portPoolSize: 100,
    staticBlock: `10.251.${4 * k}.0/22`,
    usernsBase: 2_500_000_000 + USERNS_IDS_PER_TAG * k,
    usernsSize: USERNS_IDS_PER_TAG,
  };
}

/**
 * freeTestNetwork picks a tag no live arbord holds (see /run/arbor/pools), so that a test's
 * arbord never sweeps another's links, chains or cgroups, nor a developer's on the default
 * tag. Successive calls in one process take successive tags, and each process starts at its
 * own place (from its pid), so that parallel jest workers rarely reach for the same tag; if
 * they do, the second arbord refuses to start, naming the first.
 */
export async function freeTestNetwork(exclude: readonly string[] = []): Promise<TestNetwork> {
  const held = new Set([...(await new PoolRegistry().live()).map((e) => e.tag), ...exclude]);
  const start = process.pid * 11 + handedOut;
  for (let i = 0; i < TAGS.length; i++) {
    const tag = TAGS[(start + i) % TAGS.length] ?? '';
    if (held.has(tag)) continue;
    handedOut += i + 1;
    return testNetworkFor(tag);
  }
  throw new Error(`test network: every tag is held by a running arbord (${[...held].join(', ')}): see /run/arbor/pools`);
}

/** networkArgs are arbord's flags for a test network, like ['--tag', 'x', '--network-pool', '10.252.76.0/22', ...]. */
export function networkArgs(network: TestNetwork): string[] {
  return [
    '--tag',
    network.tag,
    '--network-pool',
    network.networkPool,
    '--port-pool-start',
    String(network.portPoolStart),
    '--port-pool-size',
    String(network.portPoolSize),
    '--userns-base',
    String(network.usernsBase),
    '--userns-size',
    String(network.usernsSize),
  ];
}

/** usernsPool is the userns section of a test network: on (arbord's default), over its own ids. */
export function usernsPool(network: TestNetwork): { base: number; size: number } {
  return { base: network.usernsBase, size: network.usernsSize };
}
