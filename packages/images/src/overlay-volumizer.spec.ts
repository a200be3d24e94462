import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@arbor/core';
import { OverlayVolumizer } from './overlay-volumizer';

describe('OverlayVolumizer (no privileges)', () => {
  let stateDir: string;
  let volumizer: OverlayVolumizer;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'arbor-images-'));
    volumizer = new OverlayVolumizer({ stateDir, defaultRootfs: join(stateDir, 'no-rootfs') });
  });
  afterEach(() => rm(stateDir, { recursive: true, force: true }));

  it.each([
    ['http://example.com/x.tar', /unknown scheme 'http'/],
    ['docker-archive://relative.tar', /needs an absolute path/],
  ])('refuses %s as image.uri, saying what is wrong', async (uri, why) => {
    const err = await volumizer.create('h1', { uri }, undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).field).toBe('image.uri');
    expect((err as Error).message).toMatch(why);
  });

  it('refuses a relative raw directory', async () => {
    await expect(volumizer.create('h1', { uri: 'raw://relative/dir' }, undefined)).rejects.toThrow(/absolute directory/);
  });

  it('names the missing default rootfs and how to build it', async () => {
    await expect(volumizer.create('h1', { uri: '' }, undefined)).rejects.toThrow(/no-rootfs does not exist: run scripts\/build-rootfs.sh/);
  });

  it('destroy of a container it never made succeeds', async () => {
    await expect(volumizer.destroy('never-made')).resolves.toBeUndefined();
  });

  it('reports real disk capacity for the state dir', async () => {
    const capacity = await volumizer.capacity();
    expect(capacity.diskInBytes).toBeGreaterThan(0);
    expect(capacity.schedulableDiskInBytes).toBeGreaterThan(0);
    expect(capacity.schedulableDiskInBytes).toBeLessThanOrEqual(capacity.diskInBytes);
  });
});
