// @arbor/backend-linux: containers made from namespaces, cgroups and pivot_root by the C helpers of native/.
export { linuxBackendModules, namespaceContainerizer, namespaceContainerizerModule } from './linux-backend-module';
export type { HostContainerizerConfig, LinuxBackendConfig } from './linux-backend-config';
export { NamespaceRuntime } from './namespace-runtime';
export { LoopbackOnlyNetworker, loopbackOnlyNetworkerModule } from '@arbor/host';
