import { cgroupDirsOf } from './init-cgroup-dirs';

const MOUNTINFO = [
  '25 30 0:23 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw,mode=755',
  '32 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '33 25 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '34 25 0:31 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '35 25 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  // a bind of a group deeper in a hierarchy is no root of it
  '36 30 0:30 /arbor /var/lib/memory\\040copy rw - cgroup cgroup rw,memory',
  '',
].join('\n');

describe('cgroupDirsOf: the host dirs of the cgroups a runc init is in', () => {
  it('maps each hierarchy, name=systemd and the v2 one too, to the dir under its mount', () => {
    const proc = ['5:memory:/arbor-runc/web', '4:cpu,cpuacct:/arbor-runc/web', '1:name=systemd:/arbor-runc/web', '0::/arbor-runc/web', ''].join('\n');
    expect(cgroupDirsOf(proc, MOUNTINFO)).toEqual([
      '/sys/fs/cgroup/memory/arbor-runc/web',
      '/sys/fs/cgroup/cpu,cpuacct/arbor-runc/web',
      '/sys/fs/cgroup/systemd/arbor-runc/web',
      '/sys/fs/cgroup/unified/arbor-runc/web',
    ]);
  });

  it('leaves out a hierarchy the host has not mounted and keeps a root group as the mount itself', () => {
    expect(cgroupDirsOf('7:blkio:/arbor-runc/web\n5:memory:/\n', MOUNTINFO)).toEqual(['/sys/fs/cgroup/memory']);
  });

  it('reads octal escapes in a mount point', () => {
    const info = '40 25 0:33 / /srv/cg\\040pids rw - cgroup cgroup rw,pids\n';
    expect(cgroupDirsOf('3:pids:/a\n', info)).toEqual(['/srv/cg pids/a']);
  });
});
