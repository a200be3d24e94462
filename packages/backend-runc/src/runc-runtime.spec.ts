import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CgroupDriver, CgroupLimits, HelperRunner } from '@arbor/host';
import { RuncCli } from './runc-cli';
import { RuncRuntime } from './runc-runtime';

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

  it('gives arbor-exec the cgroups runc made and no runc options', () => {
    expect(runtime.execArgs('web')).toEqual(['--cgroup', dir]);
  });

  it('starts with no extra arguments and leaves a pid limit as it is', async () => {
    await writeFile(join(dir, 'pids.max'), '10\n');
    expect(await runtime.aroundExec('web', async (args) => args)).toEqual([]);
    expect(applied).toEqual([]);
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
