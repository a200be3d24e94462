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
export { HostContainerizer, OOM_EVENT, containerDir } from './host-containerizer';
export type { HostContainerizerOptions, InitContainerState, InitRuntime } from './host-containerizer';
export { IdRangeAllocator, checkSubordinateIds } from './id-range-allocator';
export type { IdRange, UsernsConfig } from './id-range-allocator';
export {
  DEFAULT_USERNS,
  SUBORDINATE_ID_FILES,
  idmapUnsupported,
  rootfsIdmappedFor,
  userNamespaceUnsupported,
  usernsIdRanges,
  usernsOf,
} from './userns-id-ranges';
export { initAlive, killQuietly, startTime, waitInitGone } from './init-process';
export type { InitProcess } from './init-process';
export { BpfDeviceFilter, DEVICE_ALLOW, waitCgroupEmpty } from './cgroups/cgroup-driver';
export type { CgroupDriver, CgroupLimits, CgroupStats, DeviceFilter } from './cgroups/cgroup-driver';
export { CgroupV1Driver, hybridUnified } from './cgroups/cgroup-v1-driver';
export { CgroupV2Driver } from './cgroups/cgroup-v2-driver';
export { cgroupParentFor, hostCgroupDriver } from './cgroups/host-cgroup-driver';
export { DEFAULT_BUSYBOX, hostHelpers, requireRoot } from './host-helpers';
export { MASKED_PATHS, READONLY_PATHS } from './masked-paths';
export { hostBackendCapabilities } from './host-backend-capabilities';
export { LoopbackOnlyNetworker, loopbackOnlyNetworkerModule } from './loopback-only-networker';
export type { HostHelpersConfig } from './host-helpers';
export { PROCESS_SPEC_FILE, PROCESS_SPEC_LIMITS, encodeProcessSpec, writeProcessSpec } from './process-spec-file';
export type { ProcessSpecData } from './process-spec-file';
