// Filesystem and namespace posture of a default container, on a real arbord on each host
// backend (posture issue: filesystem and namespace points): read-only bind mounts hold for
// their submounts too, /proc and /sys hide and freeze what runc hides and freezes, the
// container has its own cgroup namespace, and a device node the container makes is useless.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Container } from '@arbor/core';
import { runToEnd, sh } from '../helpers/run-process';
import { describeIf, expectAlive, HOST_BACKENDS } from '@arbor/testkit';
import { startRealArbord, type RealArbord } from './real-arbord';

const run = promisify(execFile);

describeIf({ root: true })('filesystem and namespace posture on a real arbord', () => {
  jest.setTimeout(120_000);
  // data is like /var/tmp/arbor-posture-XXXX/data, a host dir with a nosuid,nodev,noexec tmpfs
  // mounted at data/sub
  let work: string;
  let data: string;

  beforeAll(async () => {
    work = await mkdtemp(join('/var/tmp', 'arbor-posture-'));
    data = join(work, 'data');
    await mkdir(join(data, 'sub'), { recursive: true });
    await writeFile(join(data, 'marker'), 'host\n');
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m,nosuid,nodev,noexec', 'arbor-posture', join(data, 'sub')]);
    await writeFile(join(data, 'sub', 'marker'), 'sub\n');
  });

  afterAll(async () => {
    if (work === undefined) return;
    await run('umount', ['-l', join(data, 'sub')]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });

  describe.each(HOST_BACKENDS)('on %s', (backend) => {
    let arbord: RealArbord;
    let container: Container;

    beforeAll(async () => {
      arbord = await startRealArbord(backend);
      container = await arbord.client.create({});
    });

    afterAll(async () => {
      await arbord?.stop();
    });

    it('makes a read-only bind mount read-only down to its submounts, keeping their nosuid/nodev/noexec, and keeps a rw one writable', async () => {
      // what `arbor create --bind <dir>:/data` asks for (ro is the CLI's default); it failed on linux
      const ro = await arbord.client.create({ bindMounts: [{ srcPath: data, dstPath: '/data', mode: 'ro', origin: 'host' }] });
      const result = await runToEnd(
        ro,
        sh('cat /data/marker /data/sub/marker; echo x > /data/new && echo wrote-dir; echo x > /data/sub/new && echo wrote-sub; echo done'),
      );
      expect(result.stdout).toBe('host\nsub\ndone\n');
      expect(result.stderr).toMatch(/Read-only file system/);
      const flags = await runToEnd(ro, sh('grep " /data/sub " /proc/self/mountinfo | cut -d" " -f6'));
      expect(flags.stdout.trim().split(',').slice(0, 4)).toEqual(['ro', 'nosuid', 'nodev', 'noexec']);
      // idmap: in the container's user namespace (the default) host root's files are root's only through an idmapped bind
      const rw = await arbord.client.create({ bindMounts: [{ srcPath: data, dstPath: '/data', mode: 'rw', origin: 'host', idmap: true }] });
      const written = await runToEnd(rw, sh('echo x > /data/new && echo x > /data/sub/new && echo wrote'));
      expect(written.stdout).toBe('wrote\n');
      expect((await readdir(data)).sort()).toEqual(['marker', 'new', 'sub']);
      expect((await readdir(join(data, 'sub'))).sort()).toEqual(['marker', 'new']);
      await rm(join(data, 'new'));
      await rm(join(data, 'sub', 'new'));
      await Promise.all([arbord.client.destroy(ro.handle), arbord.client.destroy(rw.handle)]);
      await expectAlive(arbord);
    });

    it('hides /sys/firmware and the host details of /proc, and freezes /proc/sys and the like', async () => {
      const masked = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/sys/firmware', '/sys/devices/virtual/powercap'];
      const script = [
        // a masked file reads empty, a masked dir lists empty
        ...masked.map(
          (p) =>
            `if [ -d ${p} ]; then echo "${p} $(ls -A ${p} | wc -l)"; elif [ -e ${p} ]; then echo "${p} $(head -c 64 ${p} | wc -c)"; else echo "${p} 0"; fi`,
        ),
        'touch /sys/firmware/x 2>/dev/null && echo wrote-firmware',
        'echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo wrote-sys',
        'echo h > /proc/sysrq-trigger 2>/dev/null && echo wrote-sysrq',
        'grep -E " /proc/(sys|bus|fs|irq|sysrq-trigger) " /proc/self/mountinfo | grep -cv " ro,nosuid,nodev,noexec"',
      ].join('; ');
      const result = await runToEnd(container, sh(script));
      expect(result.stdout.trim().split('\n')).toEqual([...masked.map((p) => `${p} 0`), '0']);
      // /sys/firmware is not empty on the host: the container's is a mask, not the host's view
      expect((await readdir('/sys/firmware')).length).toBeGreaterThan(0);
    });

    it('gives the container its own cgroup namespace: every controller line of /proc/self/cgroup ends with ":/"', async () => {
      const result = await runToEnd(container, sh('cat /proc/self/cgroup'));
      const lines = result.stdout.trim().split('\n');
      expect(lines.length).toBeGreaterThan(0);
      // v1 (or hybrid): "4:memory:/"; v2: "0::/"
      for (const line of lines.filter((l) => /^\d+:[^:]*[a-z][^:]*:/.test(l) || l.startsWith('0::'))) expect(line).toMatch(/:\/$/);
      const mine = await readFile('/proc/self/cgroup', 'utf8');
      expect(mine).not.toBe(result.stdout);
    });

    it('makes a device node the container creates useless, and keeps the standard ones working', async () => {
      const script = [
        // c 1 3 is null: the devices rules allow it, so only nodev can stop it
        'mknod /dev/made-null c 1 3 && (echo x > /dev/made-null && echo opened-made-null)',
        'mknod /dev/made-disk b 8 0 && (head -c 1 /dev/made-disk >/dev/null && echo opened-made-disk)',
        'echo x > /dev/null && echo null-ok',
        'head -c 4 /dev/zero | wc -c',
        'head -c 4 /dev/urandom | wc -c',
        'head -c 4 /dev/full | wc -c',
        'echo x > /dev/shm/x && cat /dev/shm/x',
        'test -c /dev/pts/ptmx && test -e /dev/ptmx && echo ptmx-ok',
      ].join('; ');
      const result = await runToEnd(container, sh(script));
      expect(result.stdout).toBe('null-ok\n4\n4\n4\nx\nptmx-ok\n');
      const tty = await runToEnd(container, sh('echo hi > /dev/tty && tty', { tty: {} }));
      expect(tty.exitCode).toBe(0);
      expect(tty.stdout).toMatch(/hi\r?\n\/dev\/pts\/\d+/);
      await expectAlive(arbord);
    });
  });
});
