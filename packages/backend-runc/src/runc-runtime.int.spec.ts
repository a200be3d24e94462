// The runc backend's own promises (root and runc only): the container's processes run with
// the default capabilities, no_new_privs and the seccomp filter; block devices cannot be opened; live
// limits reach the cgroup through runc update; destroy leaves no runc state, cgroup, mount
// or process behind.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, silentLogger } from '@arbor/core';
import { cgroupParentFor } from '@arbor/host';
import type { HostContainerizer } from '@arbor/host';
import type { Container, Gardener, ProcessSpec } from '@arbor/core';
import { runcContainerizer } from './runc-backend-module';
import { Collector, describeRunc, runToEnd, runcBackendFor } from './testing/runc-test-env';

/** runScript runs a shell script to its end. */
function runScript(container: Container, script: string, extra: Partial<ProcessSpec> = {}) {
  return runToEnd(container, { path: 'sh', args: ['-c', script], ...extra });
}

describeRunc('runc backend', () => {
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
    const c = await backend.create({});
    // runc always allows mknod ('m') of any node, as Docker does: the node is made, but
    // the device rules refuse to open it
    const disk = await runScript(c, 'mknod /tmp/sda b 8 0; head -c 1 /tmp/sda 2>&1; echo $?');
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
    const runcList = () => spawnSync('runc', ['--root', join(stateDir, 'runc'), 'list', '--quiet'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
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

/**
 * The process-start path below the Gardener: the containerizer is called directly, as if the
 * Gardener's checks were gone, so that arbor-exec's own strictness in runc mode is what is
 * tested (hostile input issue, items 1, 3 and 9).
 */
describeRunc('runc backend: hostile process specs that reach the containerizer', () => {
  jest.setTimeout(60_000);
  let stateDir: string;
  let containerizer: HostContainerizer;
  let backend: Gardener;
  let ids = 0;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-runc-'));
    containerizer = runcContainerizer({ stateDir, defaultRootfs: '', stopTimeoutMs: 1000 }, silentLogger);
    backend = await runcBackendFor(stateDir, {}, containerizer);
    await backend.start();
  });
  afterAll(async () => {
    for (const c of await backend.containers()) await backend.destroy(c.handle);
    await backend.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  /** direct runs spec through the containerizer itself and waits for its end. */
  async function direct(c: Container, spec: ProcessSpec): Promise<{ code: number; stdout: string; stderr: string }> {
    const stdout = new Collector();
    const stderr = new Collector();
    const p = await containerizer.run(c.handle, { id: `direct-${++ids}`, ...spec }, { stdout, stderr });
    return { code: await p.wait(), stdout: stdout.text(), stderr: stderr.text() };
  }

  it('never takes a NUL in a value for a helper option: nothing runs privileged, no host file is written', async () => {
    const victim = join(stateDir, 'victim');
    const c = await backend.create({});
    // each script records the capabilities it ran with; the arguments after it are only $0...
    const record = (n: number, extra: Partial<ProcessSpec>): ProcessSpec => ({
      path: 'sh',
      args: ['-c', `grep CapEff /proc/self/status > /tmp/cap-${n}`, 'sh', 'a', 'b', 'c'],
      ...extra,
    });
    const hostile: Partial<ProcessSpec>[] = [
      { env: ['X=1\u0000--privileged'] },
      { env: [`X=1\u0000--restore\u0000${victim}\u0000pwned`] },
      { user: 'root\u0000--privileged' },
      { dir: '/tmp\u0000--privileged' },
    ];
    const refusals = [];
    for (const [i, extra] of hostile.entries()) refusals.push(await direct(c, record(i, extra)).catch((err: Error) => err));
    const plain = await direct(c, record(9, { env: ['X=--privileged', 'Y=--restore'] }));
    expect(plain.code).toBe(0);
    const { stdout } = await runScript(c, 'cd /tmp && grep -H CapEff cap-*');
    expect(stdout).toBe('cap-9:CapEff:\t00000000a80425fb\n');
    expect(existsSync(victim)).toBe(false);
    for (const refused of refusals) expect(refused).toBeInstanceOf(InvalidArgumentError);
  });

  it('keeps env values out of every host command line and off the disk while the process runs', async () => {
    const secret = `s3cret-${randomBytes(8).toString('hex')}`;
    const c = await backend.create({ env: [`FROM_CONTAINER=${secret}-c`] });
    const stdout = new Collector();
    const p = await containerizer.run(
      c.handle,
      { id: 'secret', path: 'sh', args: ['-c', 'echo "$SECRET $FROM_CONTAINER"; exec sleep 30'], env: [`SECRET=${secret}-p`] },
      { stdout },
    );
    for (let tries = 0; !stdout.text().includes('\n') && tries < 250; tries++) await new Promise((r) => setTimeout(r, 20));
    expect(stdout.text()).toBe(`${secret}-p ${secret}-c\n`);
    const pids = (await readdir('/proc')).filter((pid) => /^\d+$/.test(pid));
    const cmdlines = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')));
    expect(cmdlines.filter((line) => line.includes(secret))).toEqual([]);
    const dir = join(containerizer.dir(c.handle), 'processes', 'secret');
    const holding = [];
    for (const name of await readdir(dir)) {
      if ((await stat(join(dir, name))).isFile() && (await readFile(join(dir, name), 'utf8')).includes(secret)) holding.push(name);
    }
    expect(holding).toEqual([]);
    await p.signal('SIGKILL');
    await p.wait();
  });

  it('refuses uids and gids outside 0..4294967294, from the spec or /etc/passwd, and runs nothing as root', async () => {
    const c = await backend.create({});
    await runScript(c, 'echo "minus1:x:4294967295:4294967295::/tmp:/bin/sh" >> /etc/passwd; echo "wraps:x:4294967296:1000::/tmp:/bin/sh" >> /etc/passwd');
    const users = ['4294967295', '4294967295:0', '4294967296:0', '1000:4294967295', '1000:4294967296', 'minus1', 'wraps'];
    const refusals = [];
    for (const [i, user] of users.entries()) refusals.push(await direct(c, { path: 'sh', args: ['-c', `id > /tmp/who-${i}`], user }).catch((err: Error) => err));
    expect((await runScript(c, 'cat /tmp/who-* 2>/dev/null; true')).stdout).toBe('');
    for (const refused of refusals) expect(String(refused)).toMatch(/user/);
  });
});
