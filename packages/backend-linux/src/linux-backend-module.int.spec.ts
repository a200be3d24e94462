import 'reflect-metadata';
import { Container } from 'inversify';
import { TOKENS, silentLogger } from '@arbor/core';
import type { BackendCapabilities, Containerizer, Depot, Networker, Volumizer } from '@arbor/core';
import { FileDepot } from '@arbor/depot';
import { HostContainerizer } from '@arbor/host';
import { OverlayVolumizer } from '@arbor/images';
import { LinuxNetworker } from '@arbor/network';
import { describeIf } from '@arbor/testkit';
import { linuxBackendModules } from './linux-backend-module';
import { prepareHost } from './testing/linux-test-env';

async function compose(config: Record<string, unknown>): Promise<Container> {
  const container = new Container();
  container.bind(TOKENS.BackendConfig).toConstantValue(config);
  container.bind(TOKENS.Logger).toConstantValue(silentLogger);
  await container.load(...linuxBackendModules);
  return container;
}

describeIf({ root: true })('linuxBackendModules', () => {
  beforeAll(() => prepareHost());

  it('bind the four ports and the capabilities from the server config', async () => {
    const container = await compose({ stateDir: '/tmp/arbor-module-test', defaultRootfs: '' });
    expect(await container.getAsync<Containerizer>(TOKENS.Containerizer)).toBeInstanceOf(HostContainerizer);
    expect(await container.getAsync<Volumizer>(TOKENS.Volumizer)).toBeInstanceOf(OverlayVolumizer);
    expect(await container.getAsync<Depot>(TOKENS.Depot)).toBeInstanceOf(FileDepot);
    expect(await container.getAsync<Networker>(TOKENS.Networker)).toBeInstanceOf(LinuxNetworker);
    expect(container.get<BackendCapabilities>(TOKENS.Capabilities)).toMatchObject({ enforcesLimits: true, isolation: true, userNamespaces: true });
  });

  it('report user namespaces off where the config turns them off', async () => {
    const container = await compose({ stateDir: '/tmp/arbor-module-test', defaultRootfs: '', userns: { enabled: false } });
    expect(container.get<BackendCapabilities>(TOKENS.Capabilities)).toMatchObject({ userNamespaces: false });
  });

  it('say how to fix a host without the built helpers', async () => {
    const container = await compose({ stateDir: '/tmp/arbor-module-test', defaultRootfs: '', helpersDir: '/nowhere' });
    await expect(container.getAsync(TOKENS.Containerizer)).rejects.toThrow(
      /arbor-create not found at \/nowhere\/arbor-create: build the helpers with make -C native/,
    );
  });
});
