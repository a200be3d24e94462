// tar-files: the few lines of tar an example needs, on top of tar-stream.
import { Readable } from 'node:stream';
import { extract, pack } from 'tar-stream';

export interface FileEntry {
  content: string;
  mode?: number;
}

/** packFiles makes an uncompressed tar stream of the given files. */
export function packFiles(files: Record<string, FileEntry>): Readable {
  const p = pack();
  for (const [name, file] of Object.entries(files)) {
    p.entry({ name, mode: file.mode ?? 0o644 }, file.content);
  }
  p.finalize();
  // tar-stream makes streamx streams: hand callers a plain Node Readable
  return Readable.from(p as AsyncIterable<Buffer>, { objectMode: false });
}

/** readTarFiles collects the regular files of a tar stream as text, by entry name. */
export async function readTarFiles(tar: Readable): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const ex = extract();
  tar.pipe(ex as unknown as NodeJS.WritableStream);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (entry.header.type === 'file') files[entry.header.name] = Buffer.concat(chunks).toString();
  }
  return files;
}
