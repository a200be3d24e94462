// @arbor/images: root filesystems for containers. For now an overlay over a directory.
export { DEFAULT_ROOTFS, OverlayVolumizer } from './overlay-volumizer';
export type { OverlayVolumizerOptions } from './overlay-volumizer';
// Disk quotas for container writes (btrfs qgroups) and the null object for hosts without them.
export { BtrfsQuotaVolumes } from './btrfs-quota-volumes';
export type { BtrfsQuotaVolumesOptions } from './btrfs-quota-volumes';
export { UnenforcedQuotaVolumes } from './unenforced-quota-volumes';
export type { QuotaVolumes } from './quota-volumes';
export { OverlayMounter, findMountHelper } from './overlay-mounter';

// Image sources, the content-addressed layer store and pulling images into it.
export { parseImageUri, DEFAULT_REGISTRY_HOST } from './image-uri';
export type { ImageUri } from './image-uri';
export { LayerStore, IMAGE_OWNER_PREFIX, DEFAULT_MAX_UNPACKED_BYTES } from './layer-store';
export type { GcResult, LayerDescriptor, LayerProgress, LayerStoreOptions, LayerStoreStats, Reference } from './layer-store';
export { ImagePuller } from './image-puller';
export type { ImagePullerOptions, PullOptions, PulledImage } from './image-puller';
export type { ImageDefaults } from './image-config';
export { DigestMismatchError } from './digest-mismatch-error';
export { CommandSpecialFiles } from './special-files';
export type { SpecialFiles } from './special-files';
export { LayerExtractor } from './layer-extractor';
export type { Platform } from './manifest';

// For integration tests only (here and in the backends): a local registry and a test image.
export * as imagesTesting from './testing/index';
export { diskQuotasEnforceable, overlayVolumizerModule } from './overlay-volumizer-module';
export type { OverlayVolumizerConfig } from './overlay-volumizer-module';
