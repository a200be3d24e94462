import { mkdir, mkdtemp, rm, symlink, truncate, writeFile, link, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerNotFoundError, InvalidArgumentError } from '@arbor/core';
import { FakeVolumizer } from './fake-volumizer';
import { contentOf } from './fs/fake-filesystem';

describe('FakeVolumizer', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-fake-raw-'));
    await mkdir(join(dir, 'bin'));
    await writeFile(join(dir, 'bin', 'tool'), '#!/bin/sh\necho tool\n');
    await chmod(join(dir, 'bin', 'tool'), 0o755);
    await link(join(dir, 'bin', 'tool'), join(dir, 'bin', 'tool2'));
    await symlink('tool', join(dir, 'bin', 'alias'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the default rootfs for an empty uri', async () => {
    const v = new FakeVolumizer();
    expect(await v.create('a', { uri: '' }, undefined)).toEqual({ path: '', env: [], user: '', workingDir: '', entrypoint: [], cmd: [] });
    expect(v.filesystem('a').resolve('/bin/sh').inode.kind).toBe('file');
  });

  it('copies a raw:/// host directory, with modes, hard links and symlinks, adding /dev and /tmp', async () => {
    const v = new FakeVolumizer();
    await v.create('r', { uri: `raw://${dir}` }, undefined);
    const fs = v.filesystem('r');
    const tool = fs.resolve('/bin/tool').inode;
    expect(tool.mode).toBe(0o755);
    expect(contentOf(tool as never).toString()).toBe('#!/bin/sh\necho tool\n');
    expect(fs.resolve('/bin/tool2').inode).toBe(tool);
    expect(fs.resolve('/bin/alias', { follow: false }).inode).toMatchObject({ kind: 'symlink', target: 'tool' });
    expect(fs.resolve('/dev/null').inode.kind).toBe('device');
    expect(fs.resolve('/tmp').inode.mode).toBe(0o1777);
    // each container has its own copy
    await v.create('r2', { uri: `raw://${dir}` }, undefined);
    fs.writeFile('/bin/tool', 'changed');
    expect(contentOf(v.filesystem('r2').resolve('/bin/tool').inode as never).toString()).toBe('#!/bin/sh\necho tool\n');
  });

  it('refuses a raw directory over 64 MiB', async () => {
    const big = await mkdtemp(join(tmpdir(), 'arbor-fake-big-'));
    await truncate(join(big, 'sparse'), 0).catch(() => undefined);
    await writeFile(join(big, 'sparse'), '');
    await truncate(join(big, 'sparse'), 65 * 1024 * 1024);
    await expect(new FakeVolumizer().create('b', { uri: `raw://${big}` }, undefined)).rejects.toThrow(/more than 64 MiB/);
    await rm(big, { recursive: true, force: true });
  });

  it.each(['docker:///busybox', 'raw://relative/dir', 'oci:///x'])('refuses %s, saying what it serves', async (uri) => {
    const err = await new FakeVolumizer().create('x', { uri }, undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({ field: 'image.uri' });
  });

  it('refuses a raw directory that does not exist', async () => {
    await expect(new FakeVolumizer().create('x', { uri: 'raw:///no/such/dir' }, undefined)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('reports disk use from the container filesystem and enforces a new limit', async () => {
    const v = new FakeVolumizer();
    await v.create('a', { uri: '' }, undefined);
    expect((await v.metrics('a')).exclusiveBytesUsed).toBe(0);
    v.filesystem('a').writeFile('/tmp/f', 'x'.repeat(100));
    expect(await v.metrics('a')).toMatchObject({ exclusiveBytesUsed: 100, exclusiveInodesUsed: 1 });
    await v.limitDisk('a', { byteSoft: 0, byteHard: 150, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' });
    expect(() => v.filesystem('a').writeFile('/tmp/g', 'x'.repeat(100))).toThrow(/No space left on device/);
  });

  it('reports a positive capacity, or the configured one', async () => {
    const measured = await new FakeVolumizer().capacity();
    expect(measured.diskInBytes).toBeGreaterThan(0);
    expect(measured.schedulableDiskInBytes).toBe(measured.diskInBytes);
    expect(await new FakeVolumizer({ diskInBytes: 1234 }).capacity()).toEqual({ diskInBytes: 1234, schedulableDiskInBytes: 1234 });
  });

  it('forgets a destroyed container, and destroy may be repeated', async () => {
    const v = new FakeVolumizer();
    await v.create('a', { uri: '' }, undefined);
    await v.destroy('a');
    await v.destroy('a');
    await expect(v.metrics('a')).rejects.toBeInstanceOf(ContainerNotFoundError);
  });
});
