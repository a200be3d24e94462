import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupV1Driver } from './cgroup-v1-driver';
import { DEVICE_ALLOW } from './cgroup-driver';
import type { DeviceFilter } from './cgroup-driver';

/** RecordingDeviceFilter records the groups restrict was asked for. */
class RecordingDeviceFilter implements DeviceFilter {
  readonly restricted: string[] = [];
  async restrict(dir: string): Promise<void> {
    this.restricted.push(dir);
  }
}

const CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'devices', 'freezer'];

// A temp dir laid out like this host's v1 cgroupfs (one mount per controller). Plain files
// stand in for the kernel's: a write replaces the content, so append-like files
// (devices.allow) show the last rule written.
async function fakeCgroupfs(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'arbor-cgroup1-'));
  for (const c of CONTROLLERS) await mkdir(join(root, c));
  await writeFile(join(root, 'cpuset', 'cpuset.cpus'), '0-1\n');
  await writeFile(join(root, 'cpuset', 'cpuset.mems'), '0\n');
  return root;
}

async function kernelFiles(root: string, handle: string): Promise<void> {
  const files: Record<string, Record<string, string>> = {
    cpu: { 'cpu.shares': '1024\n' },
    cpuacct: { 'cpuacct.usage': '5000000\n', 'cpuacct.stat': 'user 3\nsystem 1\n' },
    cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
    memory: {
      'memory.limit_in_bytes': '9223372036854771712\n',
      'memory.memsw.limit_in_bytes': '9223372036854771712\n',
      'memory.usage_in_bytes': '2097152\n',
      'memory.stat': 'total_rss 1048576\ntotal_cache 524288\ntotal_swap 0\ntotal_inactive_file 262144\n',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
      'cgroup.procs': '101\n102\n',
    },
    pids: { 'pids.max': 'max\n', 'pids.current': '3\n' },
    devices: { 'devices.deny': '', 'devices.allow': '' },
    freezer: {},
  };
  for (const [c, entries] of Object.entries(files)) {
    for (const dir of [join(root, c, 'arbor'), join(root, c, 'arbor', handle)]) {
      await mkdir(dir, { recursive: true });
      if (c === 'cpuset') for (const [n, t] of Object.entries(entries)) await writeFile(join(dir, n), t);
    }
    for (const [name, text] of Object.entries(entries)) await writeFile(join(root, c, 'arbor', handle, name), text);
  }
}

