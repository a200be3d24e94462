import { makeHostBackendModule } from '@arbor/backend-linux';
import { makeRuncContainerizer } from './create-runc-backend';

/**
 * runcBackendModule is what the server's backend registry binds for `backend: runc`: the
 * RuncContainerizer beside the host ports the linux backend uses too (overlay volumes with
 * images, the file depot, the LinuxNetworker). Resolving it fails with the reason when runc
 * is missing or too old.
 */
export const runcBackendModule = makeHostBackendModule(makeRuncContainerizer);
