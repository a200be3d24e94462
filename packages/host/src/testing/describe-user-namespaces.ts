// User namespaces of a host backend (userns), checked from the host: each unprivileged
// container's root is a host id of a range of its own. Shared by the linux and runc backends.
import { lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import type { Container, Gardener, ProcessSpec } from '@arbor/core';
import { describeIf, tarOf } from '@arbor/testkit';
import type { HostNeeds } from '@arbor/testkit';
import type { UsernsConfig } from '../id-range-allocator';
import { runToEnd } from './describe-host-containerizer-hostile';
import { mountsUnderStateDir } from './mount-points';

/** UsernsSuiteOptions say what the suite needs of a backend besides making it. */
export interface UsernsSuiteOptions {
  /** imageFile is a file of the default rootfs on the host, like /var/lib/arbor/rootfs/busybox/bin/busybox: it stays host root's. */
  imageFile: string;
  /** prepare builds what the backend needs (helpers, rootfs) before it is made. */
  prepare?: () => void;
}

/** MakeUsernsBackend composes the backend over stateDir with this userns section, not yet started. */
export type MakeUsernsBackend = (stateDir: string, userns: UsernsConfig) => Promise<Gardener>;

// a pool of its own, far from the default's (1e9), the contract suite's and /etc/subuid's ranges
const USERNS: UsernsConfig = { enabled: true, base: 1_500_000_000, size: 4 * 65536, perContainer: 65536 };
const slot = (n: number) => USERNS.base + n * USERNS.perContainer;

const sh = (script: string, extra: Partial<ProcessSpec> = {}): ProcessSpec => ({ path: 'sh', args: ['-c', script], ...extra });

/** initOf is the container's init as the host sees it: its pid and /proc/<pid>/status Uid and Gid (real ids). */
async function initOf(c: Container): Promise<{ pid: number; uid: number; gid: number; uidMap: string }> {
  const state = JSON.parse(await readFile(join((await c.info()).containerPath, 'container.json'), 'utf8')) as { initPid: number };
  const status = await readFile(`/proc/${state.initPid}/status`, 'utf8');
  const id = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  const uidMap = (await readFile(`/proc/${state.initPid}/uid_map`, 'utf8')).trim().split(/\s+/).join(' ');
  return { pid: state.initPid, uid: id('Uid'), gid: id('Gid'), uidMap };
}

/** hostOwner is who owns path of the container on the host: stat through its init's /proc/<pid>/root. */
async function hostOwner(c: Container, path: string): Promise<{ uid: number; gid: number }> {
  const { uid, gid } = await lstat(`/proc/${(await initOf(c)).pid}/root${path}`);
  return { uid, gid };
}

async function ownersIn(tar: Readable): Promise<Record<string, number>> {
  const extract = tarExtract();
  const found: Record<string, number> = {};
  extract.on('entry', (header, stream, next) => {
    found[header.name] = header.uid ?? -1;
    stream.on('end', () => next());
    stream.resume();
  });
  tar.pipe(extract);
  await new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', reject);
  });
  return found;
}

/**
 * describeUserNamespaces declares, for the backend makeBackend composes, what userns promises
 * as the host sees it: container root a non-zero host id of a range of its own, ranges
 * disjoint and kept over a restart, files owned by the mapped ids, unmapped users refused,
 * privileged containers host root.
 */
