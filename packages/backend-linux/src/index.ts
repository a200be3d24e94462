// @arbor/backend-linux: containers made from namespaces, cgroups and pivot_root by the C helpers of native/.
export { linuxBackendModule, makeHostBackendModule, makeLinuxBackendModule } from './linux-backend-module';
export { cgroupParentFor, createHostBackend, createLinuxBackend, hostCgroupDriver, hostHelpers, makeNamespaceContainerizer } from './create-linux-backend';
export type { LinuxBackendOptions } from './create-linux-backend';
export type { LinuxBackendConfig } from './linux-backend-config';
export { NamespaceContainerizer, OOM_EVENT } from './namespace-containerizer';
export type { NamespaceContainerizerOptions } from './namespace-containerizer';
export { MASKED_PATHS, READONLY_PATHS } from './masked-paths';
export { CgroupV1Driver } from './cgroup-v1-driver';
export { CgroupV2Driver } from './cgroup-v2-driver';
export { BpfDeviceFilter, DEVICE_ALLOW } from './cgroup-driver';
export type { CgroupDriver, CgroupLimits, CgroupStats, DeviceFilter } from './cgroup-driver';
export { LoopbackOnlyNetworker } from './loopback-only-networker';
export { HelperError, HelperRunner } from '@arbor/host';
