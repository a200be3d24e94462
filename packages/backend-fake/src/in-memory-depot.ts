import type { ContainerRecord, Depot } from '@arbor/core';

/**
 * InMemoryDepot keeps container records in memory. Records are cloned on the way in and
 * out, so a caller changing its copy does not change what is stored.
 */
export class InMemoryDepot implements Depot {
  private readonly records = new Map<string, ContainerRecord>();

  async save(record: ContainerRecord): Promise<void> {
    this.records.set(record.handle, structuredClone(record));
  }

  async load(handle: string): Promise<ContainerRecord | undefined> {
    const record = this.records.get(handle);
    return record && structuredClone(record);
  }

  async remove(handle: string): Promise<void> {
    this.records.delete(handle);
  }

  async list(): Promise<ContainerRecord[]> {
    return [...this.records.values()].map((r) => structuredClone(r));
  }
}
