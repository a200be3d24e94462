// Host bind mounts into user-namespace containers (userns), with and without idmap, checked
// from both sides: what the container may do and who owns the result on the host. Shared by
// the linux and runc backends.
import { execFile } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BindMount, Gardener, ProcessSpec } from '@arbor/core';
import { describeIf } from '@arbor/testkit';
import type { HostNeeds } from '@arbor/testkit';
import type { UsernsConfig } from '../id-range-allocator';
import { runToEnd } from './describe-host-containerizer-hostile';
import { mountPointsUnder, mountsUnderStateDir } from './mount-points';

const run = promisify(execFile);

/** IdmappedBindsOptions say what the suite needs of a backend besides making it, and where its runtime differs. */
export interface IdmappedBindsOptions {
  /** prepare builds what the backend needs (helpers, rootfs) before it is made. */
  prepare?: () => void;
  /**
   * idmapCopiesDir is where, under a container's containerPath, the runtime mounts idmapped
   * copies of its bind sources before the container starts, like 'idmap-binds' for runc 1.1
   * (it cannot idmap a mount itself). When set, the suite checks that no copy stays mounted
   * once the container runs and that the dir goes with the destroy.
   */
  idmapCopiesDir?: string;
}

/** MakeIdmappedBindsBackend composes the backend over stateDir with this userns section, not yet started. */
export type MakeIdmappedBindsBackend = (stateDir: string, userns: UsernsConfig) => Promise<Gardener>;

// a pool of its own, apart from describeUserNamespaces' (1.5e9) and the default's (1e9)
const USERNS: UsernsConfig = { enabled: true, base: 1_600_000_000, size: 2 * 65536, perContainer: 65536 };

const sh = (script: string, extra: Partial<ProcessSpec> = {}): ProcessSpec => ({ path: 'sh', args: ['-c', script], ...extra });

/**
 * describeIdmappedBinds declares, for the backend makeBackend composes with user namespaces on,
 * what a host bind mount promises: without idmap, host root's files are the overflow id and out
 * of container root's reach; with idmap, container ids are the same host ids both ways, read-only
 * where asked (submounts too), refused for a filesystem that cannot idmap, ignored for a
 * privileged container; nothing stays mounted after a destroy or a refused create.
 */
