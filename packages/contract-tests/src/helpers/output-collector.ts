import { Writable } from 'node:stream';

/**
 * OutputCollector is a Writable that keeps every byte written to it, synchronously, so a
 * test can check what had arrived at the very moment an exit status was delivered.
 */
export class OutputCollector extends Writable {
  private readonly chunks: Buffer[] = [];
  private length = 0;

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    this.chunks.push(buf);
    this.length += buf.length;
    callback();
  }

  get byteLength(): number {
    return this.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }

  text(): string {
    return this.bytes().toString('utf8');
  }
}
