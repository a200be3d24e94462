// The runc backend's own promises (root and runc only): the container's processes run with
// the default capabilities, no_new_privs and the seccomp filter; block devices cannot be opened; live
// limits reach the cgroup through runc update; destroy leaves no runc state, cgroup, mount
// or process behind.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@arbor/core';
import { cgroupParentFor } from '@arbor/host';
import { describeHostContainerizerHostile } from '@arbor/host/testing';
import { describeIf } from '@arbor/testkit';
import type { Container, Gardener, ProcessSpec } from '@arbor/core';
import { runcContainerizer } from './runc-backend-module';
import { runToEnd, runcBackendFor } from './testing/runc-test-env';

/** runScript runs a shell script to its end. */
function runScript(container: Container, script: string, extra: Partial<ProcessSpec> = {}) {
  return runToEnd(container, { path: 'sh', args: ['-c', script], ...extra });
}

describeIf({ root: true, runc: true })('runc backend', () => {
  jest.setTimeout(30_000);
  let stateDir: string;
  let backend: Gardener;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-runc-'));
    backend = await runcBackendFor(stateDir, { stopTimeoutMs: 1000 });
    await backend.start();
  });
  afterAll(async () => {
    for (const c of await backend.containers()) await backend.destroy(c.handle);
    await backend.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('runs root with the 14 default capabilities, none inheritable, no_new_privs and seccomp', async () => {
    const c = await backend.create({});
    const status = await runScript(c, 'grep -E "^(CapInh|CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status');
    expect(status.stdout).toBe('CapInh:\t0000000000000000\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nNoNewPrivs:\t1\nSeccomp:\t2\n');
    const user = await runScript(c, 'grep -E "^(CapEff|CapBnd):" /proc/self/status', { user: 'vcap' });
    expect(user.stdout).toBe('CapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n');
    // the filter answers EPERM where a capability would not even be asked
    const unshare = await runScript(c, 'unshare -U true 2>&1; echo $?');
    expect(unshare.stdout).toMatch(/Operation not permitted\n1\n$/);
  });

  it('refuses to read a block device and lets the standard ones work', async () => {
    // in a user namespace (the default) mknod itself is refused
    const c = await backend.create({});
    expect((await runScript(c, 'mknod /tmp/sda b 8 0 2>&1; echo $?')).stdout).toMatch(/Operation not permitted\n1\n$/);
    // runc always allows mknod ('m') of any node, as Docker does: in a privileged container the
    // node is made, but the device rules refuse to open it
    const privileged = await backend.create({ privileged: true });
    const disk = await runScript(privileged, 'mknod /tmp/sda b 8 0; head -c 1 /tmp/sda 2>&1; echo $?');
    expect(disk.stdout).toMatch(/(Operation not permitted|Permission denied)\n1\n$/);
    expect((await runScript(c, 'echo hi > /dev/null && head -c 4 /dev/zero | wc -c')).stdout.trim()).toBe('4');
  });

  it('changes the memory and pid limits of a running container through runc update', async () => {
    const c = await backend.create({ limits: { memory: { limitInBytes: 64 << 20 }, pid: { max: 50 } } });
    await c.limitMemory({ limitInBytes: 96 << 20 });
    await c.limitPids({ max: 60 });
    const parent = cgroupParentFor('arbor-runc', stateDir);
    expect((await readFile(join('/sys/fs/cgroup/memory', parent, c.handle, 'memory.limit_in_bytes'), 'utf8')).trim()).toBe(String(96 << 20));
    expect((await readFile(join('/sys/fs/cgroup/pids', parent, c.handle, 'pids.max'), 'utf8')).trim()).toBe('60');
    // a process still starts under the new limit, and the limit is back after it did
    expect((await runScript(c, 'echo ok')).stdout).toBe('ok\n');
    expect((await readFile(join('/sys/fs/cgroup/pids', parent, c.handle, 'pids.max'), 'utf8')).trim()).toBe('60');
  });

  it('leaves no runc state, cgroup, mount or process behind after destroy', async () => {
    const c = await backend.create({});
    await c.run({ path: 'sleep', args: ['100'] }, {});
    const parent = cgroupParentFor('arbor-runc', stateDir);
    const runcList = () =>
      spawnSync('runc', ['--root', join(stateDir, 'runc'), 'list', '--quiet'], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .filter(Boolean);
    expect(runcList()).toContain(c.handle);
    await backend.destroy(c.handle);
    expect(runcList()).not.toContain(c.handle);
    for (const controller of ['memory', 'pids', 'cpu', 'devices']) {
      expect(await readdir(join('/sys/fs/cgroup', controller, parent)).catch(() => [])).not.toContain(c.handle);
    }
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    expect(mounts).not.toContain(join(stateDir, 'overlays', c.handle));
    const comms = await Promise.all((await readdir('/proc')).filter((p) => /^\d+$/.test(p)).map((p) => readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')));
    expect(comms.filter((cmd) => cmd.includes(c.handle))).toEqual([]);
    await expect(readdir(join(stateDir, 'depot', c.handle, 'processes'))).rejects.toThrow(/ENOENT/);
  });
});

// the hostile process specs that reach the containerizer, shared with the linux backend
describeHostContainerizerHostile(
  'runc backend',
  { root: true, runc: true },
  async (stateDir) => {
    const containerizer = runcContainerizer({ stateDir, defaultRootfs: '', stopTimeoutMs: 1000 }, silentLogger);
    return { containerizer, backend: await runcBackendFor(stateDir, {}, containerizer) };
  },
  { highestId: 2147483647 },
);
