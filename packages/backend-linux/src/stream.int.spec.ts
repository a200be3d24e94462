// StreamIn / StreamOut of the linux backend: untrusted tar never touches the host (root only).
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import { InvalidArgumentError, InvalidTarError, PermissionDeniedError } from '@arbor/core';
import type { Container, Gardener } from '@arbor/core';
import { DEFAULT_ROOTFS } from '@arbor/images';
import { DEFAULT_HELPERS_DIR } from '@arbor/host';
import { describeIf, tarOf } from '@arbor/testkit';
import { backendFor, makeStateDir, prepareHost, removeStateDir, runToEnd, sh } from './testing/linux-test-env';

jest.setTimeout(30_000);

async function entriesOf(tar: Readable): Promise<Record<string, string>> {
  const extract = tarExtract();
  const found: Record<string, string> = {};
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      found[header.name] = header.type === 'file' ? Buffer.concat(chunks).toString() : (header.type ?? '');
      next();
    });
  });
  tar.pipe(extract);
  await new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', reject);
  });
  return found;
}

describeIf({ root: true })('linux backend: streaming files', () => {
  let stateDir: string;
  let backend: Gardener;
  let container: Container;
  let hostDir: string;
  const hostFile = () => join(hostDir, 'victim');

  beforeAll(async () => {
    prepareHost();
    stateDir = await makeStateDir();
    backend = await backendFor(stateDir);
    await backend.start();
    container = await backend.create({});
  });
  afterAll(async () => {
    for (const c of await backend.containers()) await backend.destroy(c.handle);
    await backend.stop();
    await removeStateDir(stateDir);
  });
  beforeEach(async () => {
    hostDir = await mkdtemp(join(tmpdir(), 'arbor-host-'));
    await writeFile(hostFile(), 'original\n');
  });
  afterEach(() => rm(hostDir, { recursive: true, force: true }));

  async function expectHostUntouched(): Promise<void> {
    expect(await readFile(hostFile(), 'utf8')).toBe('original\n');
    expect(await readdir(hostDir)).toEqual(['victim']);
  }

  it('streams a tree in and out again, with modes', async () => {
    const tar = await tarOf([
      { name: 'app', type: 'directory' },
      { name: 'app/run.sh', content: '#!/bin/sh\necho ran\n', mode: 0o755 },
      { name: 'app/link', type: 'symlink', linkname: 'run.sh' },
    ]);
    await container.streamIn({ path: '/srv', tar: Readable.from([tar]) });
    expect((await runToEnd(container, { path: '/srv/app/link' })).stdout).toBe('ran\n');
    const out = await entriesOf(await container.streamOut({ path: '/srv/app' }));
    expect(out).toMatchObject({ 'app/': 'directory', 'app/run.sh': '#!/bin/sh\necho ran\n', 'app/link': 'symlink' });
    const contents = await entriesOf(await container.streamOut({ path: '/srv/app/' }));
    expect(Object.keys(contents).sort()).toEqual(['./', './link', './run.sh']);
  });

  it('streams in as a user, relative to the home, and refuses a place the user may not write', async () => {
    await container.streamIn({ path: 'uploads', user: 'vcap', tar: Readable.from([await tarOf([{ name: 'f', content: 'x' }])]) });
    expect((await runToEnd(container, sh('stat -c "%U %n" /home/vcap/uploads/f'))).stdout).toBe('vcap /home/vcap/uploads/f\n');
    const refused = container.streamIn({ path: '/root/x', user: 'vcap', tar: Readable.from([await tarOf([{ name: 'f', content: 'x' }])]) });
    await expect(refused).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it('says which path is missing on stream out', async () => {
    await expect(container.streamOut({ path: '/no/such/path' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('refuses a truncated tar', async () => {
    const tar = await tarOf([{ name: 'big', content: 'y'.repeat(10_000) }]);
    await expect(container.streamIn({ path: '/tmp/t', tar: Readable.from([tar.subarray(0, 1500)]) })).rejects.toBeInstanceOf(InvalidTarError);
  });

  describe('refuses each breakout, and the host file stays as it was', () => {
    it('../ in a path', async () => {
      const depth = '../'.repeat(20);
      const tar = await tarOf([{ name: `${depth}${hostFile().slice(1)}`, content: 'pwned\n' }]);
      await expect(container.streamIn({ path: '/tmp', tar: Readable.from([tar]) })).rejects.toBeInstanceOf(InvalidTarError);
      await expectHostUntouched();
    });

    it('an absolute path', async () => {
      const tar = await tarOf([{ name: hostFile(), content: 'pwned\n' }]);
      await expect(container.streamIn({ path: '/tmp', tar: Readable.from([tar]) })).rejects.toBeInstanceOf(InvalidTarError);
      await expectHostUntouched();
    });

    it('a symlink, then a write through it', async () => {
      const tar = await tarOf([
        { name: 'escape', type: 'symlink', linkname: hostDir },
        { name: 'escape/victim', content: 'pwned\n' },
      ]);
      await expect(container.streamIn({ path: '/tmp/s', tar: Readable.from([tar]) })).rejects.toBeInstanceOf(InvalidTarError);
      await expectHostUntouched();
    });

    it('a hard link to a file outside', async () => {
      const tar = await tarOf([{ name: 'hl', type: 'link', linkname: `${'../'.repeat(20)}${hostFile().slice(1)}` }]);
      await expect(container.streamIn({ path: '/tmp/h', tar: Readable.from([tar]) })).rejects.toBeInstanceOf(InvalidTarError);
      await expectHostUntouched();
    });

    it('a hard link to an absolute path, then a write to it', async () => {
      const tar = await tarOf([
        { name: 'hl', type: 'link', linkname: hostFile() },
        { name: 'hl', content: 'pwned\n' },
      ]);
      await expect(container.streamIn({ path: '/tmp/h2', tar: Readable.from([tar]) })).rejects.toBeInstanceOf(InvalidTarError);
      await expectHostUntouched();
    });

    it('a device node', async () => {
      const tar = await tarOf([{ name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 }]);
      await expect(container.streamIn({ path: '/tmp/d', tar: Readable.from([tar]) })).rejects.toBeInstanceOf(InvalidTarError);
    });

    it('a destination that is a symlink to a host path never reaches the host', async () => {
      await runToEnd(container, sh(`ln -s ${hostDir} /tmp/dest-link`));
      // the link points nowhere inside the container: refused, or written inside; never outside
      await container.streamIn({ path: '/tmp/dest-link', tar: Readable.from([await tarOf([{ name: 'victim', content: 'pwned\n' }])]) }).catch(() => undefined);
      await expectHostUntouched();
    });

    it('a symlink in the container pointing at a host path, written through by a later tar', async () => {
      await runToEnd(container, sh(`mkdir -p /tmp/pre && ln -s ${hostDir} /tmp/pre/link`));
      await container.streamIn({ path: '/tmp/pre', tar: Readable.from([await tarOf([{ name: 'link/victim', content: 'pwned\n' }])]) }).catch(() => undefined);
      await expectHostUntouched();
    });
  });

  describe('never extracts as root for a user that is not root', () => {
    /** tarAs runs arbor-tar itself (below the API's own check of the spec) into dir as user. */
    async function tarAs(user: string, dir: string): Promise<number | null> {
      const { containerPath } = await container.info();
      const { initPid } = JSON.parse(await readFile(join(containerPath, 'container.json'), 'utf8')) as { initPid: number };
      const args = ['--init-pid', String(initPid), '--busybox', join(DEFAULT_ROOTFS, 'bin', 'busybox'), '--user', user, '--extract', dir];
      return spawnSync(join(DEFAULT_HELPERS_DIR, 'arbor-tar'), args, { input: await tarOf([{ name: 'f', content: 'x' }]) }).status;
    }

    it.each([
      ['4294967295:0', 'the uid the kernel reads as "unchanged"'],
      ['4294967296:0', 'a uid that wraps to 0'],
      ['0:4294967295', 'the gid the kernel reads as "unchanged"'],
      ['99999999999', 'a uid beyond 32 bits'],
    ])('arbor-tar refuses the user %s (%s) and writes nothing', async (user) => {
      const dir = `/tmp/ids-${user.replace(':', '-')}`;
      expect(await tarAs(user, dir)).toBe(64);
      expect((await runToEnd(container, sh(`ls ${dir}/f 2>&1`))).code).not.toBe(0);
    });

    it("refuses a user whose id in the container's /etc/passwd is 4294967295", async () => {
      await runToEnd(container, sh('echo "evil:x:4294967295:0::/tmp:/bin/sh" >> /etc/passwd'));
      const refused = container.streamIn({ path: '/tmp/evil', user: 'evil', tar: Readable.from([await tarOf([{ name: 'f', content: 'x' }])]) });
      await expect(refused).rejects.toBeInstanceOf(InvalidArgumentError);
      expect((await runToEnd(container, sh('ls /tmp/evil/f 2>&1'))).code).not.toBe(0);
    });
  });
});
