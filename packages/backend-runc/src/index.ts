// @arbor/backend-runc: containers made by the real runc from OCI bundles.
export { runcBackendModules, runcContainerizer, runcContainerizerModule } from './runc-backend-module';
export type { RuncBackendConfig, RuncConfig } from './runc-backend-config';
export { RuncRuntime } from './runc-runtime';
export type { RuncRuntimeOptions } from './runc-runtime';
export { RuncCli, RuncError, checkRuncVersion, MIN_RUNC_VERSION } from './runc-cli';
export { runcConfig, runcResources, runcUpdateArgs, DEFAULT_CAPABILITIES, INIT_PATH } from './runc-config';
export { containerSeccomp, parseSeccompProfile, SECCOMP_PROFILE_PATH } from './seccomp-profile';
export type { OciSeccomp, OciSeccompArg, OciSeccompRule } from './seccomp-profile';
export type { OciSpec, RuncConfigOptions } from './runc-config';
