import { ContainerModule } from 'inversify';
import { TOKENS } from '@arbor/core';
import type { Depot } from '@arbor/core';
import { FileDepot } from './file-depot';

/** FileDepotConfig is the part of TOKENS.BackendConfig the FileDepot reads. */
export interface FileDepotConfig {
  /** stateDir is like /var/lib/arbor; records live in <stateDir>/depot. */
  stateDir: string;
}

/** fileDepotModule binds TOKENS.Depot to a FileDepot over the config's stateDir, for the real backends. */
export const fileDepotModule = new ContainerModule(({ bind }) => {
  bind<Depot>(TOKENS.Depot)
    .toResolvedValue((config: FileDepotConfig) => new FileDepot(config.stateDir), [TOKENS.BackendConfig])
    .inSingletonScope();
});
