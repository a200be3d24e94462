// Helpers for integration tests of packages that use images: a Docker engine client, a
// local registry, a counting proxy in front of it and the 4-layer test image.
export { localDocker } from './docker-client';
export { CountingProxy, LocalRegistry } from './local-registry';
export { buildTestImage, removeTestImages, TEST_IMAGE_PREFIX } from './test-image';