describe('CgroupV1Driver (a directory laid out like v1 cgroupfs)', () => {
  let root: string;
  let driver: CgroupV1Driver;
  let devices: RecordingDeviceFilter;

  beforeEach(async () => {
    root = await fakeCgroupfs();
    devices = new RecordingDeviceFilter();
    driver = new CgroupV1Driver(root, 'arbor', devices);
    await kernelFiles(root, 'web-1');
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('gives a container one cgroup per controller, cpuset inherited, devices denied but the standard ones', async () => {
    await driver.create('web-1', {});
    expect(driver.dirs('web-1')).toEqual(CONTROLLERS.map((c) => join(root, c, 'arbor', 'web-1')));
    expect(await readFile(join(root, 'cpuset', 'arbor', 'web-1', 'cpuset.cpus'), 'utf8')).toBe('0-1');
    expect(await readFile(join(root, 'devices', 'arbor', 'web-1', 'devices.deny'), 'utf8')).toBe('a');
    expect(await readFile(join(root, 'devices', 'arbor', 'web-1', 'devices.allow'), 'utf8')).toBe(DEVICE_ALLOW[DEVICE_ALLOW.length - 1]);
  });

  it('on a pure v1 host, joins no unified group and attaches no device program', async () => {
    await driver.create('web-1', {});
    expect(devices.restricted).toEqual([]);
  });

  it('on a hybrid host, also puts the container in a unified group with the device program, and removes it with the container', async () => {
    // systemd's hybrid layout: a cgroup2 mount at <root>/unified beside the controllers
    await mkdir(join(root, 'unified'));
    await writeFile(join(root, 'unified', 'cgroup.controllers'), '');
    const hybrid = new CgroupV1Driver(root, 'arbor', devices);
    const unified = join(root, 'unified', 'arbor', 'web-1');
    expect(hybrid.dirs('web-1')).toEqual([...CONTROLLERS.map((c) => join(root, c, 'arbor', 'web-1')), unified]);
    await hybrid.create('web-1', {});
    expect(devices.restricted).toEqual([unified]);
    // rmdir of a real cgroup works with its files; here the v1 groups' files must go first
    for (const c of CONTROLLERS) await rm(join(root, c, 'arbor'), { recursive: true });
    await hybrid.destroy('web-1');
    expect(existsSync(unified)).toBe(false);
    await hybrid.release();
    expect(existsSync(join(root, 'unified', 'arbor'))).toBe(false);
  });

  it('sets the parent up once so that the kernel copies cpuset and devices into each container', async () => {
    // the kernel's devices.list of a parent already holding exactly the standard rules
    await writeFile(join(root, 'devices', 'arbor', 'devices.list'), `${DEVICE_ALLOW.join('\n')}\n`);
    await driver.create('web-1', {});
    expect(await readFile(join(root, 'cpuset', 'arbor', 'cgroup.clone_children'), 'utf8')).toBe('1');
    expect(await readFile(join(root, 'devices', 'arbor', 'web-1', 'devices.deny'), 'utf8')).toBe('');
    await writeFile(join(root, 'devices', 'arbor', 'devices.deny'), 'untouched');
    await kernelFiles(root, 'web-2');
    await driver.create('web-2', {});
    expect(await readFile(join(root, 'devices', 'arbor', 'devices.deny'), 'utf8')).toBe('untouched');
    expect(await readFile(join(root, 'devices', 'arbor', 'web-2', 'devices.deny'), 'utf8')).toBe('');
  });

  it('makes the parent again when it was removed after the first create', async () => {
    await driver.create('web-1', {});
    await rm(join(root, 'memory', 'arbor'), { recursive: true });
    await driver.create('web-3', {});
    expect(driver.dirs('web-3').every((d) => d.endsWith('/web-3'))).toBe(true);
    expect(await readFile(join(root, 'devices', 'arbor', 'web-3', 'devices.deny'), 'utf8')).toBe('a');
  });

  it('writes memory (and memsw: no swap beyond it), pids.max and cpu.shares', async () => {
    await driver.apply('web-1', { memory: { limitInBytes: 32 << 20 }, pid: { max: 7 }, cpu: { weight: 512 } });
    const read = (c: string, f: string) => readFile(join(root, c, 'arbor', 'web-1', f), 'utf8');
    expect(await read('memory', 'memory.limit_in_bytes')).toBe(String(32 << 20));
    expect(await read('memory', 'memory.memsw.limit_in_bytes')).toBe(String(32 << 20));
    expect(await read('pids', 'pids.max')).toBe('7');
    expect(await read('cpu', 'cpu.shares')).toBe('512');
    await driver.apply('web-1', { memory: { limitInBytes: 0 }, pid: { max: 0 }, cpu: { weight: 0 } });
    expect(await read('memory', 'memory.limit_in_bytes')).toBe('-1');
    expect(await read('pids', 'pids.max')).toBe('max');
    expect(await read('cpu', 'cpu.shares')).toBe('1024');
  });

  it('reads memory, cpu (USER_HZ ticks as ns), pids and OOM kills, with a v1 "unlimited" as 0', async () => {
    const stats = await driver.stats('web-1');
    expect(stats.memory).toEqual({
      usageInBytes: 2097152,
      limitInBytes: 0,
      rss: 1048576,
      cache: 524288,
      swap: 0,
      totalUsageTowardLimit: 2097152 - 262144,
    });
    expect(stats.cpu).toEqual({ usage: 5_000_000, user: 30_000_000, system: 10_000_000 });
    expect(stats.pid).toEqual({ current: 3, max: 0 });
    expect(stats.oomKills).toBe(2);
    expect(await driver.pids('web-1')).toEqual([101, 102]);
  });

  it('lists containers by their memory cgroup', async () => {
    await kernelFiles(root, 'web-2');
    expect((await driver.handles()).sort()).toEqual(['web-1', 'web-2']);
  });
});
