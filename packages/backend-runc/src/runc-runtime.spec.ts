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

describe('RuncRuntime.aroundExec: the pid limit while runc exec starts a process', () => {
  let dir: string;
  let applied: number[];
  let runtime: RuncRuntime;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-runc-pids-'));
    applied = [];
    runtime = new RuncRuntime({
      stateDir: dir,
      cgroups: pidsCgroups(dir, applied),
      helpers: {} as HelperRunner,
      runc: new RuncCli('runc', join(dir, 'runc')),
      cgroupParent: 'arbor-runc',
    });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('starts with no extra arguments and touches no limit where there is none', async () => {
    await writeFile(join(dir, 'pids.max'), 'max\n');
    expect(await runtime.aroundExec('web', async (args) => args)).toEqual([]);
    expect(applied).toEqual([]);
  });

  it('lifts a limit for the start, tells arbor-exec to restore it, and puts it back after', async () => {
    await writeFile(join(dir, 'pids.max'), '10\n');
    const args = await runtime.aroundExec('web', async (a) => a);
    expect(args).toEqual(['--restore', join(dir, 'pids.max'), '10']);
    expect(applied).toEqual([42, 10]);
  });

  it('puts the limit back when the start fails', async () => {
    await writeFile(join(dir, 'pids.max'), '10\n');
    await expect(runtime.aroundExec('web', async () => Promise.reject(new Error('exec failed')))).rejects.toThrow('exec failed');
    expect(applied).toEqual([42, 10]);
  });

  it('starts one process at a time under a limit, so no start restores a limit another one needs lifted', async () => {
    await writeFile(join(dir, 'pids.max'), '10\n');
    let running = 0;
    let most = 0;
    const start = async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
    };
    await Promise.all([runtime.aroundExec('web', start), runtime.aroundExec('web', start), runtime.aroundExec('web', start)]);
    expect(most).toBe(1);
    expect(applied).toEqual([42, 10, 42, 10, 42, 10]);
  });
});
