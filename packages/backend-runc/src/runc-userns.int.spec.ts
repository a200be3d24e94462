// User namespaces of the runc backend, checked from the host (root and runc): the suite both
// host backends share.
import { join } from 'node:path';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { describeUserNamespaces } from '@arbor/host/testing';
import { runcBackendFor } from './testing/runc-test-env';

describeUserNamespaces('runc backend', { root: true, runc: true }, (stateDir, userns) => runcBackendFor(stateDir, { userns }), {
  imageFile: join(DEFAULT_ROOTFS, 'bin', 'busybox'),
});
