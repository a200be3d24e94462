import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ArborError } from '@arbor/core';
import { PoolRegistry, processStartTime } from './pool-registry';

/** other is a live process standing in for another arbord: a registry with its pid claims for it. */
function sleeper(): Promise<ChildProcess> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  return new Promise((resolve) => child.once('spawn', () => resolve(child)));
}

describe('PoolRegistry', () => {
  let dir: string;
  let other: ChildProcess;
  const ports = (start: number) => ({ start, size: 100 });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'arbor-pools-'));
    other = await sleeper();
  });
  afterEach(async () => {
    other.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('records the claim under the tag while held and removes it at release', async () => {
    const claim = await new PoolRegistry(dir).claim({ tag: 'x', networkPool: '10.252.0.0/22', ports: ports(40000) });
    const entry = JSON.parse(await readFile(path.join(dir, 'arbx.json'), 'utf8'));
    expect(entry).toMatchObject({ tag: 'x', networkPool: '10.252.0.0/22', pid: process.pid, startTime: processStartTime(process.pid) });
    await claim.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses a pool overlapping another arbord's, naming its tag, pool and pid, and leaves no record", async () => {
    await new PoolRegistry(dir, other.pid).claim({ tag: '', networkPool: '10.254.0.0/22', ports: ports(61001) });
    const refused = new PoolRegistry(dir).claim({ tag: 'x', networkPool: '10.254.2.0/24', ports: ports(40000) });
    await expect(refused).rejects.toThrow(ArborError);
    await expect(refused).rejects.toMatchObject({ kind: 'failedPrecondition' });
    await expect(refused).rejects.toThrow(`tag '' (pid ${other.pid}) with network pool 10.254.0.0/22`);
    expect(await readdir(dir)).toEqual(['arb.json']);
  });

  it("refuses a NetIn port pool overlapping another arbord's", async () => {
    await new PoolRegistry(dir, other.pid).claim({ tag: '', networkPool: '10.254.0.0/22', ports: ports(61001) });
    await expect(new PoolRegistry(dir).claim({ tag: 'x', networkPool: '10.252.0.0/22', ports: ports(61050) })).rejects.toThrow(/ports 61001-61100/);
  });

  it("refuses user-namespace ids overlapping another arbord's, naming them: two tenants would share host ids; apart, or off on either side, is fine", async () => {
    const ids = (base: number) => ({ base, size: 65536 * 4 });
    await new PoolRegistry(dir, other.pid).claim({ tag: '', networkPool: '10.254.0.0/22', ports: ports(61001), userIds: ids(1_000_000_000) });
    const refused = new PoolRegistry(dir).claim({ tag: 'x', networkPool: '10.252.0.0/22', ports: ports(40000), userIds: ids(1_000_065_536) });
    await expect(refused).rejects.toMatchObject({ kind: 'failedPrecondition' });
    await expect(refused).rejects.toThrow(
      /user ids 1000065536-1000327679 of tag 'x' overlap another arbord's: .* and user ids 1000000000-1000262143; .*--userns-base/,
    );
    const apart = await new PoolRegistry(dir).claim({ tag: 'x', networkPool: '10.252.0.0/22', ports: ports(40000), userIds: ids(2_000_000_000) });
    await apart.release();
    await new PoolRegistry(dir).claim({ tag: 'y', networkPool: '10.252.4.0/22', ports: ports(40100) });
  });

  it('refuses a tag another arbord holds, whatever its pools', async () => {
    await new PoolRegistry(dir, other.pid).claim({ tag: 'x', networkPool: '10.252.0.0/22', ports: ports(40000) });
    await expect(new PoolRegistry(dir).claim({ tag: 'x', networkPool: '10.253.0.0/22', ports: ports(50000) })).rejects.toThrow(
      `tag 'x' is taken by another arbord: tag 'x' (pid ${other.pid})`,
    );
    expect(JSON.parse(await readFile(path.join(dir, 'arbx.json'), 'utf8')).pid).toBe(other.pid);
  });

  it('accepts pools apart from every other arbord', async () => {
    await new PoolRegistry(dir, other.pid).claim({ tag: '', networkPool: '10.254.0.0/22', ports: ports(61001) });
    await new PoolRegistry(dir).claim({ tag: 'x', networkPool: '10.254.4.0/22', ports: ports(40000) });
    expect((await readdir(dir)).sort()).toEqual(['arb.json', 'arbx.json']);
  });

  it('ignores and replaces the entry of an arbord that is gone, or whose pid another process now has', async () => {
    await new PoolRegistry(dir, other.pid).claim({ tag: 'x', networkPool: '10.252.0.0/22', ports: ports(40000) });
    const exited = new Promise((r) => other.once('exit', r));
    other.kill('SIGKILL');
    await exited;
    const reused = { tag: '', networkPool: '10.252.0.0/22', ports: ports(40000), pid: process.ppid, startTime: '1' };
    await writeFile(path.join(dir, 'arb.json'), JSON.stringify(reused));
    await new PoolRegistry(dir).claim({ tag: 'x', networkPool: '10.252.0.0/22', ports: ports(40000) });
    expect(JSON.parse(await readFile(path.join(dir, 'arbx.json'), 'utf8')).pid).toBe(process.pid);
  });

  it('lets networkers of one process share pools but not a tag', async () => {
    const registry = new PoolRegistry(dir);
    await registry.claim({ tag: 'x', networkPool: '10.252.0.0/22', ports: ports(40000) });
    await registry.claim({ tag: 'y', networkPool: '10.252.0.0/22', ports: ports(40000) });
    await expect(registry.claim({ tag: 'x', networkPool: '10.253.0.0/22', ports: ports(50000) })).rejects.toThrow(/tag 'x' is taken/);
  });

  it('does not remove, at release, an entry that another arbord took over', async () => {
    const mine = await new PoolRegistry(dir).claim({ tag: 'x', networkPool: '10.252.0.0/22', ports: ports(40000) });
    const theirs = { tag: 'x', networkPool: '10.252.0.0/22', ports: ports(40000), pid: other.pid, startTime: processStartTime(other.pid ?? 0) };
    await writeFile(path.join(dir, 'arbx.json'), JSON.stringify(theirs));
    await mine.release();
    expect(await readdir(dir)).toEqual(['arbx.json']);
  });
});
