import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerRecord } from '@arbor/core';
import { FileDepot } from './file-depot';

function record(handle: string, properties: Record<string, string> = {}): ContainerRecord {
  return {
    handle,
    phase: 'created',
    createdAtMs: 1000,
    graceTimeMs: 0,
    properties,
    limits: { memory: { limitInBytes: 1 << 20 } },
    network: { hostIp: '10.254.0.1', containerIp: '10.254.0.2', externalIp: '', subnet: '10.254.0.0/30' },
    mappedPorts: [{ hostPort: 61001, containerPort: 8080 }],
    netOut: [],
    rootfs: { path: '/x', env: ['A=1'], user: '', workingDir: '', entrypoint: [], cmd: [] },
    env: ['A=1'],
  };
}

describe('FileDepot', () => {
  let stateDir: string;
  let depot: FileDepot;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-depot-'));
    depot = new FileDepot(stateDir);
  });
  afterEach(() => rm(stateDir, { recursive: true, force: true }));

  it('saves a record as <stateDir>/depot/<handle>/record.json and loads it back equal', async () => {
    await depot.save(record('web-1', { app: 'web' }));
    const text = await readFile(join(stateDir, 'depot', 'web-1', 'record.json'), 'utf8');
    expect(JSON.parse(text).properties).toEqual({ app: 'web' });
    expect(await depot.load('web-1')).toEqual(record('web-1', { app: 'web' }));
  });

  it('replaces a record on save and leaves no temp files behind', async () => {
    await depot.save(record('web-1', { v: '1' }));
    await depot.save(record('web-1', { v: '2' }));
    expect((await depot.load('web-1'))?.properties).toEqual({ v: '2' });
    expect(await readdir(join(stateDir, 'depot', 'web-1'))).toEqual(['record.json']);
  });

  it('replaces a destroying record atomically too (written without a sync, as it only has to outlive arbord)', async () => {
    await depot.save(record('web-1'));
    await depot.save({ ...record('web-1'), phase: 'destroying' });
    expect((await new FileDepot(stateDir).load('web-1'))?.phase).toBe('destroying');
    expect(await readdir(join(stateDir, 'depot', 'web-1'))).toEqual(['record.json']);
  });

  it('saves again into a record directory removed behind its back', async () => {
    await depot.save(record('web-1'));
    await rm(join(stateDir, 'depot', 'web-1'), { recursive: true });
    await depot.save(record('web-1', { v: '2' }));
    expect((await depot.load('web-1'))?.properties).toEqual({ v: '2' });
  });

  it('lists every record, a fresh depot (after a restart) too, and skips directories without one', async () => {
    await depot.save(record('a'));
    await depot.save(record('b'));
    await mkdir(join(stateDir, 'depot', 'half-made'));
    const reopened = new FileDepot(stateDir);
    expect((await reopened.list()).map((r) => r.handle)).toEqual(['a', 'b']);
  });

  it('lists nothing when the state dir is new', async () => {
    expect(await new FileDepot(join(stateDir, 'never-used')).list()).toEqual([]);
  });

  it('load returns undefined for an unknown handle', async () => {
    expect(await depot.load('nope')).toBeUndefined();
  });

  it('remove deletes the directory with what containerizers kept in it, and is idempotent', async () => {
    await depot.save(record('a'));
    await mkdir(join(stateDir, 'depot', 'a', 'processes', 'p1'), { recursive: true });
    await writeFile(join(stateDir, 'depot', 'a', 'processes', 'p1', 'exit'), '0\n');
    await depot.remove('a');
    await depot.remove('a');
    expect(await depot.list()).toEqual([]);
    expect(await readdir(join(stateDir, 'depot'))).toEqual([]);
  });

  it('keeps a 256-character handle (longer than a file name may be) and lists it back', async () => {
    const long = `h${'x'.repeat(255)}`;
    await depot.save(record(long, { a: '1' }));
    expect((await depot.load(long))?.properties).toEqual({ a: '1' });
    expect((await new FileDepot(stateDir).list()).map((r) => r.handle)).toEqual([long]);
    await depot.remove(long);
    expect(await depot.list()).toEqual([]);
  });

  it('refuses a handle that would leave the depot', async () => {
    await expect(depot.save(record('../escape'))).rejects.toThrow(/handle/);
    await expect(depot.remove('..')).rejects.toThrow(/handle/);
  });

  it('reports an unreadable record as an internal error naming the handle', async () => {
    await mkdir(join(stateDir, 'depot', 'bad'), { recursive: true });
    await writeFile(join(stateDir, 'depot', 'bad', 'record.json'), '{not json');
    await expect(depot.load('bad')).rejects.toThrow(/depot.load bad: record.json is not JSON/);
  });
});
