import { ArborError } from '@arbor/core';

/** UsernsConfig is the server's `userns` section: the pool of host ids unprivileged containers are mapped onto. */
export interface UsernsConfig {
  /** enabled gives each unprivileged container a user namespace of its own ids. */
  enabled: boolean;
  /** base is the pool's first host id, like 1000000000. */
  base: number;
  /** size is how many host ids the pool holds, like 1000000000. */
  size: number;
  /** perContainer is how many ids one container gets, like 65536. */
  perContainer: number;
}

/**
 * IdRange is the host ids of one container: its uid and gid N are host id hostId + N, for N
 * below size. Kept in the container's container.json, like { hostId: 1000065536, size: 65536 }.
 */
export interface IdRange {
  hostId: number;
  size: number;
}

/**
 * IdRangeAllocator hands each unprivileged container a range of perContainer host ids of
 * the pool no live container holds: slot i is base + i * perContainer. In memory: the
 * HostContainerizer claims the ranges its container.json files record after a restart.
 */
export class IdRangeAllocator {
  /** slots maps a taken slot to its container's handle. */
  private readonly slots = new Map<number, string>();
  private readonly slotOf = new Map<string, number>();
  private readonly slotCount: number;

  constructor(private readonly pool: Omit<UsernsConfig, 'enabled'>) {
    this.slotCount = Math.floor(pool.size / pool.perContainer);
  }

  /**
   * allocate gives handle the lowest free range, or the one it holds already.
   * @throws ArborError 'resourceExhausted' when every range is taken
   */
  allocate(handle: string): IdRange {
    const held = this.slotOf.get(handle);
    if (held !== undefined) return this.range(held);
    for (let slot = 0; slot < this.slotCount; slot++) {
      if (!this.slots.has(slot)) {
        this.take(slot, handle);
        return this.range(slot);
      }
    }
    throw new ArborError('resourceExhausted', `userns: all ${this.slotCount} id ranges of ${this.pool.perContainer} ids from ${this.pool.base} are taken`);
  }

  /**
   * claim records that handle holds range, as its container.json says after a restart.
   * @throws ArborError 'internal' for a range that is not one of this pool's slots (the pool
   * changed under live containers) or that another container holds
   */
  claim(handle: string, range: IdRange): void {
    const offset = range.hostId - this.pool.base;
    const slot = offset / this.pool.perContainer;
    if (range.size !== this.pool.perContainer || !Number.isInteger(slot) || slot < 0 || slot >= this.slotCount) {
      throw new ArborError(
        'internal',
        `userns: container ${handle} holds ids ${range.hostId}+${range.size}, not a range of the pool (${this.pool.perContainer} ids from ${this.pool.base}): destroy it or restore the userns config it was made with`,
      );
    }
    const holder = this.slots.get(slot);
    if (holder !== undefined && holder !== handle) {
      throw new ArborError('internal', `userns: containers ${holder} and ${handle} both hold ids from ${range.hostId}`);
    }
    this.take(slot, handle);
  }

  /** release frees handle's range; one it does not hold is fine. */
  release(handle: string): void {
    const slot = this.slotOf.get(handle);
    if (slot === undefined) return;
    this.slotOf.delete(handle);
    this.slots.delete(slot);
  }

  /** held is handle's range, if it holds one. */
  held(handle: string): IdRange | undefined {
    const slot = this.slotOf.get(handle);
    return slot === undefined ? undefined : this.range(slot);
  }

  private take(slot: number, handle: string): void {
    const previous = this.slotOf.get(handle);
    if (previous !== undefined && previous !== slot) this.slots.delete(previous);
    this.slots.set(slot, handle);
    this.slotOf.set(handle, slot);
  }

  private range(slot: number): IdRange {
    return { hostId: this.pool.base + slot * this.pool.perContainer, size: this.pool.perContainer };
  }
}

/**
 * checkSubordinateIds refuses a pool that overlaps a range /etc/subuid or /etc/subgid gives
 * a user (lines like 'alice:100000:65536'): that user's rootless containers would share ids
 * with Arbor's.
 * @throws ArborError 'failedPrecondition' naming the file, the line and the fix
 */
export function checkSubordinateIds(pool: Omit<UsernsConfig, 'enabled'>, files: { path: string; text: string }[]): void {
  const end = pool.base + pool.size;
  for (const { path, text } of files) {
    for (const line of text.split('\n')) {
      const m = /^([^:#\s][^:]*):(\d+):(\d+)\s*$/.exec(line);
      if (!m) continue;
      const start = Number(m[2]);
      const count = Number(m[3]);
      if (start < end && pool.base < start + count) {
        throw new ArborError(
          'failedPrecondition',
          `userns: the pool of ${pool.size} ids from ${pool.base} overlaps ${path}'s '${line.trim()}': choose userns.base and userns.size outside it`,
        );
      }
    }
  }
}
