// @arbor/backend-fake: an in-memory, unprivileged, faithful model of a Garden backend.
export { fakeBackendModule } from './fake-backend-module';
export type { FakeBackendConfig } from './fake-backend-module';
export { DEFAULT_FAKE_BACKEND_OPTIONS } from './fake-backend-options';
export type { FakeBackendOptions } from './fake-backend-options';
export { FakeContainerizer } from './fake-containerizer';
export type { FakeContainerizerOptions } from './fake-containerizer';
export { FakeNetworker } from './fake-networker';
export type { FakeNetworkerOptions } from './fake-networker';
export { FakeVolumizer } from './fake-volumizer';
export type { FakeVolumizerOptions } from './fake-volumizer';
export { InMemoryDepot } from './in-memory-depot';
