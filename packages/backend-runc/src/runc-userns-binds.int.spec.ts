// Idmapped host bind mounts on the runc backend with userns.enabled (root and runc only):
// runc 1.1 binds a copy arbor-mount idmapped under the bundle, which goes once runc runs.
import { execFile } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BindMount, Gardener } from '@arbor/core';
import { describeIf } from '@arbor/testkit';
import { runToEnd, runcBackendFor } from './testing/runc-test-env';

const run = promisify(execFile);

// a pool of its own, apart from the other userns specs' (1.5e9, 1.6e9) and the default's (1e9)
const USERNS = { enabled: true, base: 1_700_000_000, size: 2 * 65536, perContainer: 65536 };

/** idmapCopies are the host's mounts of idmapped bind copies under stateDir (mountinfo's mount points). */
async function idmapCopies(stateDir: string): Promise<string[]> {
  const lines = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  return lines.map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(stateDir) && p.includes('/idmap-binds/'));
}

const sh = (script: string, user?: string) => ({ path: 'sh', args: ['-c', script], ...(user && { user }) });

describeIf({ root: true, runc: true })('runc backend: idmapped host bind mounts in a user namespace', () => {
  jest.setTimeout(60_000);
  let stateDir: string;
  let backend: Gardener;
  // shared is like /var/tmp/arbor-runc-binds-XXXX/shared-YYYY: host root's dir (0755) with root's file and a dir of uid 1000
  let work: string;
  let shared: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-runc-binds-'));
    backend = await runcBackendFor(stateDir, { userns: USERNS });
    await backend.start();
    work = await mkdtemp('/var/tmp/arbor-runc-binds-');
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

  const bind = (mode: BindMount['mode']): BindMount => ({ srcPath: shared, dstPath: '/mnt/shared', mode, origin: 'host', idmap: true });

  it("shows host ids as the container's own, writes as them, and keeps no copy mounted on the host once runc runs nor after destroy", async () => {
    const c = await backend.create({ bindMounts: [bind('rw')] });
    expect(await idmapCopies(stateDir)).toEqual([]);
    const root = await runToEnd(c, sh('stat -c %u /mnt/shared/root-file /mnt/shared/vcap; echo new > /mnt/shared/by-root && echo ok'));
    expect(root.stdout).toBe('0\n1000\nok\n');
    const vcap = await runToEnd(c, sh('echo mine > /mnt/shared/vcap/f && echo ok; touch /mnt/shared/not-mine 2>&1; echo rc=$?', '1000:1000'));
    expect(vcap.stdout).toMatch(/^ok\n[\s\S]*Permission denied[\s\S]*rc=1\n$/);
    const [byRoot, byVcap] = [await lstat(join(shared, 'by-root')), await lstat(join(shared, 'vcap', 'f'))];
    expect([byRoot.uid, byRoot.gid, byVcap.uid, byVcap.gid]).toEqual([0, 0, 1000, 1000]);
    const bundle = (await c.info()).containerPath;
    await backend.destroy(c.handle);
    await expect(lstat(join(bundle, 'idmap-binds'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(join(shared, 'root-file'), 'utf8')).toBe('host root\n');
  });

  it('keeps an idmapped bind read-only by default, a submount of its source too', async () => {
    const sub = join(shared, 'sub');
    await mkdir(sub);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'arbor-runc-binds', sub]);
    try {
      const c = await backend.create({ bindMounts: [bind('ro')] });
      const { stdout } = await runToEnd(
        c,
        sh('stat -c %u /mnt/shared/root-file; for f in /mnt/shared/x /mnt/shared/sub/x; do touch $f 2>&1; echo rc=$?; done'),
      );
      expect(stdout).toMatch(/^0\n.*Read-only file system\nrc=1\n.*Read-only file system\nrc=1\n$/);
      await backend.destroy(c.handle);
    } finally {
      await run('umount', [sub]);
    }
  });

  it('fails the create with FAILED_PRECONDITION naming a source whose filesystem refuses idmapped mounts, and keeps no container nor copy', async () => {
    const sysfs: BindMount = { srcPath: '/sys/kernel', dstPath: '/mnt/kernel', mode: 'ro', origin: 'host', idmap: true };
    await expect(backend.create({ bindMounts: [sysfs] })).rejects.toMatchObject({
      kind: 'failedPrecondition',
      message: expect.stringContaining('/sys/kernel'),
    });
    expect(await backend.containers()).toEqual([]);
    expect(await idmapCopies(stateDir)).toEqual([]);
  });

  it('accepts idmap on a privileged container and ignores it: host root writes as host root', async () => {
    const c = await backend.create({ privileged: true, bindMounts: [bind('rw')] });
    const { stdout } = await runToEnd(c, sh('cat /proc/self/uid_map; stat -c %u /mnt/shared/vcap; echo new > /mnt/shared/new && echo ok'));
    expect(stdout.trim().split(/\s+/)).toEqual(['0', '0', '4294967295', '1000', 'ok']);
    expect((await lstat(join(shared, 'new'))).uid).toBe(0);
  });
});
