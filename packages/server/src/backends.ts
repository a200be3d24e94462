import type { ContainerModule } from 'inversify';
import { fakeBackendModule } from '@arbor/backend-fake';
import { linuxBackendModule } from '@arbor/backend-linux';
import { runcBackendModule } from '@arbor/backend-runc';

/** BackendModules maps a backend name (config.backend) to the ContainerModule that binds its ports. */
export type BackendModules = Readonly<Record<string, () => ContainerModule>>;

/** backends is the registry: adding a backend is one line here. */
export const backends: BackendModules = {
  linux: () => linuxBackendModule,
  runc: () => runcBackendModule,
  fake: () => fakeBackendModule,
};
