import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describeIf, itIf, missingNeeds, unifiedCgroupRoot } from './describe-if';
import { useTempDir } from './temp-dir';

describe('missingNeeds', () => {
  it('names each need the host lacks, and nothing for needs left out', () => {
    expect(missingNeeds({})).toEqual([]);
    expect(missingNeeds({ commands: ['sh', 'arbor-no-such-command'] })).toEqual(['arbor-no-such-command']);
    expect(missingNeeds({ root: true })).toEqual(process.getuid?.() === 0 ? [] : ['root']);
  });

  it('tells a pure v2, a hybrid and a pure v1 cgroup host apart', () => {
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    const hybrid = !v2 && existsSync('/sys/fs/cgroup/unified/cgroup.controllers');
    expect(unifiedCgroupRoot()).toBe(v2 ? '/sys/fs/cgroup' : hybrid ? '/sys/fs/cgroup/unified' : undefined);
    expect(missingNeeds({ cgroupV2: true, cgroupUnified: true, cgroupHybrid: true })).toEqual([
      ...(v2 ? [] : ['cgroup v2']),
      ...(v2 || hybrid ? [] : ['a cgroup v2 hierarchy']),
      ...(hybrid ? [] : ['a hybrid cgroup host']),
    ]);
  });

  describe('docker', () => {
    const dir = useTempDir('arbor-testkit-docker-');
    const before = process.env.DOCKER_HOST;
    afterEach(() => {
      if (before === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = before;
    });

    it('dials the socket DOCKER_HOST names: an engine that accepts counts', async () => {
      const socket = join(dir(), 'docker.sock');
      const server = createServer((conn) => conn.end());
      await new Promise<void>((resolve) => server.listen(socket, resolve));
      try {
        process.env.DOCKER_HOST = `unix://${socket}`;
        expect(missingNeeds({ docker: true })).toEqual([]);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('does not count a missing socket, nor a socket file no engine listens on', async () => {
      process.env.DOCKER_HOST = `unix://${join(dir(), 'missing.sock')}`;
      expect(missingNeeds({ docker: true })).toEqual([`a Docker engine on ${join(dir(), 'missing.sock')}`]);
      const stale = join(dir(), 'stale.sock');
      await writeFile(stale, '');
      process.env.DOCKER_HOST = `unix://${stale}`;
      expect(missingNeeds({ docker: true })).toEqual([`a Docker engine on ${stale}`]);
    });
  });
});

const ran: string[] = [];

describeIf({ commands: ['arbor-no-such-command'] })('a block the host cannot run', () => {
  it('is skipped', () => {
    ran.push('skipped block');
  });
});

describeIf({ commands: ['sh'] })('a block the host can run', () => {
  it('runs', () => {
    ran.push('block');
  });
  itIf({ commands: ['arbor-no-such-command'] })('skips one test', () => {
    ran.push('skipped test');
  });
  itIf({ commands: ['arbor-no-such-command'] }).each([1, 2])('skips rows too (%i)', () => {
    ran.push('skipped row');
  });
});

describe('describeIf', () => {
  it('ran only the blocks and tests whose needs the host has', () => {
    expect(ran).toEqual(['block']);
  });

  it('says why in the title of what it skipped', () => {
    const titles: string[] = [];
    const record = (name: string) => titles.push(name);
    const saved = { describeSkip: describe.skip, itSkip: it.skip };
    // the gate takes describe.skip / it.skip when describeIf is called, so swap them in first
    (describe as { skip: unknown }).skip = record;
    (it as { skip: unknown }).skip = Object.assign(record, { each: () => record });
    try {
      describeIf({ commands: ['arbor-no-such-command'] })('overlay volumizer', () => undefined);
      itIf({ cgroupV2: true, commands: ['arbor-no-such-command'] }).each([1])('row %i', () => undefined);
    } finally {
      (describe as { skip: unknown }).skip = saved.describeSkip;
      (it as { skip: unknown }).skip = saved.itSkip;
    }
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '' : 'cgroup v2, ';
    expect(titles).toEqual(['overlay volumizer (skipped: needs arbor-no-such-command)', `row %i (skipped: needs ${v2}arbor-no-such-command)`]);
  });
});
