// Hostile images against a bind mount of origin container, on a real arbord on each host
// backend: the source is a path inside the container's own rootfs, and a symlink in the image
// must not lead the mount to the host (hostile-input issue, item 10). Then host bind mounts
// into user-namespace containers (userns.enabled), with and without idmap (issue #12).
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ArborError, InvalidArgumentError } from '@arbor/core';
import type { BindMount, Container } from '@arbor/core';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { expectRejection } from '../helpers/expect-rejection';
import { runToEnd, sh } from '../helpers/run-process';
import { describeIf, expectAlive, HOST_BACKENDS } from '@arbor/testkit';
import { startRealArbord, type RealArbord } from './real-arbord';

const run = promisify(execFile);

describeIf({ root: true })('bind mounts of origin container against hostile images on a real arbord', () => {
  jest.setTimeout(120_000);
  // work is like /var/tmp/arbor-hostile-bind-XXXX: hostside/ stands for a host dir, image/ is
  // the rootfs (not under /tmp, where a container has a tmpfs over the image's dir)
  let work: string;
  let hostSide: string;
  let image: string;

  beforeAll(async () => {
    work = await mkdtemp(join('/var/tmp', 'arbor-hostile-bind-'));
    hostSide = join(work, 'hostside');
    image = join(work, 'image');
    await mkdir(hostSide);
    await writeFile(join(hostSide, 'marker'), 'host\n');
    await run('cp', ['-a', DEFAULT_ROOTFS, image]);
    // the image holds its own dir at the host dir's path, so that a symlink resolved inside
    // the rootfs (as openat2's RESOLVE_IN_ROOT would) finds something: its own marker
    await mkdir(join(image, hostSide), { recursive: true });
    await writeFile(join(image, hostSide, 'marker'), 'image\n');
    await symlink(hostSide, join(image, 'abs')); // /abs -> /tmp/arbor-hostile-bind-XXXX/hostside
    await symlink(`../../../../../../../../..${hostSide}`, join(image, 'rel'));
    await mkdir(join(image, 'srv'));
    await symlink(`..${hostSide}/../../../..${hostSide}`, join(image, 'srv', 'nested'));
  });

  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  describe.each(HOST_BACKENDS)('on %s', (backend) => {
    let arbord: RealArbord;

    beforeAll(async () => {
      arbord = await startRealArbord(backend);
    });

    afterAll(async () => {
      await arbord?.stop();
    });

    /** createWith creates a container of the image with one bind mount of origin container at /mnt/data. */
    function createWith(srcPath: string, mode: BindMount['mode']): Promise<Container> {
      return arbord.client.create({ image: { uri: `raw://${image}` }, bindMounts: [{ srcPath, dstPath: '/mnt/data', mode, origin: 'container' }] });
    }

    it.each([
      ['an absolute symlink', '/abs'],
      ['a relative symlink climbing out', '/rel'],
      ['a nested symlink climbing out', '/srv/nested'],
    ])('does not let %s lead a rw bind mount to the host: the host dir is neither seen nor written', async (_name, srcPath) => {
      // the container sees its image's own dir at the symlink's target, and writes there
      const container = await createWith(srcPath, 'rw');
      try {
        const result = await runToEnd(container, sh('cat /mnt/data/marker; echo owned > /mnt/data/marker; echo new > /mnt/data/written; ls /mnt/data'));
        expect(result.stderr).toBe('');
        expect(result.stdout).toBe('image\nmarker\nwritten\n');
      } finally {
        await arbord.client.destroy(container.handle);
      }
      expect(await readFile(join(hostSide, 'marker'), 'utf8')).toBe('host\n');
      expect(await readdir(hostSide)).toEqual(['marker']);
      await expectAlive(arbord);
    });

    it("mounts the image's own directory, not the host's at the same path", async () => {
      const container = await createWith(hostSide, 'rw');
      try {
        const result = await runToEnd(container, sh('cat /mnt/data/marker; echo new > /mnt/data/written'));
        expect(result.stdout).toBe('image\n');
      } finally {
        await arbord.client.destroy(container.handle);
      }
      expect(await readdir(hostSide)).toEqual(['marker']);
    });

    it('refuses a source the image lacks, saying which, and keeps no container', async () => {
      const err = await arbord.client
        .create({ image: { uri: `raw://${image}` }, bindMounts: [{ srcPath: '/no/such/dir', dstPath: '/mnt/data', mode: 'ro', origin: 'container' }] })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(ArborError.is(err)).toBe(true);
      expect((err as Error).message).toContain('/no/such/dir');
      expect(await arbord.client.containers()).toEqual([]);
      await expectAlive(arbord);
    });

    // arbor-create (linux) answers a missing source as a helper failure; runc checks it before runc runs
    (backend === 'runc' ? it : it.skip)('refuses a source the image lacks with INVALID_ARGUMENT naming the mount', async () => {
      await expectRejection(createWith('/no/such/dir', 'ro'), InvalidArgumentError, { field: 'bindMounts[0].srcPath' });
      await expect(createWith('/abs/marker/x', 'ro')).rejects.toThrow(/not a directory/);
    });
  });
});

