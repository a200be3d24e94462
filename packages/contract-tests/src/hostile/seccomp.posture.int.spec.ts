// The seccomp allowlist and the cgroup namespace, on a real arbord on each host backend
// (posture issue): native/testing/syscall-probe makes raw calls in a default container and
// both backends must answer alike, since both take native/common/seccomp-profile.txt (Docker's
// default profile, resolved for the 14 default capabilities).
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { BindMount } from '@arbor/core';
import { runToEnd, sh } from '../helpers/run-process';
import { describeIf, expectAlive, HOST_BACKENDS } from '@arbor/testkit';
import { startRealArbord, type RealArbord } from './real-arbord';

const run = promisify(execFile);

/** SECCOMP_PROBES are syscall-probe's probes and the answers a default container gets. */
const SECCOMP_PROBES: Record<string, string> = {
  io_uring_setup: 'EPERM',
  'personality-addr-no-randomize': 'EPERM',
  'personality-linux32': 'OK',
  'personality-query': 'OK',
  keyctl: 'EPERM',
  add_key: 'EPERM',
  'unshare-newuser': 'EPERM',
  'clone-newuser': 'EPERM',
  'clone-fork': 'OK',
  clone3: 'ENOSYS',
  mount: 'EPERM',
  perf_event_open: 'EPERM',
  'socket-vsock': 'EPERM',
  'socket-inet': 'OK',
  'socket-unix': 'OK',
  'threads-and-fork': 'OK',
};

/** probeAnswers parses syscall-probe's "<probe>=<answer>" lines. */
function probeAnswers(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => line.split('=') as [string, string]),
  );
}

/** firstLinkTarget reads a tar stream and returns the link target of its first entry, a symlink. */
async function firstLinkTarget(tar: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(Buffer.from(chunk as Buffer));
  const header = Buffer.concat(chunks).subarray(0, 512);
  expect(String.fromCharCode(header[156] ?? 0)).toBe('2');
  return header.subarray(157, 257).toString('utf8').replace(/\0.*$/s, '');
}

describeIf({ root: true })('seccomp allowlist and cgroup namespace on a real arbord', () => {
  jest.setTimeout(120_000);
  let work: string;
  let probeMount: BindMount;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'arbor-seccomp-'));
    await chmod(work, 0o755); // vcap runs the probe too
    await run('gcc', ['-static', '-O2', '-o', join(work, 'syscall-probe'), resolve(__dirname, '../../../../native/testing/syscall-probe.c'), '-lpthread']);
    probeMount = { srcPath: work, dstPath: '/probe', mode: 'ro', origin: 'host' };
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe.each(HOST_BACKENDS)('on %s', (backend) => {
    let arbord: RealArbord;
    beforeAll(async () => {
      arbord = await startRealArbord(backend);
    });
    afterAll(async () => {
      await expectAlive(arbord);
      await arbord.stop();
    });

    it('refuses what Docker refuses a container without CAP_SYS_ADMIN with EPERM, clone3 with ENOSYS, as root and as vcap', async () => {
      const c = await arbord.client.create({ bindMounts: [probeMount] });
      for (const user of ['root', 'vcap']) {
        const { exitCode, stdout } = await runToEnd(c, { path: '/probe/syscall-probe', args: Object.keys(SECCOMP_PROBES), user });
        expect(exitCode).toBe(0);
        expect(probeAnswers(stdout)).toEqual(SECCOMP_PROBES);
      }
    });

    it('lets common programs work: sh, ls, ps, date, sleep, tar, httpd and wget on loopback, linux32, chroot', async () => {
      const c = await arbord.client.create({});
      const script = [
        'set -e',
        'ls / > /dev/null; date +%Y > /dev/null; sleep 0.1; ps | grep -c ps > /dev/null',
        'echo hi > /tmp/f; tar -cf /tmp/a.tar -C /tmp f; tar -tf /tmp/a.tar',
        'mkdir -p /tmp/www; echo page > /tmp/www/index.html; httpd -p 127.0.0.1:8080 -h /tmp/www',
        'wget -q -O - http://127.0.0.1:8080/index.html',
        'linux32 uname -m; chroot / true; echo done',
      ].join('\n');
      const { exitCode, stdout, stderr } = await runToEnd(c, sh(script));
      expect({ exitCode, stdout, stderr }).toEqual({ exitCode: 0, stdout: 'f\npage\ni686\ndone\n', stderr: '' });
    });

    it('leaves a privileged container unfiltered', async () => {
      const c = await arbord.client.create({ privileged: true, bindMounts: [probeMount] });
      const { stdout } = await runToEnd(c, {
        path: '/probe/syscall-probe',
        args: ['io_uring_setup', 'personality-addr-no-randomize', 'keyctl', 'unshare-newuser', 'clone3', 'mount'],
      });
      expect(probeAnswers(stdout)).toEqual({
        io_uring_setup: 'OK',
        'personality-addr-no-randomize': 'OK',
        keyctl: 'OK',
        'unshare-newuser': 'OK',
        clone3: 'OK',
        mount: 'ENOENT',
      });
    });

    it('gives every process and StreamOut\'s tar the container\'s own cgroup namespace, showing its cgroups as "/"', async () => {
      const c = await arbord.client.create({});
      const { stdout } = await runToEnd(c, sh('readlink /proc/self/ns/cgroup; grep -cv ":/$" /proc/self/cgroup'));
      const [mine, notRoot] = stdout.trim().split('\n');
      expect(mine).toMatch(/^cgroup:\[\d+\]$/);
      expect(mine).not.toBe(`cgroup:[${(await stat('/proc/self/ns/cgroup')).ino}]`);
      expect(notRoot).toBe('0');
      expect((await runToEnd(c, sh('readlink /proc/self/ns/cgroup'))).stdout.trim()).toBe(mine);
      // the tar archives its own /proc/self/ns/cgroup: a symlink naming the tar's namespace
      expect(await firstLinkTarget(await c.streamOut({ path: '/proc/self/ns/cgroup' }))).toBe(mine);
    });
  });
});
