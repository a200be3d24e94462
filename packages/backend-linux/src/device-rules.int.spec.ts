// The device allowlist on cgroup v2 (root only): the BPF_CGROUP_DEVICE program of
// native/arbor-devices on a group of the unified hierarchy, which is /sys/fs/cgroup on a pure
// v2 host and /sys/fs/cgroup/unified beside the v1 controllers on a hybrid one (this VM).
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Gardener } from '@arbor/core';
import { storageName } from '@arbor/depot';
import { BpfDeviceFilter, DEFAULT_HELPERS_DIR, DEVICE_ALLOW, cgroupParentFor } from '@arbor/host';
import { describeIf, unifiedCgroupRoot } from '@arbor/testkit';
import { backendFor, makeStateDir, prepareHost, removeStateDir, runToEnd, sh } from './testing/linux-test-env';

jest.setTimeout(60_000);

const run = promisify(execFile);

/** UNIFIED is the unified hierarchy of this host, like /sys/fs/cgroup or /sys/fs/cgroup/unified; '' when there is none. */
const UNIFIED = unifiedCgroupRoot() ?? '';

/**
 * blockDevice is the major:minor of a block device this process can open, so that only the
 * rules can refuse it: the disk under / (like 254:0), else loop0 (7:0) where a sandbox
 * around this host refuses the disk already.
 */
function blockDevice(): [number, number] {
  const dev = statSync('/').dev;
  const candidates: [number, number][] = [
    [Math.floor(dev / 256) & 0xfff, dev & 0xff],
    [7, 0],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'arbor-devcheck-'));
  try {
    for (const [major, minor] of candidates) {
      if (major === 0) continue;
      const node = join(dir, `${major}-${minor}`);
      execFileSync('mknod', [node, 'b', String(major), String(minor)]);
      try {
        closeSync(openSync(node, 'r'));
        return [major, minor];
      } catch {
        // refused or absent here: the next one
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error('no block device this test can open: neither the disk under / nor loop0');
}

/** nodes makes device nodes in a new temp dir on the root filesystem (not nodev), like { disk: ['b', 254, 0] }. */
async function nodes(spec: Record<string, [string, number, number]>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'arbor-devnodes-'));
  for (const [name, [type, major, minor]] of Object.entries(spec)) execFileSync('mknod', ['-m', '666', join(dir, name), type, String(major), String(minor)]);
  return dir;
}

// PROBE runs in a node child that first moves itself into the group in argv[1]; for each further
// argument it opens the path read-write (not blocking, no controlling tty) or, for
// 'mknod:<path>:<type>:<major>:<minor>', makes the node; it prints { <arg>: 'ok' | errno code }.
const PROBE = `
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const [group, ...args] = process.argv.slice(1);
fs.writeFileSync(group + '/cgroup.procs', String(process.pid));
const out = {};
for (const a of args) {
  if (a.startsWith('mknod:')) {
    const [, path, type, major, minor] = a.split(':');
    const r = spawnSync('mknod', [path, type, major, minor], { encoding: 'utf8' });
    out[a] = r.status === 0 ? 'ok' : /Operation not permitted/.test(r.stderr) ? 'EPERM' : r.stderr.trim();
    continue;
  }
  const c = fs.constants;
  try {
    fs.closeSync(fs.openSync(a, c.O_RDWR | c.O_NOCTTY | c.O_NONBLOCK));
    out[a] = 'ok';
  } catch (err) {
    out[a] = err.code;
  }
}
process.stdout.write(JSON.stringify(out));
`;

async function probe(group: string, args: string[]): Promise<Record<string, string>> {
  const { stdout } = await run(process.execPath, ['-e', PROBE, group, ...args]);
  return JSON.parse(stdout) as Record<string, string>;
}

