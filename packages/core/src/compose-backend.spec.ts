import { ContainerModule } from 'inversify';
import type { BackendCapabilities } from './capabilities';
import { backendCapabilities, composeBackend } from './compose-backend';
import type { Containerizer, Depot, Networker, Volumizer } from './ports';
import { TOKENS } from './tokens';

const CAPABILITIES: BackendCapabilities = {
  enforcesLimits: true,
  enforcesDiskLimits: false,
  realNetwork: false,
  isolation: true,
  survivesRestart: false,
  runsImagePrograms: false,
  userNamespaces: false,
};

/** containerizerOf is a Containerizer that only reports a capacity of maxContainers. */
const containerizerOf = (maxContainers: number) => ({ capacity: async () => ({ memoryInBytes: 1, maxContainers }) }) as unknown as Containerizer;

/** stubBackend binds stand-in ports: the containerizer's cap is the config's stubCap. */
const stubBackend = new ContainerModule(({ bind }) => {
  bind<Containerizer>(TOKENS.Containerizer).toResolvedValue((config: { stubCap: number }) => containerizerOf(config.stubCap), [TOKENS.BackendConfig]);
  bind<Networker>(TOKENS.Networker).toConstantValue({} as Networker);
  bind<Volumizer>(TOKENS.Volumizer).toConstantValue({ capacity: async () => ({ diskInBytes: 2, schedulableDiskInBytes: 2 }) } as unknown as Volumizer);
  bind<Depot>(TOKENS.Depot).toConstantValue({} as Depot);
  bind<BackendCapabilities>(TOKENS.Capabilities).toConstantValue(CAPABILITIES);
});

describe('composeBackend', () => {
  it("builds a Gardener over the modules' ports, with the Gardener's settings read from the config", async () => {
    const { backend, capabilities } = await composeBackend(stubBackend, { stubCap: 50, maxContainers: 7 });
    expect(capabilities).toEqual(CAPABILITIES);
    expect(await backend.capacity()).toEqual({ memoryInBytes: 1, diskInBytes: 2, schedulableDiskInBytes: 2, maxContainers: 7 });
  });

  it('lets deps override the Gardener config and later modules rebind a port', async () => {
    const smaller = new ContainerModule(({ rebindSync }) => void rebindSync<Containerizer>(TOKENS.Containerizer).toConstantValue(containerizerOf(30)));
    const { backend } = await composeBackend([stubBackend], { stubCap: 50, maxContainers: 7 }, { gardener: { maxContainers: 0 }, overrides: [smaller] });
    expect((await backend.capacity()).maxContainers).toBe(30);
  });
});

describe('backendCapabilities', () => {
  it("reads the modules' capabilities synchronously, without building a port", () => {
    const built: string[] = [];
    const watched = new ContainerModule(({ onActivation }) =>
      onActivation<Containerizer>(TOKENS.Containerizer, (_c, port) => (built.push('containerizer'), port)),
    );
    expect(backendCapabilities([stubBackend, watched], { stubCap: 1 })).toEqual(CAPABILITIES);
    expect(built).toEqual([]);
  });
});
