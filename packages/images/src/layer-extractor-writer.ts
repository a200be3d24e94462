import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** TinyFile is one small file to create whole: path is like <layer>/diff/etc/hostname. */
export interface TinyFile {
  path: string;
  /** content must own its whole ArrayBuffer, which write() transfers to the writer thread. */
  content: Uint8Array;
  /** openMode is what open(2) gets; mode is set with fchmod when chmod is true. */
  openMode: number;
  mode: number;
  chmod: boolean;
  /** uid and gid are applied when chown is true. */
  chown: boolean;
  uid: number;
  gid: number;
  mtime: Date | undefined;
}

/** writeFiles writes a batch of TinyFiles with blocking calls, in order, stopping at the first failure. */
function writeFiles(files: readonly TinyFile[]): void {
  for (const f of files) {
    const fd = fs.openSync(f.path, 'wx', f.openMode);
    try {
      if (f.content.length > 0 && fs.writeSync(fd, f.content, 0, f.content.length, 0) !== f.content.length) {
        throw new Error(`short write to ${f.path}`);
      }
      if (f.chown) fs.fchownSync(fd, f.uid, f.gid);
      if (f.chmod) fs.fchmodSync(fd, f.mode);
      if (f.mtime) fs.futimesSync(fd, f.mtime, f.mtime);
    } finally {
      fs.closeSync(fd);
    }
  }
}

// WORKER_SOURCE is writeFiles again, as plain JavaScript for the worker thread: a worker
// cannot load a TypeScript file under the test runner, and compiled code renames imports.
const WORKER_SOURCE = `
const fs = require('node:fs');
const { parentPort } = require('node:worker_threads');
function writeFiles(files) {
  for (const f of files) {
    const fd = fs.openSync(f.path, 'wx', f.openMode);
    try {
      if (f.content.length > 0 && fs.writeSync(fd, f.content, 0, f.content.length, 0) !== f.content.length) {
        throw new Error('short write to ' + f.path);
      }
      if (f.chown) fs.fchownSync(fd, f.uid, f.gid);
      if (f.chmod) fs.fchmodSync(fd, f.mode);
      if (f.mtime) fs.futimesSync(fd, f.mtime, f.mtime);
    } finally {
      fs.closeSync(fd);
    }
  }
}
parentPort.on('message', ({ id, files }) => {
  try {
    writeFiles(files);
    parentPort.postMessage({ id });
  } catch (err) {
    parentPort.postMessage({ id, error: { message: err.message, code: err.code, syscall: err.syscall, path: err.path } });
  }
});
`;

interface Reply {
  id: number;
  error?: { message: string; code?: string; syscall?: string; path?: string };
}

/**
 * TinyFileWriter creates small files on a worker thread, a batch per message. A layer of
 * small files is bound by open(2) (0.1 to 0.3 ms each on this VM's ext4): through libuv's
 * pool that is four hops per file; on the main thread it stalls the other layers' hashing
 * and parsing. One worker, shared by every extraction of the process, writes batches in
 * the order they come and does not keep the process alive while idle. Should the worker
 * not start, files are written on the calling thread.
 */
export class TinyFileWriter {
  private worker: Worker | undefined;
  private broken = false;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();

  /** write creates files (none existing) in order; it rejects with the first failure, like open's EEXIST. */
  write(files: TinyFile[]): Promise<void> {
    const worker = this.start();
    if (worker === undefined) {
      try {
        writeFiles(files);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const id = this.nextId;
    this.nextId += 1;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.ref();
      // each content owns its ArrayBuffer (see TinyFile): hand them over rather than copy them
      worker.postMessage(
        { id, files },
        files.map((f) => f.content.buffer as ArrayBuffer),
      );
    });
  }

  private start(): Worker | undefined {
    if (this.worker !== undefined || this.broken) return this.worker;
    let worker: Worker;
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true });
    } catch {
      this.broken = true;
      return undefined;
    }
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if (waiter === undefined) return;
      if (reply.error === undefined) {
        waiter.resolve();
        return;
      }
      const err = Object.assign(new Error(reply.error.message), {
        code: reply.error.code,
        syscall: reply.error.syscall,
        path: reply.error.path,
      });
      waiter.reject(err);
    });
    const gone = (cause: unknown): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const err = new Error(`image: the file writer thread ended: ${String(cause)}`);
      for (const waiter of this.waiting.values()) waiter.reject(err);
      this.waiting.clear();
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(`exit ${code}`));
    this.worker = worker;
    return worker;
  }
}

/** sharedTinyFileWriter serves every extraction of the process. */
export const sharedTinyFileWriter = new TinyFileWriter();
