import { randomBytes } from 'node:crypto';
import type { DeviceInode, FileInode } from '../fs/fake-filesystem';

/** CHUNK_BYTES is how much a fake program reads or writes at once, like a pipe's 64 KiB. */
export const CHUNK_BYTES = 64 * 1024;

/** ByteSource is what a program reads from: stdin, a file, a pipe, /dev/zero. */
export interface ByteSource {
  /** read resolves with the next bytes, or null at end of input. */
  read(): Promise<Buffer | null>;
}

/** ByteSink is what a program writes to: the process output, a file, a pipe, /dev/null. */
export interface ByteSink {
  /** write resolves when the bytes are taken; a slow reader makes it wait. @throws FsError, PipeClosedError */
  write(data: Buffer): Promise<void>;
}

/** PipeClosedError is EPIPE: the reading end is gone; the writer gets SIGPIPE. */
export class PipeClosedError extends Error {
  constructor() {
    super('Broken pipe');
    this.name = 'PipeClosedError';
  }
}

export const nullSource: ByteSource = { read: async () => null };

export function deviceSource(device: DeviceInode): ByteSource {
  switch (device.device) {
    case 'null':
      return nullSource;
    case 'zero': {
      const zeros = Buffer.alloc(CHUNK_BYTES);
      return { read: async () => zeros };
    }
    case 'urandom':
      return { read: async () => randomBytes(CHUNK_BYTES) };
  }
}

/** fileSource reads a file as it was when opened (its chunks never change in place). */
export function fileSource(file: FileInode): ByteSource {
  const chunks = file.chunks.slice();
  return {
    read: async () => chunks.shift() ?? null,
  };
}
