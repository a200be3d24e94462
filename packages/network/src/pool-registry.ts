import { link, mkdir, readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ArborError, parseCidr } from '@arbor/core';

/** DEFAULT_POOL_REGISTRY_DIR is where every networker on the host records its pools, one file per tag. */
export const DEFAULT_POOL_REGISTRY_DIR = '/run/arbor/pools';

/** PoolClaim is what one networker records: its tag, its address and port pools, and whose it is. */
export interface PoolClaim {
  /** tag is like 'x', '' for the default names. */
  tag: string;
  /** networkPool is like '10.254.0.0/22'. */
  networkPool: string;
  /** ports are the NetIn host ports it hands out, like { start: 61001, size: 4534 }. */
  ports: { start: number; size: number };
  /**
   * userIds are the host ids its containers' user namespaces take (userns), like
   * { base: 1000000000, size: 1000000000 }; absent where userns is off. Two arbords on one
   * pool would give two tenants' containers the same host ids.
   */
  userIds?: { base: number; size: number };
}

/** PoolEntry is a claim as stored, like /run/arbor/pools/arbx.json. */
export interface PoolEntry extends PoolClaim {
  pid: number;
  /** startTime is field 22 of /proc/<pid>/stat: with the pid, tells a live owner from a reused pid. */
  startTime: string;
}

/** processStartTime is field 22 of /proc/<pid>/stat (clock ticks after boot), or undefined when no such process runs. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command, field 2, is in parentheses and may hold spaces: count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function range(cidr: string): { first: number; last: number } {
  const { network, prefixLength } = parseCidr(cidr, 'networkPool');
  const size = 2 ** (32 - prefixLength);
  const first = network - (network % size);
  return { first, last: first + size - 1 };
}

function overlaps(a: { first: number; last: number }, b: { first: number; last: number }): boolean {
  return a.first <= b.last && b.first <= a.last;
}

function idRange(ids: { base: number; size: number } | undefined): { first: number; last: number } | undefined {
  return ids && { first: ids.base, last: ids.base + ids.size - 1 };
}

function describe(e: PoolEntry): string {
  const ids = idRange(e.userIds);
  return (
    `tag '${e.tag}' (pid ${e.pid}) with network pool ${e.networkPool} and ports ${e.ports.start}-${e.ports.start + e.ports.size - 1}` +
    (ids ? ` and user ids ${ids.first}-${ids.last}` : '')
  );
}

/**
 * PoolRegistry keeps, in dir (like /run/arbor/pools), one file per running networker's tag
 * (like arbx.json for tag 'x', arb.json for the default) holding its pools and pid, so that a
 * second arbord on the host refuses to start with the same tag (its start would sweep the
 * first's links and chains) or with an address, NetIn port or user-namespace id pool that
 * overlaps (both would route the same addresses, DNAT the same ports, map two tenants onto the
 * same host ids). An entry whose process is gone (pid dead, or
 * reused: another start time) is stale and ignored. Networkers of one process may share
 * pools: that is one composition, like a test's extra servers. Two starts racing on
 * overlapping pools may both be refused; never both accepted.
 */
export class PoolRegistry {
  constructor(
    readonly dir = DEFAULT_POOL_REGISTRY_DIR,
    private readonly pid = process.pid,
  ) {}

  /** fileFor is like /run/arbor/pools/arbx.json. */
  fileFor(tag: string): string {
    return path.join(this.dir, `arb${tag}.json`);
  }

  /** live reads every entry whose process still runs. */
  async live(): Promise<PoolEntry[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const entries = await Promise.all(names.filter((n) => /^arb[a-z0-9]?\.json$/.test(n)).map((n) => this.read(path.join(this.dir, n))));
    return entries.filter((e): e is PoolEntry => e !== undefined && processStartTime(e.pid) === e.startTime);
  }

