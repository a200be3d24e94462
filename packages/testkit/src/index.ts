// @arbor/testkit: what the test suites of several packages share. A dev dependency only; it
// depends on nothing of Arbor's (not even @arbor/core), so any package's tests can use it
// without a build cycle.
export { describeIf, itIf, missingNeeds, isRoot, hasRunc, hasDocker, hasCommand, dockerSocket, unifiedCgroupRoot, hasCgroupNamespaces } from './describe-if';
export type { HostNeeds } from './describe-if';
export { HOST_BACKENDS } from './host-backends';
export { ARBORD_MAIN, startArbordProcess, expectAlive } from './arbord-process';
export type { ArbordProcess, StartArbordOptions } from './arbord-process';
export { hostCmdlines, filesHolding } from './host-processes';
export { makeTempDir, removeDir, useTempDir } from './temp-dir';
export { eventually, sleep, waitFor } from './eventually';
export { Collector } from './collector';
export { RecordingLogger } from './recording-logger';
export { selfSignedCert } from './self-signed-cert';
export { tarOf } from './tar-of';
export type { TarEntry } from './tar-of';
