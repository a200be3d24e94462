// Linux-specific behaviour of the linux backend, through the Gardener (root only).
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { ContainerStoppedError, ExecutableNotFoundError, ProcessNotFoundError } from '@arbor/core';
import type { Gardener } from '@arbor/core';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { OOM_EVENT } from './namespace-containerizer';
import { cgroupParentFor } from './create-linux-backend';
import {
  Collector,
  backendFor,
  describeRoot,
  hostSnapshot,
  makeStateDir,
  prepareHost,
  removeStateDir,
  runToEnd,
  sh,
} from './testing/linux-test-env';

jest.setTimeout(30_000);

describeRoot('linux backend', () => {
  let stateDir: string;
  let backend: Gardener;

  beforeAll(async () => {
    prepareHost();
    stateDir = await makeStateDir();
    backend = backendFor(stateDir);
    await backend.start();
  });
  afterAll(async () => {
    for (const c of await backend.containers()) await backend.destroy(c.handle);
    await backend.stop();
    await removeStateDir(stateDir);
  });

  describe('isolation', () => {
    it('runs pid 1 as the init, and host processes are invisible', async () => {
      const c = await backend.create({});
      const { code, stdout } = await runToEnd(c, sh('cat /proc/1/comm; ls /proc | grep "^[0-9]" | wc -l'));
      expect(code).toBe(0);
      const [comm, count] = stdout.trim().split('\n');
      expect(comm).toBe('arbor-init');
      // the init, sh, ls, grep and wc at most: nothing of the host's
      expect(Number(count)).toBeLessThanOrEqual(5);
    });

    it('cannot reach the host root', async () => {
      const marker = `/arbor-host-marker-${process.pid}`;
      await writeFile(marker, 'host\n');
      try {
        const c = await backend.create({});
        const { stdout } = await runToEnd(c, sh(`test -e ${marker} && echo visible; test -e /proc/1/root${marker} && echo via-proc; cat /proc/1/mountinfo | grep -c ' / / '`));
        expect(stdout).not.toContain('visible');
        expect(stdout).not.toContain('via-proc');
        expect(stdout.trim()).toBe('1');
      } finally {
        await rm(marker, { force: true });
      }
    });

    it('sets the hostname to the last 49 characters of the handle', async () => {
      const handle = `h-${'x'.repeat(20)}-${Date.now()}-${'y'.repeat(30)}`;
      const c = await backend.create({ handle });
      const { stdout } = await runToEnd(c, { path: 'hostname' });
      expect(stdout.trim()).toBe(handle.slice(-49));
    });

    it('gives two containers from one rootfs their own writes, and leaves the rootfs unchanged', async () => {
      const a = await backend.create({});
      const b = await backend.create({});
      expect((await runToEnd(a, sh('echo from-a > /etc/motd-test && rm /bin/cat; echo ok'))).stdout).toBe('ok\n');
      const seen = await runToEnd(b, sh('test -e /etc/motd-test && echo leaked; test -e /bin/cat && echo has-cat'));
      expect(seen.stdout).toBe('has-cat\n');
      await expect(readFile(join(DEFAULT_ROOTFS, 'etc', 'motd-test'))).rejects.toThrow(/ENOENT/);
    });

    it('allows /dev/null and the like, and refuses to make a disk device', async () => {
      const c = await backend.create({});
      const { stdout, stderr } = await runToEnd(
        c,
        sh('echo x > /dev/null && head -c 4 /dev/zero | wc -c; mknod /tmp/sda b 8 0 && echo made-disk; ls /dev/sda 2>/dev/null'),
      );
      expect(stdout.trim()).toBe('4');
      expect(stderr).toMatch(/mknod.*(Operation not permitted|Permission denied)/);
    });

    it('runs with the default capabilities only and no_new_privs', async () => {
      const c = await backend.create({});
      const { stdout } = await runToEnd(c, sh('grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status'));
      expect(stdout).toMatch(/NoNewPrivs:\s+1/);
      // CAP_SYS_ADMIN (bit 21) is not among them
      const eff = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(stdout)?.[1] ?? '0'}`);
      expect(eff & (1n << 21n)).toBe(0n);
      expect(eff).not.toBe(0n);
    });

    it('filters system calls: no mounts, no new user namespaces; a privileged container may', async () => {
      const c = await backend.create({});
      const { stdout, stderr } = await runToEnd(c, sh('mkdir -p /mnt; unshare -U true && echo userns; mount -t tmpfs t /mnt && echo mounted; echo alive'));
      expect(stdout).toBe('alive\n');
      expect(stderr).toMatch(/unshare.*Operation not permitted/);
      expect(stderr).toMatch(/mount.*(not permitted|permission denied)/i);
      const privileged = await backend.create({ privileged: true });
      expect((await runToEnd(privileged, sh('mkdir -p /mnt; mount -t tmpfs t /mnt && echo mounted'))).stdout).toBe('mounted\n');
    });
  });

  describe('processes', () => {
    it('reports exit codes, 128+N on signal N, and a missing executable as ExecutableNotFoundError', async () => {
      const c = await backend.create({});
      expect((await runToEnd(c, sh('exit 42'))).code).toBe(42);
      expect((await runToEnd(c, sh('kill -9 $$'))).code).toBe(137);
      await expect(c.run({ path: '/bin/no-such-program' }, {})).rejects.toBeInstanceOf(ExecutableNotFoundError);
      await expect(c.run({ path: 'no-such-program' }, {})).rejects.toBeInstanceOf(ExecutableNotFoundError);
    });

    it('runs as a user from the container /etc/passwd with env, PATH and a home made if missing', async () => {
      const c = await backend.create({ env: ['FROM_CONTAINER=1', 'SHARED=container'] });
      await runToEnd(c, sh('rm -rf /home/vcap'));
      const { stdout } = await runToEnd(
        c,
        sh('id -u; id -g; pwd; echo $USER $HOME $PATH $FROM_CONTAINER $SHARED', { user: 'vcap', env: ['SHARED=process'] }),
      );
      expect(stdout.split('\n')).toEqual(['1000', '1000', '/home/vcap', 'vcap /home/vcap /usr/local/bin:/usr/bin:/bin 1 process', '']);
      const root = await runToEnd(c, sh('echo $PATH; pwd'));
      expect(root.stdout).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/root\n');
      const numeric = await runToEnd(c, sh('id -u; id -g', { user: '1234:5678', dir: '/tmp' }));
      expect(numeric.stdout).toBe('1234\n5678\n');
    });

    it('feeds stdin and delivers stdout and stderr before the exit status', async () => {
      const c = await backend.create({});
      const stdin = new PassThrough();
      const stdout = new Collector();
      const stderr = new Collector();
      const p = await c.run(sh('cat; echo done >&2'), { stdin, stdout, stderr });
      stdin.end(Buffer.from([0, 1, 2, 255]));
      expect(await p.wait()).toBe(0);
      expect(Buffer.from(stdout.text(), 'latin1').length).toBeGreaterThan(0);
      expect(stderr.text()).toBe('done\n');
    });

    it('applies rlimits', async () => {
      const c = await backend.create({});
      const { stdout } = await runToEnd(c, sh('ulimit -n', { rlimits: { nofile: 100 } }));
      expect(stdout.trim()).toBe('100');
    });

    it('gives a TTY the asked window size and resizes it while running', async () => {
      const c = await backend.create({});
      const stdin = new PassThrough();
      const stdout = new Collector();
      const p = await c.run(sh('stty size; read line; stty size; tty', { tty: { windowSize: { columns: 100, rows: 30 } } }), { stdin, stdout });
      await waitFor(() => stdout.text().includes('30 100'));
      await p.setTty({ windowSize: { columns: 120, rows: 40 } });
      stdin.write('go\n');
      expect(await p.wait()).toBe(0);
      expect(stdout.text()).toMatch(/30 100\r\n[\s\S]*40 120\r\n\/dev\/pts\/\d+\r\n/);
    });

    it('lets several clients attach; each gets the output from then on and the exit status', async () => {
      const c = await backend.create({});
      const first = new Collector();
      const p = await c.run(sh('read x; echo got $x; exit 5', { id: 'shared' }), { stdout: first, stdin: new PassThrough() });
      const second = new Collector();
      const attached = await c.attach('shared', { stdout: second, stdin: PassThrough.from(['hello\n']) });
      expect(await attached.wait()).toBe(5);
      expect(await p.wait()).toBe(5);
      expect(first.text()).toBe('got hello\n');
      expect(second.text()).toBe('got hello\n');
      await expect(c.attach('no-such-process', {})).rejects.toBeInstanceOf(ProcessNotFoundError);
    });

    it('signals a process', async () => {
      const c = await backend.create({});
      const p = await c.run(sh('sleep 100'), {});
      await p.signal('SIGTERM');
      expect(await p.wait()).toBe(143);
      await expect(p.signal('SIGKILL')).rejects.toBeInstanceOf(ProcessNotFoundError);
    });
  });

  describe('limits', () => {
    it('kills a process beyond the memory limit and shows an "out of memory" event', async () => {
      const c = await backend.create({ limits: { memory: { limitInBytes: 32 * 1024 * 1024 } } });
      expect((await c.info()).events).toEqual([]);
      const { code } = await runToEnd(c, sh('dd if=/dev/zero of=/dev/null bs=64M count=1'));
      expect(code).toBe(137);
      expect((await c.info()).events).toContain(OOM_EVENT);
      expect((await c.metrics()).memory.limitInBytes).toBe(32 * 1024 * 1024);
    });

    it('makes fork fail beyond the pids limit', async () => {
      const c = await backend.create({ limits: { pid: { max: 5 } } });
      const { stderr } = await runToEnd(c, sh('for i in 1 2 3 4 5 6; do sleep 1 & done; wait'));
      expect(stderr).toMatch(/fork|Resource temporarily unavailable/i);
      expect((await c.metrics()).pid.max).toBe(5);
    });

    it('changes limits on a live container', async () => {
      const c = await backend.create({});
      await c.limitMemory({ limitInBytes: 64 * 1024 * 1024 });
      await c.limitPids({ max: 50 });
      await c.limitCpu({ weight: 512 });
      const metrics = await c.metrics();
      expect(metrics.memory.limitInBytes).toBe(64 * 1024 * 1024);
      expect(metrics.pid.max).toBe(50);
      expect(await c.currentCpuLimits()).toEqual({ weight: 512 });
    });
  });

  describe('stop', () => {
    it('kills a process that ignores TERM after the timeout, and the container is stopped', async () => {
      const c = await backend.create({});
      const p = await c.run(sh('trap "" TERM; echo ready; while true; do sleep 1; done'), { stdout: new Collector() });
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      await c.stop(false);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(await p.wait()).toBe(137);
      expect((await c.info()).state).toBe('stopped');
      await expect(c.run(sh('true'), {})).rejects.toBeInstanceOf(ContainerStoppedError);
    });
  });

  describe('destroy', () => {
    it('leaves mounts, cgroups and processes as they were', async () => {
      const before = await hostSnapshot(stateDir);
      const c = await backend.create({ limits: { memory: { limitInBytes: 64 << 20 } } });
      await c.run(sh('sleep 100 & sleep 100'), {});
      await runToEnd(c, sh('echo hi'));
      expect((await hostSnapshot(stateDir)).cgroups.length).toBeGreaterThan(before.cgroups.length);
      await backend.destroy(c.handle);
      await backend.destroy(c.handle).catch(() => undefined);
      expect(await hostSnapshot(stateDir)).toEqual(before);
    });
  });
});

describeRoot('linux backend: an idle arbord that stops', () => {
  it('leaves no cgroup parent, quota mount or loop device behind', async () => {
    prepareHost();
    const stateDir = await makeStateDir();
    const backend = backendFor(stateDir);
    await backend.start();
    const c = await backend.create({});
    await runToEnd(c, sh('true'));
    await backend.destroy(c.handle);
    await backend.stop();
    const parent = cgroupParentFor('arbor', stateDir);
    for (const controller of ['memory', 'pids', 'cpu', 'devices', 'cpuset']) {
      await expect(stat(join('/sys/fs/cgroup', controller, parent))).rejects.toThrow(/ENOENT/);
    }
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(stateDir);
    expect(execFileSync('losetup', ['-j', join(stateDir, 'volumes.btrfs')], { encoding: 'utf8' })).toBe('');
    await removeStateDir(stateDir);
  });
});

describeRoot('linux backend: a restart of arbord', () => {
  const pkg = resolve(__dirname, '..');
  let stateDir: string;

  beforeAll(async () => {
    prepareHost();
    execFileSync(resolve(pkg, '..', '..', 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: pkg });
    stateDir = await makeStateDir();
  });
  afterAll(async () => {
    const backend = backendFor(stateDir);
    await backend.start();
    for (const c of await backend.containers()) await backend.destroy(c.handle);
    await backend.stop();
    await removeStateDir(stateDir);
  });

  /** startAndKill runs a process from a separate arbord-like process, then kills that with SIGKILL. */
  async function startAndKill(script: string): Promise<string> {
    const child = spawn(process.execPath, [join(pkg, 'dist', 'testing', 'restart-child.js'), stateDir, script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((res, rej) => {
      createInterface({ input: child.stdout }).once('line', res);
      child.once('exit', (code) => rej(new Error(`restart-child exited ${code}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    return line.trim();
  }

  it('keeps a running process: after the restart, Attach gets its remaining output and exit status', async () => {
    const handle = await startAndKill('read x; echo after $x; exit 7');
    const backend = backendFor(stateDir);
    await backend.start();
    const c = await backend.lookup(handle);
    expect((await c.info()).processIds).toEqual(['survivor']);
    const stdout = new Collector();
    const p = await c.attach('survivor', { stdout, stdin: PassThrough.from(['restarted\n']) });
    expect(await p.wait()).toBe(7);
    expect(stdout.text()).toBe('after restarted\n');
    await backend.destroy(handle);
  });

  it('keeps the output of a process that ended while arbord was down', async () => {
    const handle = await startAndKill('sleep 0.5; echo late; echo late-err >&2; exit 3');
    await new Promise((r) => setTimeout(r, 1000));
    const backend = backendFor(stateDir);
    await backend.start();
    const c = await backend.lookup(handle);
    const stdout = new Collector();
    const stderr = new Collector();
    const p = await c.attach('survivor', { stdout, stderr });
    expect(await p.wait()).toBe(3);
    expect(stdout.text()).toBe('late\n');
    expect(stderr.text()).toBe('late-err\n');
    await backend.destroy(handle);
  });

  it('cleans up a container whose create did not finish', async () => {
    const backend = backendFor(stateDir);
    await backend.start();
    const c = await backend.create({ handle: 'half-made' });
    const recordPath = join(stateDir, 'depot', 'half-made', 'record.json');
    const record = JSON.parse(await readFile(recordPath, 'utf8')) as { phase: string };
    await writeFile(recordPath, JSON.stringify({ ...record, phase: 'creating' }));
    const restarted = backendFor(stateDir);
    await restarted.start();
    await expect(restarted.lookup(c.handle)).rejects.toThrow(/unknown handle/);
    await expect(stat(join('/sys/fs/cgroup/memory', cgroupParentFor('arbor', stateDir), 'half-made'))).rejects.toThrow(/ENOENT/);
    await expect(stat(join(stateDir, 'depot', 'half-made'))).rejects.toThrow(/ENOENT/);
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(join(stateDir, 'overlays', 'half-made'));
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
