import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TinyFileWriter, type TinyFile } from './layer-extractor-writer';

describe('TinyFileWriter', () => {
  let dir: string;
  const writer = new TinyFileWriter();
  const mtime = new Date('2021-02-03T04:05:06Z');

  const file = (name: string, content: string, mode: number, chmod = false): TinyFile => ({
    path: join(dir, name),
    content: Buffer.from(content),
    openMode: chmod ? 0o600 : mode,
    mode,
    chmod,
    chown: false,
    uid: 0,
    gid: 0,
    mtime,
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-tiny-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a batch of files on its thread with their content, modes and times', async () => {
    await writer.write([file('a', 'alpha', 0o644), file('b', '', 0o755), file('c', 'set-id', 0o4755, true)]);
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('alpha');
    for (const [name, mode] of [
      ['a', 0o644],
      ['b', 0o755],
      ['c', 0o4755],
    ] as const) {
      const info = await stat(join(dir, name));
      expect({ name, mode: info.mode & 0o7777, mtime: info.mtimeMs }).toEqual({ name, mode, mtime: mtime.getTime() });
    }
  });

  it('refuses to write over an existing file, with the error code of open(2), and stops there', async () => {
    await writeFile(join(dir, 'taken'), 'mine');
    const err = await writer.write([file('first', '1', 0o644), file('taken', 'theirs', 0o644), file('after', '3', 0o644)]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EEXIST' });
    expect(await readFile(join(dir, 'taken'), 'utf8')).toBe('mine');
    expect(await readFile(join(dir, 'first'), 'utf8')).toBe('1');
    await expect(stat(join(dir, 'after'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
