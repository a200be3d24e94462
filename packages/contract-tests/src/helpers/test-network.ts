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

/** WORKER_SLOTS: the tags are dealt out in this many disjoint sets, one per jest worker (JEST_WORKER_ID 1, 2, ...). */
const WORKER_SLOTS = 4;

/**
 * freeTestNetwork picks a tag no live arbord holds (see /run/arbor/pools), so that a test's
 * arbord never sweeps another's links, chains or cgroups, nor a developer's on the default
 * tag. Each jest worker takes tags from its own set (every WORKER_SLOTS-th of TAGS), so that
 * suites running side by side never reach for the same free tag at once; successive calls in
 * one process take successive tags of the set.
 */
export async function freeTestNetwork(exclude: readonly string[] = []): Promise<TestNetwork> {
  const held = new Set([...(await new PoolRegistry().live()).map((e) => e.tag), ...exclude]);
  const slot = (Number(process.env['JEST_WORKER_ID'] ?? '1') - 1) % WORKER_SLOTS;
  const mine = TAGS.filter((_, k) => k % WORKER_SLOTS === slot);
  for (let i = 0; i < mine.length; i++) {
    const tag = mine[(handedOut + i) % mine.length] ?? '';
    if (held.has(tag)) continue;
    handedOut += i + 1;
    return testNetworkFor(tag);
  }
  throw new Error(`test network: every tag of this worker's set (${mine.join('')}) is held by a running arbord: see /run/arbor/pools`);
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
