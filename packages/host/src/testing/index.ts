// @arbor/host/testing: what the integration tests of the host backends (backend-linux,
// backend-runc) share. Loaded by tests only; it needs jest's globals and @arbor/testkit.
export { describeHostContainerizerHostile, runToEnd } from './describe-host-containerizer-hostile';
export type { ContainerizerUnderTest, HostileOptions, StartContainerizer } from './describe-host-containerizer-hostile';
export { describeIdmappedBinds } from './describe-idmapped-binds';
export type { IdmappedBindsOptions, MakeIdmappedBindsBackend } from './describe-idmapped-binds';
export { describeUserNamespaces } from './describe-user-namespaces';
export type { MakeUsernsBackend, UsernsSuiteOptions } from './describe-user-namespaces';
