import { CHUNK_BYTES, FsError, PipeClosedError, type ByteSink, type ByteSource, type FakeFilesystem, type FileInode } from '@arbor/backend-fake';

// The shell's own kinds of fd, beside the fake's process streams: pipes, files opened by a
// redirection, command substitution's capture.

export const nullSink: ByteSink = { write: async () => undefined };

/** directorySource is an fd on a directory: reading it fails with EISDIR. */
export function directorySource(path: string): ByteSource {
  return {
    read: async () => {
      throw new FsError('EISDIR', path);
    },
  };
}

/** fileSink appends to a file; beyond a disk limit it fails with ENOSPC. */
export function fileSink(fs: FakeFilesystem, file: FileInode, path: string): ByteSink {
  return {
    write: async (data) => fs.append(file, data, path),
  };
}

/** captureSink keeps what is written, for command substitution. */
export class CaptureSink implements ByteSink {
  private readonly chunks: Buffer[] = [];
  async write(data: Buffer): Promise<void> {
    this.chunks.push(Buffer.from(data));
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * Pipe is a bounded in-memory pipe between two tasks: a writer waits while 64 KiB are
 * unread; reading returns null once the writer closed and the pipe is empty; writing after
 * the reader closed fails with PipeClosedError.
 */
export class Pipe {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private writerClosed = false;
  private readerClosed = false;
  private readWaiter: (() => void) | undefined;
  private readonly writeWaiters: Array<() => void> = [];

  readonly source: ByteSource = { read: () => this.read() };
  readonly sink: ByteSink = { write: (data) => this.write(data) };

  closeWriter(): void {
    this.writerClosed = true;
    this.wakeReader();
  }

  closeReader(): void {
    this.readerClosed = true;
    this.queue.length = 0;
    this.queued = 0;
    this.wakeWriters();
  }

  private async read(): Promise<Buffer | null> {
    while (this.queue.length === 0) {
      if (this.writerClosed || this.readerClosed) return null;
      await new Promise<void>((resolve) => (this.readWaiter = resolve));
    }
    const chunk = this.queue.shift() as Buffer;
    this.queued -= chunk.length;
    this.wakeWriters();
    return chunk;
  }

  private async write(data: Buffer): Promise<void> {
    while (this.queued >= CHUNK_BYTES && !this.readerClosed) {
      await new Promise<void>((resolve) => this.writeWaiters.push(resolve));
    }
    if (this.readerClosed) throw new PipeClosedError();
    if (data.length === 0) return;
    this.queue.push(Buffer.from(data));
    this.queued += data.length;
    this.wakeReader();
  }

  private wakeReader(): void {
    const wake = this.readWaiter;
    this.readWaiter = undefined;
    wake?.();
  }

  private wakeWriters(): void {
    for (const wake of this.writeWaiters.splice(0)) wake();
  }
}
