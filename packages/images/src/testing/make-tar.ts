import { pack, type Header } from 'tar-stream';

/** TarEntry is one entry for makeTar, like { name: 'etc/hosts', content: '127.0.0.1 localhost\n' }. */
export type TarEntry = Partial<Header> & { name: string; content?: string | Buffer };

/** makeTar builds a tar in memory from entries, exactly as given (names are not cleaned). */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (const { content, ...header } of entries) {
    const body = typeof content === 'string' ? Buffer.from(content) : content;
    const full: TarEntry = { mode: header.type === 'directory' ? 0o755 : 0o644, ...header };
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (body === undefined) tar.entry(full, done);
      else tar.entry({ ...full, size: body.length }, body, done);
    });
  }
  tar.finalize();
  await ended;
  return Buffer.concat(chunks);
}
