import type { BackendModules } from '@arbor/core';
import { fakeBackendModule } from '@arbor/backend-fake';
import { fakeShellModule } from '@arbor/fake-shell';
import { linuxBackendModules } from '@arbor/backend-linux';
import { runcBackendModules } from '@arbor/backend-runc';
import type { ArborConfig } from './arbor-config';

/**
 * BackendRegistry maps a backend name (config.backend) to the ContainerModules that bind its
 * ports, for arbord's config (without one: as for the default config).
 */
export type BackendRegistry = Readonly<Record<string, (config?: Pick<ArborConfig, 'fakeShell'>) => BackendModules>>;

/** backends is the registry: adding a backend is one line here. */
export const backends: BackendRegistry = {
  linux: () => linuxBackendModules,
  runc: () => runcBackendModules,
  // the fake runs the demo shell unless config.fakeShell is false (then: probes only)
  fake: (config) => (config?.fakeShell === false ? fakeBackendModule : [fakeBackendModule, fakeShellModule]),
};
