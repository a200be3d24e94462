// @arbor/backend-runc: containers made by the real runc from OCI bundles.
export { runcBackendModule } from './runc-backend-module';
export { createRuncBackend, makeRuncContainerizer } from './create-runc-backend';
export type { RuncBackendConfig, RuncBackendOptions } from './create-runc-backend';
export { RuncContainerizer } from './runc-containerizer';
export type { RuncContainerizerOptions } from './runc-containerizer';
export { RuncCli, RuncError, checkRuncVersion, MIN_RUNC_VERSION } from './runc-cli';
export { runcConfig, runcResources, runcUpdateArgs, DEFAULT_CAPABILITIES, INIT_PATH } from './runc-config';
export { containerSeccomp, parseSeccompProfile, SECCOMP_PROFILE_PATH } from './seccomp-profile';
export type { OciSeccomp, OciSeccompArg, OciSeccompRule } from './seccomp-profile';
export type { OciSpec, RuncConfigOptions } from './runc-config';
