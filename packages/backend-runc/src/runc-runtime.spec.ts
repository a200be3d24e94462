import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CgroupDriver, CgroupLimits, HelperRunner } from '@arbor/host';
import { RuncCli } from './runc-cli';
import { cgroupDirsOf } from './init-cgroup-dirs';
import { RuncRuntime } from './runc-runtime';

/** cgroupDirsOfSelf are the cgroup dirs of this test's own process. */
function cgroupDirsOfSelf(): string[] {
  return cgroupDirsOf(readFileSync('/proc/self/cgroup', 'utf8'), readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** pidsCgroups is a CgroupDriver whose one dir holds pids.max as a plain file, recording the pid limits applied. */
function pidsCgroups(dir: string, applied: number[]): CgroupDriver {
  return {
    version: 2,
    dirs: () => [dir],
    apply: async (_handle: string, limits: CgroupLimits) => {
      const max = limits.pid?.max ?? 0;
      applied.push(max);
      await writeFile(join(dir, 'pids.max'), max === 0 ? 'max\n' : `${max}\n`);
    },
    create: async () => undefined,
    stats: async () => {
      throw new Error('not used');
    },
    pids: async () => [],
    destroy: async () => undefined,
    handles: async () => [],
    release: async () => undefined,
  };
}

describe('RuncRuntime: processes start through arbor-exec alone, not runc exec', () => {
  let dir: string;
  let applied: number[];
  let updates: string[][];
  let runtime: RuncRuntime;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-runc-pids-'));
    applied = [];
    updates = [];
    const runc = new RuncCli('runc', join(dir, 'runc'));
    runc.update = async (id: string, flags: string[]) => {
      updates.push([id, ...flags]);
    };
    runtime = new RuncRuntime({
      stateDir: dir,
      cgroups: pidsCgroups(dir, applied),
      helpers: {} as HelperRunner,
      runc,
      cgroupParent: 'arbor-runc',
    });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('gives arbor-exec no runc options', () => {
    expect(runtime.execArgs('web')).toEqual([]);
  });

  it('starts in the cgroups the driver knows when no init can be read, and leaves a pid limit as it is', async () => {
    await writeFile(join(dir, 'pids.max'), '10\n');
    expect(await runtime.aroundExec('web', async (args) => args)).toEqual(['--cgroup', dir]);
    expect(applied).toEqual([]);
  });

  it("starts in every cgroup of the container's init, read from its pid file", async () => {
    // this test's own process stands in for the init: the driver's one dir is among its cgroups
    const own = cgroupDirsOfSelf();
    runtime = new RuncRuntime({
      stateDir: dir,
      cgroups: { ...pidsCgroups(dir, applied), dirs: () => own.slice(0, 1) },
      helpers: {} as HelperRunner,
      runc: new RuncCli('runc', join(dir, 'runc')),
      cgroupParent: 'arbor-runc',
    });
    await mkdir(join(dir, 'depot', 'web'), { recursive: true });
    await writeFile(join(dir, 'depot', 'web', 'init.pid'), `${process.pid}\n`);
    const args = await runtime.aroundExec('web', async (a) => a);
    expect(args).toEqual(own.flatMap((d) => ['--cgroup', d]));
  });

  it('lets starts of one container overlap, as nothing is lifted for them', async () => {
    await writeFile(join(dir, 'pids.max'), '10\n');
    let running = 0;
    let most = 0;
    const start = async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
    };
    await Promise.all([runtime.aroundExec('web', start), runtime.aroundExec('web', start)]);
    expect(most).toBe(2);
  });

  it('changes a pid limit through runc update at once', async () => {
    await runtime.update('web', { pid: { max: 5 } });
    expect(updates).toEqual([['web', '--pids-limit', '5']]);
  });
});