describeIf({ root: true })('host bind mounts into user-namespace containers on a real arbord (userns.enabled)', () => {
  jest.setTimeout(120_000);
  // shared is like /var/tmp/arbor-userns-bind-XXXX/shared: a dir of host root's (0755) holding root's file
  let work: string;
  let shared: string;

  beforeAll(async () => {
    work = await mkdtemp(join('/var/tmp', 'arbor-userns-bind-'));
    shared = join(work, 'shared');
    await mkdir(shared, { mode: 0o755 });
    await chmod(shared, 0o755);
    await writeFile(join(shared, 'root-file'), 'host root\n', { mode: 0o644 });
  });

  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  describe.each(HOST_BACKENDS)('on %s', (backend) => {
    let arbord: RealArbord;

    beforeAll(async () => {
      arbord = await startRealArbord(backend, [], { userns: true });
    });

    afterAll(async () => {
      await arbord?.stop();
    });

    /** withBind runs script as root in a container with shared bound at /mnt/shared, and destroys it. */
    async function withBind(mount: Partial<BindMount>, script: string): Promise<string> {
      const container = await arbord.client.create({ bindMounts: [{ srcPath: shared, dstPath: '/mnt/shared', mode: 'rw', origin: 'host', ...mount }] });
      try {
        return (await runToEnd(container, sh(script))).stdout;
      } finally {
        await arbord.client.destroy(container.handle);
      }
    }

    it("keeps a rw bind of host root's dir from container root without idmap: the files are nobody's", async () => {
      const out = await withBind({}, 'stat -c %u /mnt/shared/root-file; touch /mnt/shared/plain 2>&1; echo rc=$?');
      expect(out).toMatch(/^65534\n[\s\S]*Permission denied[\s\S]*rc=1\n$/);
      await expect(lstat(join(shared, 'plain'))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it("lets container root write an idmapped rw bind, as host root: the new file's host owner is 0, not the container's range", async () => {
      const out = await withBind({ idmap: true }, 'stat -c %u /mnt/shared/root-file; echo new > /mnt/shared/idmapped && echo ok');
      expect(out).toBe('0\nok\n');
      const made = await lstat(join(shared, 'idmapped'));
      expect({ uid: made.uid, gid: made.gid }).toEqual({ uid: 0, gid: 0 });
    });

    it('keeps an idmapped ro bind read-only', async () => {
      const out = await withBind({ idmap: true, mode: 'ro' }, 'stat -c %u /mnt/shared/root-file; touch /mnt/shared/ro 2>&1; echo rc=$?');
      expect(out).toMatch(/^0\n.*Read-only file system\nrc=1\n$/);
      await expect(lstat(join(shared, 'ro'))).rejects.toMatchObject({ code: 'ENOENT' });
      await expectAlive(arbord);
    });
  });
});