export function describeIdmappedBinds(name: string, needs: HostNeeds, makeBackend: MakeIdmappedBindsBackend, options: IdmappedBindsOptions = {}): void {
  describeIf(needs)(`${name}: host bind mounts in a user namespace, idmapped or not`, () => {
    jest.setTimeout(60_000);
    let stateDir: string;
    let backend: Gardener;
    // work is like /var/tmp/arbor-idmap-binds-XXXX (on a disk filesystem, which idmaps);
    // shared/ stands for a host dir owned by host root (0755) holding root's file and a dir of host uid 1000
    let work: string;
    let shared: string;

    /** mountsLeft are the mounts under stateDir but its quota filesystem (<stateDir>/overlays, mounted while the backend runs). */
    const mountsLeft = () => mountsUnderStateDir(stateDir);

    beforeAll(async () => {
      options.prepare?.();
      stateDir = await mkdtemp(join(tmpdir(), 'arbor-idmap-binds-'));
      backend = await makeBackend(stateDir, USERNS);
      await backend.start();
      work = await mkdtemp('/var/tmp/arbor-idmap-binds-');
    });
    afterAll(async () => {
      for (const c of await backend.containers()) await backend.destroy(c.handle);
      await backend.stop();
      await rm(stateDir, { recursive: true, force: true });
      await rm(work, { recursive: true, force: true });
    });

    beforeEach(async () => {
      shared = await mkdtemp(join(work, 'shared-'));
      await chmod(shared, 0o755);
      await writeFile(join(shared, 'root-file'), 'host root\n', { mode: 0o644 });
      await mkdir(join(shared, 'vcap'), { mode: 0o755 });
      await chown(join(shared, 'vcap'), 1000, 1000);
    });
    afterEach(async () => {
      for (const c of await backend.containers()) await backend.destroy(c.handle);
    });

    const bind = (mode: BindMount['mode'], idmap: boolean): BindMount => ({
      srcPath: shared,
      dstPath: '/mnt/shared',
      mode,
      origin: 'host',
      ...(idmap && { idmap }),
    });

    it('keeps a rw bind of a host-root-owned dir out of reach of container root without idmap: its files are the overflow id', async () => {
      const c = await backend.create({ bindMounts: [bind('rw', false)] });
      const { stdout } = await runToEnd(c, sh('stat -c %u:%g /mnt/shared /mnt/shared/root-file; touch /mnt/shared/new 2>&1; echo rc=$?'));
      expect(stdout).toMatch(/^65534:65534\n65534:65534\n[\s\S]*Permission denied[\s\S]*rc=1\n$/);
      await backend.destroy(c.handle);
      await expect(lstat(join(shared, 'new'))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it("lets container root write an idmapped rw bind: host root's files are its own, and what it writes is host root's, not its range's; its destroy leaves no mount", async () => {
      const mountsBefore = await mountsLeft();
      const c = await backend.create({ bindMounts: [bind('rw', true)] });
      const { containerPath } = await c.info();
      const copies = options.idmapCopiesDir && join(containerPath, options.idmapCopiesDir);
      if (copies) expect(await mountPointsUnder(copies)).toEqual([]);
      const script =
        'stat -c %u:%g /mnt/shared /mnt/shared/root-file /mnt/shared/vcap; echo changed > /mnt/shared/root-file && echo new > /mnt/shared/new && echo ok';
      const { stdout, stderr } = await runToEnd(c, sh(script));
      expect(stderr).toBe('');
      expect(stdout).toBe('0:0\n0:0\n1000:1000\nok\n');
      expect(await readFile(join(shared, 'root-file'), 'utf8')).toBe('changed\n');
      const made = await lstat(join(shared, 'new'));
      expect({ uid: made.uid, gid: made.gid }).toEqual({ uid: 0, gid: 0 });
      await backend.destroy(c.handle);
      expect(await mountsLeft()).toEqual(mountsBefore);
      if (copies) await expect(lstat(copies)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it("gives a container user the host files of the same uid: uid 1000 writes its dir, and the file is host uid 1000's; host root's file is left as it was", async () => {
      const c = await backend.create({ bindMounts: [bind('rw', true)] });
      const { stdout } = await runToEnd(c, sh('echo mine > /mnt/shared/vcap/f && echo ok; touch /mnt/shared/not-mine 2>&1; echo rc=$?', { user: '1000:1000' }));
      expect(stdout).toMatch(/^ok\n[\s\S]*Permission denied[\s\S]*rc=1\n$/);
      const made = await lstat(join(shared, 'vcap', 'f'));
      expect({ uid: made.uid, gid: made.gid }).toEqual({ uid: 1000, gid: 1000 });
      await backend.destroy(c.handle);
      expect(await readFile(join(shared, 'root-file'), 'utf8')).toBe('host root\n');
    });

    it('keeps an idmapped bind read-only by default, a submount of its source too', async () => {
      const sub = join(shared, 'sub');
      await mkdir(sub);
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'arbor-idmap-binds', sub]);
      try {
        const c = await backend.create({ bindMounts: [bind('ro', true)] });
        const { stdout } = await runToEnd(
          c,
          sh('stat -c %u /mnt/shared/root-file /mnt/shared/sub; for f in /mnt/shared/x /mnt/shared/sub/x; do touch $f 2>&1; echo rc=$?; done'),
        );
        expect(stdout).toMatch(/^0\n0\n.*Read-only file system\nrc=1\n.*Read-only file system\nrc=1\n$/);
        await backend.destroy(c.handle);
      } finally {
        await run('umount', [sub]);
      }
    });

    it('fails the create with FAILED_PRECONDITION naming a source whose filesystem refuses idmapped mounts, and keeps no container nor mount', async () => {
      const mountsBefore = await mountsLeft();
      const sysfs: BindMount = { srcPath: '/sys/kernel', dstPath: '/mnt/kernel', mode: 'ro', origin: 'host', idmap: true };
      await expect(backend.create({ bindMounts: [sysfs] })).rejects.toMatchObject({
        kind: 'failedPrecondition',
        message: expect.stringContaining('/sys/kernel'),
      });
      expect(await backend.containers()).toEqual([]);
      expect(await mountsLeft()).toEqual(mountsBefore);
    });

    it('accepts idmap on a privileged container and ignores it: host root writes as host root', async () => {
      const c = await backend.create({ privileged: true, bindMounts: [bind('rw', true)] });
      const { stdout } = await runToEnd(c, sh('cat /proc/self/uid_map; stat -c %u /mnt/shared/vcap; echo new > /mnt/shared/new && echo ok'));
      expect(stdout.trim().split(/\s+/)).toEqual(['0', '0', '4294967295', '1000', 'ok']);
      expect((await lstat(join(shared, 'new'))).uid).toBe(0);
      await backend.destroy(c.handle);
    });
  });
}
