// User namespaces of the linux backend, checked from the host (root): the suite both host
// backends share.
import { join } from 'node:path';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { describeUserNamespaces } from '@arbor/host/testing';
import { backendFor, prepareHost } from './testing/linux-test-env';

describeUserNamespaces('linux backend', { root: true }, (stateDir, userns) => backendFor(stateDir, { userns }), {
  imageFile: join(DEFAULT_ROOTFS, 'bin', 'busybox'),
  prepare: prepareHost,
});
