import type { ContainerRecord, Depot } from '@arbor/core';

/**
 * InMemoryDepot keeps container records in memory as JSON text, as FileDepot keeps them on
 * disk: a record comes back as a restarted arbord would read it, and a caller changing its
 * copy, saved or loaded, does not change what is stored. (Text is also cheaper to save than
 * a structuredClone, and the Gardener saves on every change.)
 */
export class InMemoryDepot implements Depot {
  private readonly records = new Map<string, string>();

  async save(record: ContainerRecord): Promise<void> {
    this.records.set(record.handle, JSON.stringify(record));
  }

  async load(handle: string): Promise<ContainerRecord | undefined> {
    const text = this.records.get(handle);
    return text === undefined ? undefined : (JSON.parse(text) as ContainerRecord);
  }

  async remove(handle: string): Promise<void> {
    this.records.delete(handle);
  }

  async list(): Promise<ContainerRecord[]> {
    return [...this.records.values()].map((text) => JSON.parse(text) as ContainerRecord);
  }
}
