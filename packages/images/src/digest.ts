import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ArborError } from '@arbor/core';
import { DigestMismatchError } from './digest-mismatch-error';

const SHA256 = /^sha256:([a-f0-9]{64})$/;

/** isSha256Digest accepts digests like 'sha256:<64 lower-case hex>', the only algorithm we store. */
export function isSha256Digest(value: unknown): value is string {
  return typeof value === 'string' && SHA256.test(value);
}

/** digestHex is the hex part of 'sha256:<hex>', for file names. */
export function digestHex(digest: string): string {
  const hex = SHA256.exec(digest)?.[1];
  if (hex === undefined) {
    throw new ArborError('invalidArgument', `image: unsupported or malformed digest '${digest}' (want sha256:<64 hex>)`);
  }
  return hex;
}

export function sha256Of(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** verifyBytes throws DigestMismatchError unless bytes hash to expected. */
export function verifyBytes(what: string, bytes: Buffer, expected: string): void {
  const actual = sha256Of(bytes);
  if (actual !== expected) throw new DigestMismatchError(what, expected, actual);
}

/**
 * HashingStream passes bytes through unchanged while hashing and counting them. maxBytes
 * bounds what it lets through, so a source sending more than its descriptor said (say,
 * an endless stream) fails early instead of filling the disk. onBytes hears the running
 * count before a chunk is passed on; when it throws, the stream fails with that error
 * and the chunk goes no further.
 */
export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  constructor(
    private readonly what: string,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
    private readonly onBytes?: (bytes: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(new ArborError('invalidArgument', `image: ${this.what} is longer than the ${this.maxBytes} bytes its descriptor gives`));
      return;
    }
    try {
      this.onBytes?.(this.bytes);
    } catch (err) {
      done(err as Error);
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  /** digest is 'sha256:<hex>' of everything passed; call it once, after the stream ended. */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}
