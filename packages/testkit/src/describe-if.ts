import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * HostNeeds are what a block of tests needs of the host, like { root: true, runc: true }.
 * A need left out (or false) is not checked.
 */
export interface HostNeeds {
  /** root: uid 0 (namespaces, cgroups, mounts, netlink). */
  root?: boolean;
  /** runc: a runc binary on PATH that answers --version. */
  runc?: boolean;
  /** docker: a Docker engine that answers on its socket, DOCKER_HOST's unix:// path or /var/run/docker.sock. */
  docker?: boolean;
  /** cgroupV2: the unified hierarchy at /sys/fs/cgroup (cgroup.controllers exists): a pure v2 host. */
  cgroupV2?: boolean;
  /** cgroupUnified: a unified (v2) hierarchy anywhere, pure v2 or hybrid (see unifiedCgroupRoot). */
  cgroupUnified?: boolean;
  /** cgroupHybrid: v1 controllers at /sys/fs/cgroup with the unified hierarchy beside them at /sys/fs/cgroup/unified. */
  cgroupHybrid?: boolean;
  /** cgroupNamespaces: `unshare --cgroup` works here (the kernel has cgroup namespaces; it also takes root). */
  cgroupNamespaces?: boolean;
  /** commands: programs that must be on PATH, like ['zsh', 'skopeo']. */
  commands?: readonly string[];
}

const onPath = new Map<string, boolean>();

/** hasCommand says whether name is on PATH (found by `command -v`); the answer is kept per process. */
export function hasCommand(name: string): boolean {
  let found = onPath.get(name);
  if (found === undefined) {
    found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' }).status === 0;
    onPath.set(name, found);
  }
  return found;
}

/** isRoot says whether this process runs as uid 0. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

let runcAnswers: boolean | undefined;

/** hasRunc says whether `runc --version` runs. */
export function hasRunc(): boolean {
  runcAnswers ??= spawnSync('runc', ['--version'], { stdio: 'ignore' }).status === 0;
  return runcAnswers;
}

/** dockerSocket is the Docker engine's socket path, like /var/run/docker.sock, from DOCKER_HOST when it names a unix socket. */
export function dockerSocket(): string {
  const host = process.env.DOCKER_HOST ?? '';
  return host.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
}

const dockerAnswers = new Map<string, boolean>();

/**
 * hasDocker says whether a Docker engine accepts a connection on dockerSocket(): a socket file
 * left behind by a dockerd that has stopped does not count. It is dialled once per process, from
 * a child node, because describe blocks are declared synchronously; the answer is kept per socket.
 */
export function hasDocker(): boolean {
  const dial = "require('node:net').connect(process.argv[1]).on('connect', () => process.exit(0)).on('error', () => process.exit(1))";
  const socket = dockerSocket();
  let answers = dockerAnswers.get(socket);
  if (answers === undefined) {
    answers = existsSync(socket) && spawnSync(process.execPath, ['-e', dial, socket], { stdio: 'ignore', timeout: 5000 }).status === 0;
    dockerAnswers.set(socket, answers);
  }
  return answers;
}

/**
 * unifiedCgroupRoot is this host's unified (v2) hierarchy: /sys/fs/cgroup on a pure v2 host,
 * /sys/fs/cgroup/unified beside the v1 controllers on a systemd 'hybrid' host; undefined on a pure v1 host.
 */
export function unifiedCgroupRoot(): string | undefined {
  return ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].find((dir) => existsSync(join(dir, 'cgroup.controllers')));
}

let cgroupNamespacesWork: boolean | undefined;

/** hasCgroupNamespaces says whether `unshare --cgroup true` runs: the kernel has cgroup namespaces and this process may make one. */
export function hasCgroupNamespaces(): boolean {
  cgroupNamespacesWork ??= existsSync('/proc/self/ns/cgroup') && spawnSync('unshare', ['--cgroup', 'true'], { stdio: 'ignore' }).status === 0;
  return cgroupNamespacesWork;
}

/** missingNeeds names what of needs this host lacks, like ['root', 'runc']; [] when it has them all. */
export function missingNeeds(needs: HostNeeds): string[] {
  const missing: string[] = [];
  if (needs.root && !isRoot()) missing.push('root');
  if (needs.runc && !hasRunc()) missing.push('runc');
  if (needs.docker && !hasDocker()) missing.push(`a Docker engine on ${dockerSocket()}`);
  if (needs.cgroupV2 && unifiedCgroupRoot() !== '/sys/fs/cgroup') missing.push('cgroup v2');
  if (needs.cgroupUnified && unifiedCgroupRoot() === undefined) missing.push('a cgroup v2 hierarchy');
  if (needs.cgroupHybrid && unifiedCgroupRoot() !== '/sys/fs/cgroup/unified') missing.push('a hybrid cgroup host');
  if (needs.cgroupNamespaces && !hasCgroupNamespaces()) missing.push('cgroup namespaces (unshare --cgroup)');
  for (const name of needs.commands ?? []) if (!hasCommand(name)) missing.push(name);
  return missing;
}

type Call = (...args: unknown[]) => void;

/** gate is run when the host has every need, else a stand-in for skip that adds why to each title (also through .each). */
function gate<F extends jest.Describe | jest.It>(run: F, skip: F, needs: HostNeeds): F {
  const missing = missingNeeds(needs);
  if (missing.length === 0) return run;
  const why = ` (skipped: needs ${missing.join(', ')})`;
  const skipped = (name: string, ...rest: unknown[]): void => (skip as unknown as Call)(name + why, ...rest);
  skipped.each =
    (...table: unknown[]) =>
    (name: string, ...rest: unknown[]): void =>
      ((skip.each as unknown as (...t: unknown[]) => Call)(...table) as Call)(name + why, ...rest);
  return skipped as unknown as F;
}

/**
 * describeIf is describe when the host has every need, and otherwise describe.skip with the
 * missing needs in the block's title, like 'overlay volumizer (skipped: needs root)', so a
 * skipped suite says why in jest's output. Use it for whole blocks of integration tests:
 *   describeIf({ root: true, runc: true })('runc containerizer', () => { ... });
 */
export function describeIf(needs: HostNeeds): jest.Describe {
  return gate(describe, describe.skip, needs);
}

/** itIf is it, or it.skip with the missing needs in the test's title: for one test in a block that needs more than its neighbours. */
export function itIf(needs: HostNeeds): jest.It {
  return gate(it, it.skip, needs);
}