export function describeUserNamespaces(name: string, needs: HostNeeds, makeBackend: MakeUsernsBackend, options: UsernsSuiteOptions): void {
  describeIf(needs)(`${name}: user namespaces (userns)`, () => {
    jest.setTimeout(60_000);
    let stateDir: string;
    let backend: Gardener;

    beforeAll(async () => {
      options.prepare?.();
      stateDir = await mkdtemp(join(tmpdir(), 'arbor-userns-'));
      backend = await makeBackend(stateDir, USERNS);
      await backend.start();
    });
    afterAll(async () => {
      for (const c of await backend.containers()) await backend.destroy(c.handle);
      await backend.stop();
      await rm(stateDir, { recursive: true, force: true });
    });

    it("runs an unprivileged container's init as a non-zero host uid, root of its own namespace; its destroy leaves no mount", async () => {
      const mountsBefore = await mountsUnderStateDir(stateDir);
      const c = await backend.create({});
      const init = await initOf(c);
      expect(init.uid).toBe(slot(0));
      expect(init.gid).toBe(slot(0));
      expect(init.uidMap).toBe(`0 ${slot(0)} 65536`);
      const { stdout, code } = await runToEnd(c, sh('id -u; id -g; cat /proc/self/uid_map'));
      expect(code).toBe(0);
      expect(stdout.trim().split(/\s+/)).toEqual(['0', '0', '0', String(slot(0)), '65536']);
      await backend.destroy(c.handle);
      expect(await mountsUnderStateDir(stateDir)).toEqual(mountsBefore);
    });

    it("gives two containers disjoint ranges, and a destroyed container's range to the next", async () => {
      const a = await backend.create({});
      const b = await backend.create({});
      const [ia, ib] = [await initOf(a), await initOf(b)];
      expect(new Set([ia.uid, ib.uid])).toEqual(new Set([slot(0), slot(1)]));
      await backend.destroy(a.handle);
      const c = await backend.create({});
      expect((await initOf(c)).uid).toBe(ia.uid);
      await Promise.all([backend.destroy(b.handle), backend.destroy(c.handle)]);
    });

    it("writes files as the mapped host ids: root as the range's first id, uid 1000 as first + 1000; the image's files are the container root's", async () => {
      const c = await backend.create({});
      const base = (await initOf(c)).uid;
      expect((await runToEnd(c, sh('echo root > /root-file && mkdir -p /srv && chmod 777 /srv'))).code).toBe(0);
      expect((await runToEnd(c, sh('echo vcap > /srv/vcap-file', { user: '1000:1000' }))).code).toBe(0);
      expect(await hostOwner(c, '/root-file')).toEqual({ uid: base, gid: base });
      expect(await hostOwner(c, '/srv/vcap-file')).toEqual({ uid: base + 1000, gid: base + 1000 });
      // the image's layers are not chowned: they show through an idmapped mount
      const { stdout } = await runToEnd(c, sh('stat -c %u:%g /bin/busybox /etc/passwd'));
      expect(stdout.trim().split('\n')).toEqual(['0:0', '0:0']);
      expect((await lstat(options.imageFile)).uid).toBe(0);
      await backend.destroy(c.handle);
    });

    it("keeps a non-root user from the container root's capabilities", async () => {
      const c = await backend.create({});
      const { stdout } = await runToEnd(c, sh('grep CapEff /proc/self/status; touch /etc/denied 2>&1; echo rc=$?', { user: '1000:1000' }));
      expect(stdout).toContain('CapEff:\t0000000000000000');
      expect(stdout).toContain('rc=1');
      await backend.destroy(c.handle);
    });

    it('refuses a user its namespace does not map, by uid or by a name in /etc/passwd, naming the range; a group it does not map is left out', async () => {
      const c = await backend.create({});
      const unmapped = {
        kind: 'invalidArgument',
        field: 'user',
        message: expect.stringContaining('uid 70000 is not mapped in this container: its user namespace has ids 0-65535'),
      };
      await expect(runToEnd(c, sh('true', { user: '70000' }))).rejects.toMatchObject(unmapped);
      await expect(runToEnd(c, sh('true', { user: '0:65536' }))).rejects.toMatchObject({
        kind: 'invalidArgument',
        message: expect.stringContaining('gid 65536 is not mapped'),
      });
      expect(
        (await runToEnd(c, sh('echo far:x:70000:70000::/:/bin/sh >> /etc/passwd; echo farg:x:70001:vcap >> /etc/group; echo near:x:4242:vcap >> /etc/group')))
          .code,
      ).toBe(0);
      await expect(runToEnd(c, sh('true', { user: 'far' }))).rejects.toMatchObject(unmapped);
      // StreamIn's tar runs as the user too, and answers the same
      const tar = async () => Readable.from([await tarOf([{ name: 'f', content: 'x' }])]);
      await expect(c.streamIn({ path: '/tmp/in', user: '70000', tar: await tar() })).rejects.toMatchObject(unmapped);
      await expect(c.streamIn({ path: '/tmp/in', user: 'far', tar: await tar() })).rejects.toMatchObject(unmapped);
      // vcap's groups from /etc/group: 4242 is mapped, 70001 cannot be set in this namespace
      const { stdout, code } = await runToEnd(c, sh('id -G', { user: 'vcap' }));
      expect(code).toBe(0);
      expect(stdout.trim().split(' ')).toContain('4242');
      expect(stdout.trim().split(' ')).not.toContain('70001');
      await backend.destroy(c.handle);
    });

    it("makes a missing working dir as the user's mapped host ids", async () => {
      const c = await backend.create({});
      const base = (await initOf(c)).uid;
      expect((await runToEnd(c, sh('mkdir -p /srv && chmod 777 /srv'))).code).toBe(0);
      expect((await runToEnd(c, sh('pwd', { user: '1000:1000', dir: '/srv/made/here' }))).stdout).toBe('/srv/made/here\n');
      expect(await hostOwner(c, '/srv/made/here')).toEqual({ uid: base + 1000, gid: base + 1000 });
      await backend.destroy(c.handle);
    });

    it('binds host sources from under a directory only host root may search (the host side attaches them: the container root could not reach them), read-only where asked, their files the overflow id', async () => {
      // the source is readable by anyone, under a parent only host root may search
      const parent = await mkdtemp(join(tmpdir(), 'arbor-userns-bind-'));
      const hostDir = join(parent, 'shared');
      try {
        await mkdir(hostDir, { mode: 0o755 });
        await writeFile(join(hostDir, 'data'), 'from the host\n', { mode: 0o644 });
        expect((await lstat(parent)).mode & 0o777).toBe(0o700);
        const c = await backend.create({
          bindMounts: [
            { srcPath: hostDir, dstPath: '/mnt/ro', mode: 'ro', origin: 'host' },
            { srcPath: hostDir, dstPath: '/mnt/rw', mode: 'rw', origin: 'host' },
          ],
        });
        const { stdout } = await runToEnd(c, sh('cat /mnt/ro/data; stat -c %u /mnt/ro/data; touch /mnt/ro/new 2>&1; echo rc=$?'));
        expect(stdout).toContain('from the host');
        expect(stdout).toContain('65534');
        expect(stdout).toMatch(/Read-only file system[\s\S]*rc=1/);
        await backend.destroy(c.handle);
      } finally {
        await rm(parent, { recursive: true, force: true });
      }
    });

    it('makes a container at a pid limit of 1: the init alone joins its cgroups', async () => {
      const c = await backend.create({ limits: { pid: { max: 1 } } });
      expect((await initOf(c)).uid).toBeGreaterThanOrEqual(USERNS.base);
      await backend.destroy(c.handle);
    });

    it('runs a privileged container as host root, as before', async () => {
      const c = await backend.create({ privileged: true });
      const init = await initOf(c);
      expect(init.uid).toBe(0);
      expect(init.uidMap).toBe('0 0 4294967295');
      await backend.destroy(c.handle);
    });

    it("streams files in as the requested user's mapped ids, and out with the container's own ids", async () => {
      const c = await backend.create({});
      const base = (await initOf(c)).uid;
      await c.streamIn({ path: '/home/vcap/in', user: 'vcap', tar: Readable.from([await tarOf([{ name: 'f', content: 'x' }])]) });
      await c.streamIn({ path: '/in-root', tar: Readable.from([await tarOf([{ name: 'g', content: 'y' }])]) });
      expect(await hostOwner(c, '/home/vcap/in/f')).toEqual({ uid: base + 1000, gid: base + 1000 });
      expect(await hostOwner(c, '/in-root/g')).toEqual({ uid: base, gid: base });
      expect(await ownersIn(await c.streamOut({ path: '/home/vcap/in/f' }))).toEqual({ f: 1000 });
      expect(await ownersIn(await c.streamOut({ path: '/in-root/g' }))).toEqual({ g: 0 });
      await backend.destroy(c.handle);
    });

    it("keeps a container's range over a restart (a new backend over the same state dir), and hands it to no other", async () => {
      const kept = await backend.create({});
      const range = (await initOf(kept)).uid;
      await backend.stop();
      backend = await makeBackend(stateDir, USERNS);
      await backend.start();
      const again = await backend.lookup(kept.handle);
      expect((await runToEnd(again, sh('cat /proc/self/uid_map'))).stdout.trim().split(/\s+/)).toEqual(['0', String(range), '65536']);
      const other = await backend.create({});
      expect((await initOf(other)).uid).not.toBe(range);
      await backend.destroy(kept.handle);
      const next = await backend.create({});
      expect((await initOf(next)).uid).toBe(range);
      await Promise.all([backend.destroy(other.handle), backend.destroy(next.handle)]);
    });
  });
}
