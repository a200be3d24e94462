import { pack as tarPack } from 'tar-stream';
import type { Header } from 'tar-stream';

/** TarEntry is a tar header with what it needs, plus a file's content (entries with content are files). */
export type TarEntry = Partial<Header> & { name: string; content?: string };

/**
 * tarOf packs entries into one tar, as a client's StreamIn would send it: files default to
 * mode 0644, other entries to 0755; a header field given wins.
 */
export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tarPack();
  for (const { content, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content !== undefined) pack.entry({ type: 'file', mode: 0o644, ...header }, content, done);
      else pack.entry({ mode: 0o755, ...header }, done);
    });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
