import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ProcessSpec } from '@arbor/core';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { DEFAULT_HELPERS_DIR, cgroupParentFor } from '@arbor/host';

export { backendFor } from './test-backend';
// the host backends' specs share these (Collector, runToEnd); imported here as the linux specs always have
export { Collector } from '@arbor/testkit';
export { runToEnd } from '@arbor/host/testing';

const REPO = resolve(__dirname, '..', '..', '..', '..');

/** prepareHost builds the helpers and the default rootfs when they are missing (both are idempotent). */
export function prepareHost(): void {
  if (!['arbor-create', 'arbor-exec', 'arbor-init', 'arbor-tar'].every((h) => existsSync(join(DEFAULT_HELPERS_DIR, h)))) {
    execFileSync('make', ['-s', '-C', join(REPO, 'native')], { stdio: 'inherit' });
  }
  if (!existsSync(join(DEFAULT_ROOTFS, 'bin', 'busybox'))) {
    execFileSync(join(REPO, 'scripts', 'build-rootfs.sh'), [], { stdio: 'inherit' });
  }
}

export async function makeStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'arbor-linux-'));
}

export async function removeStateDir(stateDir: string): Promise<void> {
  await rm(stateDir, { recursive: true, force: true });
}

export function sh(script: string, extra: Partial<ProcessSpec> = {}): ProcessSpec {
  return { path: 'sh', args: ['-c', script], ...extra };
}

/**
 * hostSnapshot is what a destroy must leave as it found: mounts under the state dir, the
 * cgroups of its containers (every controller), and the arbor helper processes of this state
 * dir: in its cgroups or naming it on their command line (other tests on this host run
 * helpers of their own).
 */
export async function hostSnapshot(stateDir: string): Promise<{ mounts: string[]; cgroups: string[]; processes: string[] }> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    // <stateDir>/overlays is arbord's own quota filesystem, mounted until arbord stops
    .filter((m) => m.startsWith(stateDir) && m !== join(stateDir, 'overlays'))
    .sort();
  const cgroups: string[] = [];
  const parent = cgroupParentFor('arbor', stateDir);
  for (const c of ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'devices', 'freezer']) {
    const entries = await readdir(join('/sys/fs/cgroup', c, parent), { withFileTypes: true }).catch(() => []);
    cgroups.push(...entries.filter((e) => e.isDirectory()).map((e) => `${c}/${e.name}`));
  }
  const processes: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    // zombies wait for the host's pid 1 to reap them; they hold no resources
    if (state === 'Z' || !['arbor-init', 'arbor-exec', 'arbor-create', 'arbor-tar'].includes(comm)) continue;
    const [groups, cmdline] = await Promise.all([
      readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => ''),
      readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
    ]);
    if (groups.includes(`/${parent}/`) || cmdline.includes(stateDir)) processes.push(`${pid} ${comm}`);
  }
  return { mounts, cgroups: cgroups.sort(), processes: processes.sort() };
}
