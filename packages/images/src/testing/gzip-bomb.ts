import { createHash } from 'node:crypto';
import { createGzip, constants } from 'node:zlib';
import { pack } from 'tar-stream';

/** GzipBomb is a layer blob that is small gzipped and huge as a tar, with both its digests. */
export interface GzipBomb {
  gz: Buffer;
  /** diffId is the tar's digest, as an image config names it: a bomb need not lie about it. */
  diffId: string;
  blobDigest: string;
  tarBytes: number;
}

/**
 * gzipBomb makes a layer holding one file, 'zeros', of fileBytes zero bytes, streamed so it
 * is never whole in memory: 1 GiB of zeros gzips to about 1 MiB.
 */
export async function gzipBomb(fileBytes: number): Promise<GzipBomb> {
  const tar = pack();
  const gzip = createGzip({ level: constants.Z_BEST_COMPRESSION });
  const tarHash = createHash('sha256');
  let tarBytes = 0;
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const gzipped = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
  });
  tar.on('data', (data: unknown) => {
    const chunk = data as Buffer;
    tarHash.update(chunk);
    tarBytes += chunk.length;
    if (!gzip.write(chunk)) tar.pause();
  });
  gzip.on('drain', () => tar.resume());
  tar.on('end', () => gzip.end());
  const entry = tar.entry({ name: 'zeros', size: fileBytes, mode: 0o644 });
  const zeros = Buffer.alloc(1024 * 1024);
  for (let left = fileBytes; left > 0; left -= zeros.length) {
    const chunk = left >= zeros.length ? zeros : zeros.subarray(0, left);
    if (!entry.write(chunk)) await new Promise<void>((resolve) => entry.once('drain', () => resolve()));
  }
  entry.end(() => undefined);
  tar.finalize();
  await gzipped;
  const gz = Buffer.concat(chunks);
  return { gz, diffId: `sha256:${tarHash.digest('hex')}`, blobDigest: `sha256:${createHash('sha256').update(gz).digest('hex')}`, tarBytes };
}
