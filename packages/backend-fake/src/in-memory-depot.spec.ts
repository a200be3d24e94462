import type { ContainerRecord } from '@arbor/core';
import { InMemoryDepot } from './in-memory-depot';

const record: ContainerRecord = {
  handle: 'a',
  phase: 'created',
  createdAtMs: 1,
  graceTimeMs: 0,
  properties: { app: 'web' },
  limits: {},
  network: { hostIp: '', containerIp: '', externalIp: '', subnet: '' },
  mappedPorts: [],
  netOut: [],
  rootfs: { path: '', env: [], user: '', workingDir: '', entrypoint: [], cmd: [] },
  env: [],
};

describe('InMemoryDepot', () => {
  it('saves, loads, lists and removes records', async () => {
    const depot = new InMemoryDepot();
    await depot.save(record);
    expect(await depot.load('a')).toEqual(record);
    expect(await depot.list()).toEqual([record]);
    await depot.remove('a');
    expect(await depot.load('a')).toBeUndefined();
    await depot.remove('a');
  });

  it('keeps its own copies: changing a saved or loaded record changes nothing stored', async () => {
    const depot = new InMemoryDepot();
    const mine = structuredClone(record);
    await depot.save(mine);
    mine.properties.app = 'changed';
    const loaded = (await depot.load('a')) as ContainerRecord;
    loaded.properties.app = 'also changed';
    (await depot.list())[0]!.properties.app = 'and this';
    expect((await depot.load('a'))?.properties.app).toBe('web');
  });
});
