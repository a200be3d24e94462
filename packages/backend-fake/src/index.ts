// @arbor/backend-fake: an in-memory, unprivileged model of a Garden backend.
export { FAKE_PROGRAM_RUNNER, fakeBackendModule } from './fake-backend-module';
export type { FakeBackendConfig } from './fake-backend-module';
export { FakeContainerizer } from './fake-containerizer';
export type { FakeContainerizerOptions } from './fake-containerizer';
export { FakeNetworker } from './fake-networker';
export type { FakeNetworkerOptions } from './fake-networker';
export { FakeVolumizer } from './fake-volumizer';
export type { FakeVolumizerOptions } from './fake-volumizer';
export { InMemoryDepot } from './in-memory-depot';
export { PROBE_PROGRAMS } from './process/probe-program';
export type { ProgramRunner } from './process/program-runner';
// What a ProgramRunner's programs (like @arbor/fake-shell's) see of a container: its process,
// filesystem, users and streams.
export { BUSYBOX_APPLETS } from './fs/default-rootfs';
export { FakeFilesystem, contentOf } from './fs/fake-filesystem';
export type { Credentials, FileInode, Inode, LookupOptions, ParentOf } from './fs/fake-filesystem';
export { FsError } from './fs/fs-error';
export { groupName, passwdEntries, userName } from './fs/users';
export { basename, findExecutable, loadProgram } from './process/exec';
export type { Loaded } from './process/exec';
export { Proc } from './process/proc';
export type { Fd, FdTable, Kernel, ProcInit, Program } from './process/proc';
export { signalFromText, signalNumber } from './process/signals';
export { CHUNK_BYTES, PipeClosedError, deviceSource, fileSource, nullSource } from './process/streams';
export type { ByteSink, ByteSource } from './process/streams';
export { TaskTerminated } from './process/task';
export type { Task } from './process/task';
