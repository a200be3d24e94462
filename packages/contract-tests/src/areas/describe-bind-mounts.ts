import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PermissionDeniedError } from '@arbor/core';
import type { BindMount } from '@arbor/core';
import { steps } from '@arbor/probes';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { probe, runToEnd, type ProcessResult } from '../helpers/run-process';
import { readTar, tarStream } from '../helpers/tar';

/** expectReadOnly asserts a probe's write failed as a write to a read-only mount does (EROFS). */
function expectReadOnly(result: ProcessResult): void {
  expect(result.exitCode).not.toBe(0);
  expect(result.stderr).toMatch(/Read-only file system/);
}

/**
 * describeBindMounts: a bind mount shows its source at dstPath in every mode and origin. A
 * read-only one (mode 'ro', the proto's default, as in README's `--bind /srv/data:/data`)
 * can be read and refuses every write with EROFS, leaving its source as it was; a read-write
 * one shares writes with its source: a host directory sees the container's files, a
 * directory of the container shows the same files under both paths.
 *
 * The host directories are made world-readable (ro) or world-writable (rw): a container in a
 * user namespace sees host-owned files as the overflow id, and its root is "other" to them.
 */
export function describeBindMounts(ctx: ContractContext): void {
  describe('bind mounts', () => {
    let hostDir: string;

    beforeEach(async () => {
      hostDir = await mkdtemp(join(tmpdir(), 'arbor-ct-bind-'));
    });

    afterEach(async () => {
      // destroy the containers first: the source goes once nothing binds it
      await ctx.cleanup();
      await rm(hostDir, { recursive: true, force: true });
    });

    /** hostBind binds hostDir (with one file, data.txt) at dstPath, readable by all; rw makes it writable by all too. */
    async function hostBind(dstPath: string, mode: BindMount['mode']): Promise<BindMount> {
      await writeFile(join(hostDir, 'data.txt'), 'from the host\n', { mode: 0o666 });
      await chmod(join(hostDir, 'data.txt'), 0o666);
      await chmod(hostDir, mode === 'rw' ? 0o777 : 0o755);
      return { srcPath: hostDir, dstPath, mode, origin: 'host' };
    }

    it("shows a read-only host bind (the default mode, README's --bind /srv/data:/data) and refuses writes with EROFS, leaving the host as it was", async () => {
      const container = await ctx.create({ bindMounts: [await hostBind('/data', 'ro')] });

      expect(await runToEnd(container, probe(steps.readFile('/data/data.txt')))).toMatchObject({ exitCode: 0, stdout: 'from the host\n' });
      expectReadOnly(await runToEnd(container, probe(steps.writeFile('/data/data.txt', 'changed'))));
      expectReadOnly(await runToEnd(container, probe(steps.appendFile('/data/data.txt', 'more'))));
      expectReadOnly(await runToEnd(container, probe(steps.writeFile('/data/new.txt', 'new'))));
      expect(await runToEnd(container, probe(steps.makeDir('/data/sub')))).not.toMatchObject({ exitCode: 0 });

      expect(await readFile(join(hostDir, 'data.txt'), 'utf8')).toBe('from the host\n');
      expect(await readdir(hostDir)).toEqual(['data.txt']);
    });

    it('refuses a stream-in into a read-only bind with PermissionDeniedError, writing nothing on the host', async () => {
      const container = await ctx.create({ bindMounts: [await hostBind('/data', 'ro')] });
      await expectRejection(container.streamIn({ path: '/data', tar: await tarStream([{ name: 'in.txt', content: 'x' }]) }), PermissionDeniedError);
      await expectRejection(container.streamIn({ path: '/data/sub', tar: await tarStream([{ name: 'in.txt', content: 'x' }]) }), PermissionDeniedError);
      expect(await readdir(hostDir)).toEqual(['data.txt']);
    });

    it("streams a host bind's files out", async () => {
      const container = await ctx.create({ bindMounts: [await hostBind('/data', 'ro')] });
      const entries = await readTar(await container.streamOut({ path: '/data/' }));
      expect(entries.find((e) => e.name === './data.txt')?.content.toString()).toBe('from the host\n');
    });

    it("shows a read-write host bind's files and puts the container's writes on the host", async () => {
      const container = await ctx.create({ bindMounts: [await hostBind('/mnt/shared', 'rw')] });

      const result = await runToEnd(
        container,
        probe(
          steps.readFile('/mnt/shared/data.txt'),
          steps.appendFile('/mnt/shared/data.txt', 'from the container\n'),
          steps.writeFile('/mnt/shared/new.txt', 'new in the container'),
          steps.makeDir('/mnt/shared/sub/dir'),
          steps.writeFile('/mnt/shared/sub/dir/deep.txt', 'deep'),
        ),
      );

      expect(result).toMatchObject({ exitCode: 0, stdout: 'from the host\n', stderr: '' });
      expect(await readFile(join(hostDir, 'data.txt'), 'utf8')).toBe('from the host\nfrom the container\n');
      expect(await readFile(join(hostDir, 'new.txt'), 'utf8')).toBe('new in the container');
      expect(await readFile(join(hostDir, 'sub', 'dir', 'deep.txt'), 'utf8')).toBe('deep');
    });

    it('puts what is streamed into a read-write host bind on the host', async () => {
      const container = await ctx.create({ bindMounts: [await hostBind('/mnt/shared', 'rw')] });
      await container.streamIn({ path: '/mnt/shared/in', tar: await tarStream([{ name: 'in.txt', content: 'streamed' }]) });
      expect(await readFile(join(hostDir, 'in', 'in.txt'), 'utf8')).toBe('streamed');
    });

    it("shows a read-only bind of the image's /etc (origin container) and refuses writes, while /etc itself stays writable and shows through", async () => {
      const container = await ctx.create({ bindMounts: [{ srcPath: '/etc', dstPath: '/mnt/etc', mode: 'ro', origin: 'container' }] });

      const read = await runToEnd(container, probe(steps.readFile('/mnt/etc/passwd')));
      expect(read.exitCode).toBe(0);
      expect(read.stdout).toMatch(/^root:x:0:0:/m);
      expectReadOnly(await runToEnd(container, probe(steps.writeFile('/mnt/etc/passwd', 'changed'))));
      expectReadOnly(await runToEnd(container, probe(steps.writeFile('/mnt/etc/new', 'new'))));

      const source = await runToEnd(
        container,
        probe(steps.writeFile('/etc/written-at-the-source', 'source'), steps.readFile('/mnt/etc/written-at-the-source'), steps.readFile('/etc/passwd')),
      );
      expect(source.exitCode).toBe(0);
      expect(source.stdout).toMatch(/^sourceroot:x:0:0:/);
    });

    // /root, not /tmp: the real backends mount a tmpfs on the container's /tmp, and a bind of
    // it shows the tmpfs on linux but the image's /tmp underneath on runc (reported in #14)
    it("shares a read-write bind of the image's /root (origin container): a write under either path shows under the other", async () => {
      const container = await ctx.create({ bindMounts: [{ srcPath: '/root', dstPath: '/mnt/root', mode: 'rw', origin: 'container' }] });
      const result = await runToEnd(
        container,
        probe(
          steps.writeFile('/mnt/root/via-bind', 'bind'),
          steps.writeFile('/root/via-source', 'source'),
          steps.readFile('/root/via-bind'),
          steps.print('|'),
          steps.readFile('/mnt/root/via-source'),
        ),
      );
      expect(result).toMatchObject({ exitCode: 0, stdout: 'bind|source', stderr: '' });
    });
  });
}
