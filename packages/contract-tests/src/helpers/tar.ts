import { Readable } from 'node:stream';
import * as tar from 'tar-stream';

/** TarEntry describes one entry to pack, like { name: 'app/run.sh', content: '#!/bin/sh\n', mode: 0o755 }. */
export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink';
  content?: Buffer | string;
  mode?: number;
  /** linkname is the symlink target. */
  linkname?: string;
}

/** ReadEntry is one entry of a tar read back from StreamOut. */
export interface ReadEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname: string;
  content: Buffer;
}

/** packTar builds an uncompressed tar in memory. Names are written as given, '../' and all. */
export async function packTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks);
  })();
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const content = type === 'file' ? Buffer.from(entry.content ?? '') : Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      pack.entry(
        {
          name: entry.name,
          type,
          mode: entry.mode ?? (type === 'directory' ? 0o755 : 0o644),
          mtime: new Date(1_700_000_000_000),
          ...(type === 'symlink' && { linkname: entry.linkname ?? '' }),
        },
        content,
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }
  pack.finalize();
  return collected;
}

/** tarStream is a Readable of a tar packed from entries. */
export async function tarStream(entries: TarEntry[]): Promise<Readable> {
  return Readable.from([await packTar(entries)]);
}

/** readTar reads every entry of a tar stream, content included. */
export async function readTar(stream: Readable): Promise<ReadEntry[]> {
  const extract = tar.extract();
  const feeding = (async () => {
    try {
      for await (const chunk of stream) {
        if (!extract.write(chunk as Buffer)) await new Promise<void>((resolve) => extract.once('drain', () => resolve()));
      }
      extract.end(undefined);
    } catch (err) {
      extract.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  const entries: ReadEntry[] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(Buffer.from(chunk as Uint8Array));
    const h = entry.header;
    entries.push({
      name: h.name,
      type: h.type,
      mode: h.mode & 0o7777,
      uid: h.uid,
      gid: h.gid,
      linkname: h.linkname ?? '',
      content: Buffer.concat(chunks),
    });
  }
  await feeding;
  return entries;
}

/** normalName drops a trailing '/', so 'b/' and 'b' compare equal. */
export function normalName(name: string): string {
  return name.length > 1 && name.endsWith('/') ? name.slice(0, -1) : name;
}
