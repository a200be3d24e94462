import { PassThrough } from 'node:stream';
import { ContainerNotFoundError, ResourceExhaustedError, composeBackend } from '@arbor/core';
import type { Gardener } from '@arbor/core';
import { probeCommand, steps } from '@arbor/probes';
import { fakeBackendModule } from './fake-backend-module';
import type { FakeBackendConfig } from './fake-backend-module';

async function fakeBackend(config: FakeBackendConfig = {}): Promise<Gardener> {
  return (await composeBackend(fakeBackendModule, config)).backend;
}

describe('the fake backend composed by composeBackend', () => {
  it('makes a whole backend: create, run, info, destroy', async () => {
    const backend = await fakeBackend({ externalIp: '198.51.100.1' });
    await backend.start();
    const container = await backend.create({ handle: 'web', env: ['GREETING=hi'], properties: { app: 'web' } });
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    const p = await container.run(probeCommand([steps.printVar('GREETING'), steps.pwd()]), { stdout });
    expect(await p.wait()).toBe(0);
    expect(out).toBe('hi\n/root\n');
    expect(await container.info()).toMatchObject({ state: 'active', externalIp: '198.51.100.1', containerIp: '10.254.0.2', properties: { app: 'web' } });
    const capacity = await backend.capacity();
    expect(capacity.maxContainers).toBe(1024);
    expect(capacity.memoryInBytes).toBeGreaterThan(0);
    expect(capacity.diskInBytes).toBeGreaterThan(0);
    await backend.destroy('web');
    await expect(backend.lookup('web')).rejects.toBeInstanceOf(ContainerNotFoundError);
    await backend.stop();
  });

  it('caps the containers at maxContainers', async () => {
    const backend = await fakeBackend({ maxContainers: 1 });
    await backend.create({});
    await expect(backend.create({})).rejects.toBeInstanceOf(ResourceExhaustedError);
  });

  it('rolls a failed create back: a bad image leaves nothing behind', async () => {
    const backend = await fakeBackend();
    await expect(backend.create({ handle: 'bad', image: { uri: 'docker:///busybox' } })).rejects.toThrow(/not served by the fake backend/);
    expect(await backend.containers()).toEqual([]);
    expect((await backend.create({ handle: 'bad' })).handle).toBe('bad');
  });

  it('reports what it does: limits recorded, not enforced; no network, isolation nor restart', async () => {
    expect((await composeBackend(fakeBackendModule, {})).capabilities).toEqual({
      enforcesLimits: false,
      enforcesDiskLimits: true,
      realNetwork: false,
      isolation: false,
      survivesRestart: false,
      runsImagePrograms: false,
      userNamespaces: false,
    });
  });
});
