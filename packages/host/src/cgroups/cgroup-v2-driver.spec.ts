import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupV2Driver } from './cgroup-v2-driver';
import { sharesToWeight } from './cgroup-driver';
import type { DeviceFilter } from './cgroup-driver';

/** RecordingDeviceFilter records the groups restrict was asked for, and what each held then; fail makes it refuse. */
class RecordingDeviceFilter implements DeviceFilter {
  readonly restricted: { dir: string; pidsMax: string | undefined }[] = [];
  fail: Error | undefined;
  async restrict(dir: string): Promise<void> {
    if (this.fail) throw this.fail;
    this.restricted.push({ dir, pidsMax: await readFile(join(dir, 'pids.max'), 'utf8').catch(() => undefined) });
  }
}

// A temp dir laid out like a unified cgroupfs: the files a kernel would show, as plain files.
async function fakeCgroupfs(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'arbor-cgroup2-'));
  await writeFile(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
  await writeFile(join(root, 'cgroup.subtree_control'), 'memory\n');
  return root;
}

/** kernelFiles adds what the kernel would create in a new cgroup dir. */
async function kernelFiles(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files: Record<string, string> = {
    'cgroup.controllers': 'cpuset cpu memory pids\n',
    'cgroup.subtree_control': '\n',
    'cgroup.procs': '',
    'memory.max': 'max\n',
    'memory.swap.max': 'max\n',
    'memory.current': '1048576\n',
    'memory.swap.current': '0\n',
    'memory.stat': 'anon 524288\nfile 262144\ninactive_file 131072\n',
    'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n',
    'cpu.weight': '100\n',
    'cpu.stat': 'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\n',
    'pids.max': 'max\n',
    'pids.current': '2\n',
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
}

describe('CgroupV2Driver (a directory laid out like cgroupfs)', () => {
  let root: string;
  let driver: CgroupV2Driver;
  let devices: RecordingDeviceFilter;

  beforeEach(async () => {
    root = await fakeCgroupfs();
    devices = new RecordingDeviceFilter();
    driver = new CgroupV2Driver(root, 'arbor', devices);
    await kernelFiles(join(root, 'arbor', 'web-1'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('puts a container in one cgroup under arbor/ and delegates the controllers it needs', async () => {
    await driver.create('web-1', {});
    expect(driver.dirs('web-1')).toEqual([join(root, 'arbor', 'web-1')]);
    expect(await readFile(join(root, 'cgroup.subtree_control'), 'utf8')).toBe('+cpu +cpuset +pids');
  });

  it('attaches the device allowlist to the container group before the limits, and fails create when the kernel refuses it', async () => {
    await driver.create('web-1', { pid: { max: 10 } });
    // pids.max still the kernel's: the rules came first
    expect(devices.restricted).toEqual([{ dir: join(root, 'arbor', 'web-1'), pidsMax: 'max\n' }]);
    devices.fail = new Error('arbor-devices failed (exit 1): load the device program');
    await expect(driver.create('web-1', {})).rejects.toThrow(/arbor-devices failed/);
  });

  it('writes memory (no swap beyond it), pids and cpu weight', async () => {
    await driver.create('web-1', { memory: { limitInBytes: 64 << 20 }, pid: { max: 10 }, cpu: { weight: 1024 } });
    const dir = join(root, 'arbor', 'web-1');
    expect(await readFile(join(dir, 'memory.max'), 'utf8')).toBe(String(64 << 20));
    expect(await readFile(join(dir, 'memory.swap.max'), 'utf8')).toBe('0');
    expect(await readFile(join(dir, 'pids.max'), 'utf8')).toBe('10');
    expect(await readFile(join(dir, 'cpu.weight'), 'utf8')).toBe(String(sharesToWeight(1024)));
  });

  it('writes max for 0 (unlimited) and leaves fields that are absent alone', async () => {
    const dir = join(root, 'arbor', 'web-1');
    await driver.apply('web-1', { pid: { max: 10 } });
    await driver.apply('web-1', { memory: { limitInBytes: 0 } });
    expect(await readFile(join(dir, 'memory.max'), 'utf8')).toBe('max');
    expect(await readFile(join(dir, 'pids.max'), 'utf8')).toBe('10');
    await driver.apply('web-1', { pid: { max: 0 } });
    expect(await readFile(join(dir, 'pids.max'), 'utf8')).toBe('max');
  });

  it('reads usage, cpu time in ns, pids and OOM kills', async () => {
    await writeFile(join(root, 'arbor', 'web-1', 'pids.max'), '10\n');
    const stats = await driver.stats('web-1');
    expect(stats.memory).toEqual({
      usageInBytes: 1048576,
      limitInBytes: 0,
      rss: 524288,
      cache: 262144,
      swap: 0,
      totalUsageTowardLimit: 1048576 - 131072,
    });
    expect(stats.cpu).toEqual({ usage: 2_000_000, user: 1_500_000, system: 500_000 });
    expect(stats.pid).toEqual({ current: 2, max: 10 });
    expect(stats.oomKills).toBe(1);
  });

  it('lists the pids in cgroup.procs', async () => {
    await writeFile(join(root, 'arbor', 'web-1', 'cgroup.procs'), '12\n34\n');
    expect(await driver.pids('web-1')).toEqual([12, 34]);
  });

  it('lists the containers it has cgroups for, and destroy removes one (twice is fine)', async () => {
    await kernelFiles(join(root, 'arbor', 'web-2'));
    expect((await driver.handles()).sort()).toEqual(['web-1', 'web-2']);
    // rmdir of a real cgroup works with its files; here the files must go first
    for (const f of [
      'cgroup.controllers',
      'cgroup.subtree_control',
      'cgroup.procs',
      'memory.max',
      'memory.swap.max',
      'memory.current',
      'memory.swap.current',
      'memory.stat',
      'memory.events',
      'cpu.weight',
      'cpu.stat',
      'pids.max',
      'pids.current',
    ]) {
      await rm(join(root, 'arbor', 'web-2', f));
    }
    await driver.destroy('web-2');
    await driver.destroy('web-2');
    expect(await driver.handles()).toEqual(['web-1']);
  });

  it('maps cpu shares onto weights from 1 to 10000', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(1)).toBe(1);
  });
});
