// @arbor/depot: container records on disk, crash-safe; shared by the linux and runc backends.
export { FileDepot } from './file-depot';
export { replaceAtomically, syncPath, writeFileAtomically } from './write-file-atomically';
export type { WriteFileAtomicallyOptions } from './write-file-atomically';
export { isPlainName, storageName } from './storage-name';
export { fileDepotModule } from './file-depot-module';
export type { FileDepotConfig } from './file-depot-module';
