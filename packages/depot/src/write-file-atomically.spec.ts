import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replaceAtomically, writeFileAtomically } from './write-file-atomically';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arbor-atomic-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomically', () => {
  it('replaces the content whole, with exactly the mode asked for, and leaves no temp file', async () => {
    const path = join(dir, 'resolv.conf');
    await writeFile(path, 'old');
    const umask = process.umask(0o077);
    try {
      await writeFileAtomically(path, 'nameserver 10.0.0.1\n', 0o644, { sync: false });
    } finally {
      process.umask(umask);
    }
    expect(await readFile(path, 'utf8')).toBe('nameserver 10.0.0.1\n');
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    expect(await readdir(dir)).toEqual(['resolv.conf']);
  });

  it('replaces a symlink at path instead of writing through it', async () => {
    const outside = join(dir, 'outside');
    await writeFile(outside, 'keep');
    await symlink(outside, join(dir, 'record.json'));
    await writeFileAtomically(join(dir, 'record.json'), '{}');
    expect(await readFile(outside, 'utf8')).toBe('keep');
    expect(await readFile(join(dir, 'record.json'), 'utf8')).toBe('{}');
  });

  it('gives the file the owner asked for', async () => {
    const path = join(dir, 'hosts');
    const uid = process.getuid?.() ?? 0;
    const owner = uid === 0 ? { uid: 4321, gid: 4322 } : { uid, gid: process.getgid?.() ?? 0 };
    await writeFileAtomically(path, '127.0.0.1 localhost\n', 0o644, { owner });
    expect(await stat(path)).toMatchObject(owner);
  });
});

describe('replaceAtomically', () => {
  it('renames what make built beside path over it', async () => {
    const path = join(dir, 'volumes.img');
    await writeFile(path, 'old');
    await replaceAtomically(path, async (tmp) => {
      expect(tmp.startsWith(join(dir, '.volumes.img.'))).toBe(true);
      await writeFile(tmp, 'new');
    });
    expect(await readFile(path, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['volumes.img']);
  });

  it('keeps the old file and removes the temp file when make fails', async () => {
    const path = join(dir, 'volumes.img');
    await writeFile(path, 'old');
    await expect(
      replaceAtomically(path, async (tmp) => {
        await writeFile(tmp, 'half');
        throw new Error('mkfs.btrfs failed');
      }),
    ).rejects.toThrow('mkfs.btrfs failed');
    expect(await readFile(path, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['volumes.img']);
  });
});
