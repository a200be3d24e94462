import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { Header, Pack } from 'tar-stream';

type EntryHeader = Partial<Header> & Pick<Header, 'name'>;

function addEntry(tar: Pack, header: EntryHeader): Promise<void> {
  return new Promise((resolve, reject) => {
    tar.entry(header, (err) => (err ? reject(err) : resolve()));
  });
}

/** addFile copies a file into the tar as it is read, waiting whenever the tar is full. */
async function addFile(tar: Pack, header: EntryHeader, path: string): Promise<void> {
  let done!: Promise<void>;
  const entry = (() => {
    let sink!: ReturnType<Pack['entry']>;
    done = new Promise<void>((resolve, reject) => {
      sink = tar.entry(header, (err) => (err ? reject(err) : resolve()));
    });
    return sink;
  })();
  for await (const chunk of createReadStream(path)) {
    if (!entry.write(chunk as Buffer)) await once(entry, 'drain');
  }
  entry.end(undefined);
  await done;
}

/**
 * tarDirectory streams a tar of dir's contents, with entry names relative to dir
 * ('a.txt', 'sub/', 'sub/b.txt'). Files, directories and symlinks keep their modes; other
 * kinds (sockets, devices) are skipped. Files are read only as fast as the tar is consumed.
 */
export function tarDirectory(dir: string): Readable {
  const tar = pack();
  const walk = async (relative: string): Promise<void> => {
    const names = (await readdir(join(dir, relative))).sort();
    for (const name of names) {
      const rel = relative === '' ? name : `${relative}/${name}`;
      const abs = join(dir, rel);
      const st = await lstat(abs);
      const common = { mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        await addEntry(tar, { ...common, name: `${rel}/`, type: 'directory' });
        await walk(rel);
      } else if (st.isSymbolicLink()) {
        await addEntry(tar, { ...common, name: rel, type: 'symlink', linkname: await readlink(abs) });
      } else if (st.isFile()) {
        await addFile(tar, { ...common, name: rel, type: 'file', size: st.size }, abs);
      }
    }
  };
  walk('').then(
    () => tar.finalize(),
    (err: unknown) => tar.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  // tar-stream's streams are streamx streams: hand callers a plain Node Readable
  return Readable.from(tar as AsyncIterable<Buffer>, { objectMode: false });
}