  /**
   * claim records this process's claim, after checking that no other live networker has its
   * tag nor overlapping pools; release() removes the record (only while it is still ours).
   * @throws ArborError failedPrecondition naming the other arbord's tag, pools and pid
   */
  async claim(claim: PoolClaim): Promise<{ release(): Promise<void> }> {
    const startTime = processStartTime(this.pid);
    if (startTime === undefined) throw new ArborError('internal', `pool registry: cannot read /proc/${this.pid}/stat`);
    const entry: PoolEntry = { ...claim, pid: this.pid, startTime };
    const file = this.fileFor(claim.tag);
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    await this.create(file, entry);
    try {
      const mine = range(claim.networkPool);
      const myPorts = { first: claim.ports.start, last: claim.ports.start + claim.ports.size - 1 };
      const myIds = idRange(claim.userIds);
      for (const other of await this.live()) {
        if (other.pid === this.pid) continue;
        const ports = { first: other.ports.start, last: other.ports.start + other.ports.size - 1 };
        if (overlaps(mine, range(other.networkPool)) || overlaps(myPorts, ports)) {
          throw new ArborError(
            'failedPrecondition',
            `network: pools of tag '${claim.tag}' (network ${claim.networkPool}, ports ${myPorts.first}-${myPorts.last}) overlap another arbord's: ` +
              `${describe(other)}; give this one a network pool and port pool of its own (--network-pool, --port-pool-start)`,
          );
        }
        const ids = idRange(other.userIds);
        if (myIds && ids && overlaps(myIds, ids)) {
          throw new ArborError(
            'failedPrecondition',
            `userns: user ids ${myIds.first}-${myIds.last} of tag '${claim.tag}' overlap another arbord's: ${describe(other)}; give this one a pool of its own (--userns-base, --userns-size)`,
          );
        }
      }
    } catch (err) {
      await this.removeIfMine(file);
      throw err;
    }
    return { release: () => this.removeIfMine(file) };
  }

  /**
   * create writes the entry only if no live networker holds the tag; a stale file is replaced.
   * The entry is written whole to a file of its own, then linked into place: link fails when
   * the name exists, so a reader never sees half an entry and only one of two racing starts wins.
   */
  private async create(file: string, entry: PoolEntry): Promise<void> {
    const scratch = `${file}.${this.pid}.tmp`;
    await writeFile(scratch, `${JSON.stringify(entry)}\n`, { mode: 0o644 });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await link(scratch, file);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
        }
        const held = await this.read(file);
        if (held && processStartTime(held.pid) === held.startTime) {
          throw new ArborError(
            'failedPrecondition',
            `network: tag '${entry.tag}' is taken by another arbord: ${describe(held)}; ` +
              `two arbords with one tag would sweep each other's links and chains: give this one its own --tag`,
          );
        }
        await unlink(file).catch(() => undefined);
      }
    } finally {
      await unlink(scratch).catch(() => undefined);
    }
  }

  private async removeIfMine(file: string): Promise<void> {
    const held = await this.read(file);
    if (held?.pid === this.pid) await unlink(file).catch(() => undefined);
  }

  /** read returns an entry, or undefined for a file gone or not an entry (treated as stale). */
  private async read(file: string): Promise<PoolEntry | undefined> {
    try {
      const e = JSON.parse(await readFile(file, 'utf8')) as Partial<PoolEntry>;
      if (typeof e.pid !== 'number' || typeof e.startTime !== 'string' || typeof e.networkPool !== 'string' || typeof e.tag !== 'string') return undefined;
      const userIds = typeof e.userIds?.base === 'number' && typeof e.userIds.size === 'number' ? { base: e.userIds.base, size: e.userIds.size } : undefined;
      return {
        tag: e.tag,
        networkPool: e.networkPool,
        ports: e.ports ?? { start: 0, size: 0 },
        ...(userIds && { userIds }),
        pid: e.pid,
        startTime: e.startTime,
      };
    } catch {
      return undefined;
    }
  }
}
