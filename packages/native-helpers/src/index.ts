// @arbor/native-helpers: starting native/ helpers and talking to the processes they
// supervise; shared by the linux and runc backends.
export { DEFAULT_HELPERS_DIR, HELPER_EXIT, HelperError, HelperRunner } from './run-helper';
export type { HelperName, HelperRunnerOptions } from './run-helper';
export { SpawnServer } from './spawn-server';
export type { SpawnResult } from './spawn-server';
export { ProcessChannel } from './process-channel';
export { guardTar } from './tar-guard';
export { InitContainerizer, OOM_EVENT, killQuietly, startTime } from './init-containerizer';
export type { CgroupReader, InitContainerState, InitContainerizerOptions } from './init-containerizer';
