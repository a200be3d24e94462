// Host bind mounts, idmapped or not, into the linux backend's user-namespace containers (root):
// the suite both host backends share.
import { describeIdmappedBinds } from '@arbor/host/testing';
import { backendFor, prepareHost } from './testing/linux-test-env';

describeIdmappedBinds('linux backend', { root: true }, (stateDir, userns) => backendFor(stateDir, { userns }), { prepare: prepareHost });
