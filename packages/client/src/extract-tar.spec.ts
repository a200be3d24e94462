import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
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