describeIf({ root: true, cgroupUnified: true })('device rules on cgroup v2', () => {
  let DISK_MAJOR: number;
  let DISK_MINOR: number;

  beforeAll(() => {
    [DISK_MAJOR, DISK_MINOR] = blockDevice();
    prepareHost();
    if (!existsSync(join(DEFAULT_HELPERS_DIR, 'arbor-devices'))) execFileSync('make', ['-s', '-C', join(DEFAULT_HELPERS_DIR, '..')], { stdio: 'inherit' });
  });

  describe('a process in a group with the program attached', () => {
    const parent = join(UNIFIED, `arbor-devices-test-${process.pid}`);
    let dir: string;

    beforeAll(async () => {
      await mkdir(parent);
      dir = await nodes({
        disk: ['b', DISK_MAJOR, DISK_MINOR],
        mem: ['c', 1, 1],
        kmsg: ['c', 1, 11],
        // a pty that devpts does not know: the tty layer refuses it (ENXIO or EIO), not the rules
        pts: ['c', 136, 4321],
        null: ['c', 1, 3],
      });
    });
    afterAll(async () => {
      for (const group of ['open', 'restricted', '']) await rmdir(join(parent, group)).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    });

    it('without it (the control), opens the block device and /dev/kmsg: the probe sees what the rules change', async () => {
      const group = join(parent, 'open');
      await mkdir(group);
      const seen = await probe(group, [join(dir, 'disk'), join(dir, 'kmsg')]);
      expect(Object.values(seen)).toEqual(['ok', 'ok']);
    });

    it('cannot open a block device node, /dev/mem or /dev/kmsg, nor make a block device; the standard devices work', async () => {
      const group = join(parent, 'restricted');
      await mkdir(group);
      await new BpfDeviceFilter().restrict(group);
      const made = join(dir, 'made');
      const seen = await probe(group, [
        join(dir, 'disk'),
        join(dir, 'mem'),
        join(dir, 'kmsg'),
        `mknod:${made}-disk:b:${DISK_MAJOR}:${DISK_MINOR}`,
        `mknod:${made}-mem:c:1:1`,
        '/dev/null',
        '/dev/zero',
        '/dev/full',
        '/dev/random',
        '/dev/urandom',
        '/dev/ptmx',
        join(dir, 'null'),
        `mknod:${made}-null:c:1:3`,
        '/dev/tty',
        join(dir, 'pts'),
      ]);
      expect(seen).toEqual({
        [join(dir, 'disk')]: 'EPERM',
        [join(dir, 'mem')]: 'EPERM',
        [join(dir, 'kmsg')]: 'EPERM',
        [`mknod:${made}-disk:b:${DISK_MAJOR}:${DISK_MINOR}`]: 'EPERM',
        [`mknod:${made}-mem:c:1:1`]: 'EPERM',
        '/dev/null': 'ok',
        '/dev/zero': 'ok',
        '/dev/full': 'ok',
        '/dev/random': 'ok',
        '/dev/urandom': 'ok',
        '/dev/ptmx': 'ok',
        [join(dir, 'null')]: 'ok',
        [`mknod:${made}-null:c:1:3`]: 'ok',
        // allowed: the open reaches the tty layer, which has no terminal or no such pty for it
        '/dev/tty': expect.not.stringMatching(/^EPERM$/),
        [join(dir, 'pts')]: expect.not.stringMatching(/^EPERM$/),
      });
    });

    it('keeps the rules when attached again (a repeated create), and refuses a rule it cannot build', async () => {
      const group = join(parent, 'restricted');
      await new BpfDeviceFilter().restrict(group);
      expect(Object.values(await probe(group, [join(dir, 'disk'), '/dev/null']))).toEqual(['EPERM', 'ok']);
      const helper = join(DEFAULT_HELPERS_DIR, 'arbor-devices');
      await expect(run(helper, ['--cgroup', group, 'c 1:3 rwx'])).rejects.toMatchObject({ code: 64 });
      await expect(run(helper, ['--cgroup', group, 'b 99999:0 r'])).rejects.toMatchObject({ code: 64 });
      expect(DEVICE_ALLOW.some((r) => r.startsWith('b') || r.startsWith('a'))).toBe(false);
    });
  });

  describe('a container of the linux backend with the v2 driver', () => {
    let stateDir: string;
    let backend: Gardener;
    let dir: string;

    beforeAll(async () => {
      stateDir = await makeStateDir();
      // the v2 driver against the unified hierarchy: on a hybrid host no v1 devices group is made;
      // no user namespace, which would refuse the mknod and the host-owned nodes before the device
      // program is asked: this is what a container without one (userns off) has to stand on
      backend = await backendFor(stateDir, { cgroupRoot: UNIFIED, userns: { enabled: false } });
      await backend.start();
      dir = await nodes({ disk: ['b', DISK_MAJOR, DISK_MINOR], mem: ['c', 1, 1], kmsg: ['c', 1, 11], null: ['c', 1, 3] });
    });
    afterAll(async () => {
      for (const c of await backend.containers()) await backend.destroy(c.handle);
      await backend.stop();
      await removeStateDir(stateDir);
      await rm(dir, { recursive: true, force: true });
    });

    it('cannot open a node of the host disk from the host, nor mknod one, even with no v1 device rules', async () => {
      const c = await backend.create({ bindMounts: [{ srcPath: dir, dstPath: '/devs', mode: 'ro', origin: 'host' }] });
      const group = join(UNIFIED, cgroupParentFor('arbor', stateDir), storageName(c.handle));
      expect((await readFile(join(group, 'cgroup.procs'), 'utf8')).trim()).not.toBe('');
      const { stdout } = await runToEnd(
        c,
        sh(
          `for f in /devs/disk /devs/mem /devs/kmsg /devs/null /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/ptmx; do
             if msg=$( (: <> "$f") 2>&1 ); then echo "$f ok"; else echo "$f $msg"; fi
           done
           mknod /disk b ${DISK_MAJOR} ${DISK_MINOR} 2>&1 || true
           mknod /null2 c 1 3 && echo "mknod null done"`,
        ),
      );
      const lines = stdout.trim().split('\n');
      expect(lines.filter((l) => /^\/devs\/(disk|mem|kmsg) /.test(l))).toEqual([
        expect.stringMatching(/^\/devs\/disk .*Operation not permitted/),
        expect.stringMatching(/^\/devs\/mem .*Operation not permitted/),
        expect.stringMatching(/^\/devs\/kmsg .*Operation not permitted/),
      ]);
      expect(lines.filter((l) => l.endsWith(' ok'))).toEqual(
        ['/devs/null', '/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/ptmx'].map((f) => `${f} ok`),
      );
      expect(stdout).toMatch(/mknod: \/disk: Operation not permitted/);
      expect(stdout).toContain('mknod null done');
    });

    it('still gives a tty process its pty', async () => {
      const c = await backend.create({});
      const { code, stdout } = await runToEnd(c, { path: 'tty', tty: {} });
      expect(code).toBe(0);
      expect(stdout.trim()).toMatch(/^\/dev\/pts\/\d+$/);
    });
  });

  describeIf({ cgroupHybrid: true })('a container of the linux backend on a hybrid host (the v1 driver)', () => {
    let stateDir: string;
    let backend: Gardener;

    beforeAll(async () => {
      stateDir = await makeStateDir();
      backend = await backendFor(stateDir);
      await backend.start();
    });
    afterAll(async () => {
      for (const c of await backend.containers()) await backend.destroy(c.handle);
      await backend.stop();
      await removeStateDir(stateDir);
    });

    it('is in a group of the unified hierarchy too, which goes with it, so the v2 program applies to it', async () => {
      const c = await backend.create({});
      const group = join(UNIFIED, cgroupParentFor('arbor', stateDir), storageName(c.handle));
      // the init joined it (the container's own cgroup namespace shows it as /)
      expect((await readFile(join(group, 'cgroup.procs'), 'utf8')).trim()).not.toBe('');
      const { stdout } = await runToEnd(c, sh(`mknod /disk b ${DISK_MAJOR} ${DISK_MINOR} 2>&1 || true`));
      expect(stdout).toMatch(/mknod: \/disk: Operation not permitted/);
      await backend.destroy(c.handle);
      expect(existsSync(group)).toBe(false);
    });
  });
});
