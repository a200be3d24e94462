import { mkdir, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describeIf, useTempDir } from '@arbor/testkit';
import { writeContainerNetworkFiles } from './container-network-files';

describeIf({ root: true })('writeContainerNetworkFiles (root: chown)', () => {
  const dir = useTempDir('arbt-files-');

  it("makes the files the container root's, writable by it only", async () => {
    const rootfs = path.join(dir(), 'rootfs');
    await mkdir(rootfs);
    const hostResolvConf = path.join(dir(), 'host-resolv.conf');
    await writeFile(hostResolvConf, 'nameserver 192.0.2.53\n');
    await writeContainerNetworkFiles(rootfs, { hostname: 'h', containerIp: '10.254.0.2', hostResolvConf, owner: { uid: 4321, gid: 4322 } });
    for (const name of ['hosts', 'resolv.conf']) {
      const s = await stat(path.join(rootfs, 'etc', name));
      expect([s.uid, s.gid, s.mode & 0o777]).toEqual([4321, 4322, 0o644]);
    }
  });
});
