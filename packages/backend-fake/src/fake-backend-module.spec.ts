import { Container } from 'inversify';
import { TOKENS } from '@arbor/core';
import type { Containerizer, Depot, Networker, Volumizer } from '@arbor/core';
import { fakeBackendModule } from './fake-backend-module';
import { FakeContainerizer } from './fake-containerizer';
import { FakeVolumizer } from './fake-volumizer';

describe('fakeBackendModule', () => {
  it('binds the four ports as singletons', async () => {
    const c = new Container();
    await c.load(fakeBackendModule);
    expect(c.get<Containerizer>(TOKENS.Containerizer)).toBeInstanceOf(FakeContainerizer);
    expect(c.get<Volumizer>(TOKENS.Volumizer)).toBeInstanceOf(FakeVolumizer);
    expect(c.get<Volumizer>(TOKENS.Volumizer)).toBe(c.get<Volumizer>(TOKENS.Volumizer));
    expect(await c.get<Depot>(TOKENS.Depot).list()).toEqual([]);
    expect(await c.get<Networker>(TOKENS.Networker).setup('a', { network: '', netnsPath: '', rootfsPath: '', hostname: 'a' })).toMatchObject({
      externalIp: '127.0.0.1',
    });
  });

  it('reads its options from TOKENS.BackendConfig, ignoring the fields it does not know', async () => {
    const c = new Container();
    c.bind(TOKENS.BackendConfig).toConstantValue({ backend: 'fake', externalIp: '203.0.113.9', networkPool: '10.1.0.0/24', maxContainers: 3, listen: 'x' });
    await c.load(fakeBackendModule);
    expect(await c.get<Networker>(TOKENS.Networker).setup('a', { network: '', netnsPath: '', rootfsPath: '', hostname: 'a' })).toEqual({
      hostIp: '10.1.0.1',
      containerIp: '10.1.0.2',
      externalIp: '203.0.113.9',
      subnet: '10.1.0.0/30',
    });
    expect((await c.get<Containerizer>(TOKENS.Containerizer).capacity()).maxContainers).toBe(3);
  });

  it("takes maxContainers 0 (the server's 'backend decides') as the default", async () => {
    const c = new Container();
    c.bind(TOKENS.BackendConfig).toConstantValue({ maxContainers: 0 });
    await c.load(fakeBackendModule);
    expect((await c.get<Containerizer>(TOKENS.Containerizer).capacity()).maxContainers).toBe(1024);
  });
});
