import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { Header } from 'tar-stream';
import { UnsafeTarEntryError, extractTar } from './extract-tar';
import { tarDirectory } from './tar-directory';

type Entry = Partial<Header> & Pick<Header, 'name'> & { body?: string };

async function tarOf(entries: Entry[]): Promise<Readable> {
  const p = pack();
  for (const { body, ...header } of entries) p.entry(header, body ?? '');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Readable.from([Buffer.concat(chunks)]);
}

let root: string;
let dir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'arbor-extract-'));
  dir = join(root, 'out');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('extractTar', () => {
  test('files, directories, modes and symlinks land under the directory', async () => {
    await extractTar(
      await tarOf([
        { name: './', type: 'directory', mode: 0o755 },
        { name: './bin/', type: 'directory', mode: 0o755 },
        { name: './bin/run.sh', type: 'file', mode: 0o750, body: '#!/bin/sh\n' },
        { name: './bin/run', type: 'symlink', linkname: 'run.sh' },
        { name: 'deep/er/file.txt', type: 'file', mode: 0o644, body: 'x' },
      ]),
      dir,
    );
    expect(await readFile(join(dir, 'bin/run.sh'), 'utf8')).toBe('#!/bin/sh\n');
    expect((await stat(join(dir, 'bin/run.sh'))).mode & 0o777).toBe(0o750);
    expect(await readlink(join(dir, 'bin/run'))).toBe('run.sh');
    expect(await readFile(join(dir, 'deep/er/file.txt'), 'utf8')).toBe('x');
  });

  test.each<[string, Entry[]]>([
    ['a .. entry', [{ name: '../escaped.txt', type: 'file', body: 'x' }]],
    ['a nested .. entry', [{ name: 'a/../../escaped.txt', type: 'file', body: 'x' }]],
    ['an absolute entry', [{ name: '/tmp/escaped.txt', type: 'file', body: 'x' }]],
    [
      'a write through a symlink it planted',
      [
        { name: 'link', type: 'symlink', linkname: '..' },
        { name: 'link/escaped.txt', type: 'file', body: 'x' },
      ],
    ],
    ['a hard link to a file outside', [{ name: 'hard', type: 'link', linkname: '../secret.txt' }]],
  ])('refuses %s and writes nothing outside', async (_what, entries) => {
    await writeFile(join(root, 'secret.txt'), 'secret');
    await expect(extractTar(await tarOf(entries), dir)).rejects.toBeInstanceOf(UnsafeTarEntryError);
    await expect(lstat(join(root, 'escaped.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat('/tmp/escaped.txt')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('drops the setuid and setgid bits the tar asks for, keeps the rest of the mode and the sticky bit', async () => {
    await extractTar(
      await tarOf([
        { name: 'bin/', type: 'directory', mode: 0o2755 },
        { name: 'bin/su', type: 'file', mode: 0o4755, body: '#!/bin/sh\n' },
        { name: 'bin/wall', type: 'file', mode: 0o2711, body: '#!/bin/sh\n' },
        { name: 'bin/empty', type: 'file', mode: 0o6755 },
        { name: 'spool/', type: 'directory', mode: 0o1777 },
      ]),
      dir,
    );
    expect((await stat(join(dir, 'bin'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(dir, 'bin/su'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(dir, 'bin/wall'))).mode & 0o7777).toBe(0o711);
    expect((await stat(join(dir, 'bin/empty'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(dir, 'spool'))).mode & 0o7777).toBe(0o1777);
  });

  test('keeps setuid and setgid with preservePermissions, exactly as the tar has them', async () => {
    await extractTar(
      await tarOf([
        { name: 'bin/', type: 'directory', mode: 0o2775 },
        { name: 'bin/su', type: 'file', mode: 0o4777, body: '#!/bin/sh\n' },
      ]),
      dir,
      { preservePermissions: true },
    );
    expect((await stat(join(dir, 'bin'))).mode & 0o7777).toBe(0o2775);
    expect((await stat(join(dir, 'bin/su'))).mode & 0o7777).toBe(0o4777);
  });

  test('makes no device node or fifo', async () => {
    await extractTar(
      await tarOf([
        { name: 'sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o666 },
        { name: 'mem', type: 'character-device', devmajor: 1, devminor: 1, mode: 0o666 },
        { name: 'pipe', type: 'fifo', mode: 0o666 },
        { name: 'ok.txt', type: 'file', body: 'ok' },
      ]),
      dir,
    );
    expect((await readdir(dir)).sort()).toEqual(['ok.txt']);
  });

  test('a hard link to a symlink pointing outside links the symlink, never the file outside', async () => {
    await writeFile(join(root, 'secret.txt'), 'secret');
    await extractTar(
      await tarOf([
        { name: 'sl', type: 'symlink', linkname: '../secret.txt' },
        { name: 'hard', type: 'link', linkname: 'sl' },
      ]),
      dir,
    );
    expect((await stat(join(root, 'secret.txt'))).nlink).toBe(1);
    expect((await lstat(join(dir, 'hard'))).isSymbolicLink()).toBe(true);
  });

  test.each<[string, Entry[]]>([
    [
      'a hard link through a symlink it planted',
      [
        { name: 'up', type: 'symlink', linkname: '..' },
        { name: 'hard', type: 'link', linkname: 'up/secret.txt' },
      ],
    ],
    [
      'a directory entry through a symlink it planted',
      [
        { name: 'up', type: 'symlink', linkname: '..' },
        { name: 'up/', type: 'directory', mode: 0o777 },
      ],
    ],
    [
      'a hard link named through a symlink it planted',
      [
        { name: 'f', type: 'file', body: 'x' },
        { name: 'up', type: 'symlink', linkname: '..' },
        { name: 'up/escaped.txt', type: 'link', linkname: 'f' },
      ],
    ],
  ])('refuses %s and changes nothing outside', async (_what, entries) => {
    await writeFile(join(root, 'secret.txt'), 'secret', { mode: 0o600 });
    await expect(extractTar(await tarOf(entries), dir)).rejects.toBeInstanceOf(UnsafeTarEntryError);
    expect((await stat(join(root, 'secret.txt'))).nlink).toBe(1);
    expect((await stat(root)).mode & 0o777).toBe(0o700);
    await expect(lstat(join(root, 'escaped.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('refuses a pax header of more than a few MiB instead of buffering it', async () => {
    const p = pack();
    p.entry({ name: 'big.txt', pax: { comment: 'x'.repeat(8 << 20) } }, 'x');
    p.finalize();
    await expect(extractTar(Readable.from(p), dir)).rejects.toThrow(/exceeds max size/);
  });

  test('an existing symlink in the directory is replaced, not written through', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(root, 'secret.txt'), 'secret');
    await symlink(join(root, 'secret.txt'), join(dir, 'a.txt'));
    await extractTar(await tarOf([{ name: 'a.txt', type: 'file', body: 'new' }]), dir);
    expect(await readFile(join(root, 'secret.txt'), 'utf8')).toBe('secret');
    expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('new');
  });
});

describe('tarDirectory', () => {
  test('round trips through extractTar', async () => {
    const src = join(root, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'a.txt'), 'alpha', { mode: 0o600 });
    await writeFile(join(src, 'sub', 'big.bin'), Buffer.alloc(1024 * 1024 + 3, 9));
    await symlink('a.txt', join(src, 'link'));
    await extractTar(tarDirectory(src), dir);
    expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('alpha');
    expect((await stat(join(dir, 'a.txt'))).mode & 0o777).toBe(0o600);
    expect((await readFile(join(dir, 'sub', 'big.bin'))).equals(Buffer.alloc(1024 * 1024 + 3, 9))).toBe(true);
    expect(await readlink(join(dir, 'link'))).toBe('a.txt');
  });
});
