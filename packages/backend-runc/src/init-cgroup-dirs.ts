import { readFile } from 'node:fs/promises';

/**
 * initCgroupDirs are the host dirs of every cgroup process pid (a runc container's init) is
 * in, like ['/sys/fs/cgroup/cpu/arbor-runc/<id>', '/sys/fs/cgroup/systemd/arbor-runc/<id>', ...]:
 * runc puts the init into each mounted hierarchy, name=systemd and blkio too, not only those
 * Arbor's cgroup driver limits, and a process arbor-exec starts in the container joins them all,
 * as `runc exec` would.
 * @throws Error when pid is gone or its cgroups cannot be read
 */
export async function initCgroupDirs(pid: number): Promise<string[]> {
  const [cgroups, mountinfo] = await Promise.all([readFile(`/proc/${pid}/cgroup`, 'utf8'), readFile('/proc/self/mountinfo', 'utf8')]);
  return cgroupDirsOf(cgroups, mountinfo);
}

/**
 * cgroupDirsOf maps each line of a /proc/<pid>/cgroup ('4:memory:/arbor-runc/web',
 * '0::/arbor-runc/web') to the dir under the hierarchy's mount in mountinfo (a mount of the
 * hierarchy's root, like /sys/fs/cgroup/memory); a hierarchy not mounted is left out.
 */
export function cgroupDirsOf(procCgroup: string, mountinfo: string): string[] {
  const mounts = cgroupMounts(mountinfo);
  const dirs: string[] = [];
  for (const line of procCgroup.split('\n')) {
    const match = /^(\d+):([^:]*):(\/.*)$/.exec(line);
    if (!match) continue;
    const [, id, controllers, path] = match as unknown as [string, string, string, string];
    const wanted = id === '0' && controllers === '' ? undefined : controllers.split(',');
    const mount = mounts.find((m) => (wanted === undefined ? m.v2 : !m.v2 && wanted.every((c) => m.options.includes(c))));
    if (mount) dirs.push(path === '/' ? mount.point : `${mount.point}${path}`);
  }
  return dirs;
}

interface CgroupMount {
  point: string;
  v2: boolean;
  /** options are the super options, like ['rw', 'cpu', 'cpuacct'] or ['rw', 'name=systemd']. */
  options: string[];
}

/** cgroupMounts are the mounts of whole cgroup hierarchies (root '/') in mountinfo. */
function cgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [fstype, , superOptions] = right.split(' ');
    if ((fstype !== 'cgroup' && fstype !== 'cgroup2') || fields[3] !== '/' || !fields[4]) continue;
    mounts.push({ point: unescapeMountPath(fields[4]), v2: fstype === 'cgroup2', options: (superOptions ?? '').split(',') });
  }
  return mounts;
}

/** unescapeMountPath turns mountinfo's octal escapes (like \040 for a space) back into characters. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
