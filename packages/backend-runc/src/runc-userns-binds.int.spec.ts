// Host bind mounts, idmapped or not, into the runc backend's user-namespace containers (root
// and runc): the suite both host backends share. runc 1.1 cannot idmap a mount itself, so
// arbor-mount binds an idmapped copy under the bundle, which must go once runc runs.
import { describeIdmappedBinds } from '@arbor/host/testing';
import { runcBackendFor } from './testing/runc-test-env';

describeIdmappedBinds('runc backend', { root: true, runc: true }, (stateDir, userns) => runcBackendFor(stateDir, { userns }), {
  idmapCopiesDir: 'idmap-binds',
});
