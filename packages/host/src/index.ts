// @arbor/host: the host runtime both real backends share: native/ helpers, process channels,
// cgroups, tar guarding and the containerizer the init runtimes plug into.
export { DEFAULT_HELPER_TIMEOUT_MS, HELPER_EXIT, HelperError, HelperRunner, HelperTimeoutError } from './run-helper';
export { DEFAULT_HELPERS_DIR, helperEnvVariable, helperPath } from './helper-path';
export { Coprocess, CoprocessExitedError, lineCodec } from './coprocess';
export type { CoprocessChild, CoprocessCodec, CoprocessOptions, DecodedReply } from './coprocess';
export type { HelperName, HelperRunOptions, HelperRunnerOptions } from './run-helper';
export { SPAWN_SLOTS, SpawnServer } from './spawn-server';
export type { SpawnOutcome, SpawnResult, SpawnRunOptions } from './spawn-server';
export { ProcessChannel } from './process-channel';
export { TarEntryPolicy, guardTar } from './tar-guard';
export type { TarEntryDecision, TarEntryPolicyOptions } from './tar-guard';
export { InitContainerizer, OOM_EVENT, killQuietly, startTime } from './init-containerizer';
export { PROCESS_SPEC_FILE, PROCESS_SPEC_LIMITS, encodeProcessSpec, writeProcessSpec } from './process-spec-file';
export type { ProcessSpecData } from './process-spec-file';
export type { CgroupReader, InitContainerState, InitContainerizerOptions } from './init-containerizer';
