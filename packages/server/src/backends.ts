import type { BackendModules } from '@arbor/core';
import { fakeBackendModule } from '@arbor/backend-fake';
import { linuxBackendModules } from '@arbor/backend-linux';
import { runcBackendModules } from '@arbor/backend-runc';

/** BackendRegistry maps a backend name (config.backend) to the ContainerModules that bind its ports. */
export type BackendRegistry = Readonly<Record<string, () => BackendModules>>;

/** backends is the registry: adding a backend is one line here. */
export const backends: BackendRegistry = {
  linux: () => linuxBackendModules,
  runc: () => runcBackendModules,
  fake: () => fakeBackendModule,
};
