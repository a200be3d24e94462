import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { ArborError } from '@arbor/core';

// SYNC_LOOP answers each path read on stdin with the exit status of `sync -f <path>`
// (syncfs(2) of the filesystem holding it), one line per request, in order.
const SYNC_LOOP = 'while IFS= read -r dir; do sync -f "$dir" 2>/dev/null; echo $?; done';

interface Waiter {
  path: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * FilesystemSyncer flushes a whole filesystem (syncfs) through one long-lived shell that
 * runs `sync -f` per request. Node has no syncfs binding, and spawning `sync` from a large
 * Node process blocks the event loop 10-20 ms per spawn (fork of its address space), which
 * was most of what a flush cost. The shell is started once, shared, and does not keep the
 * process alive while idle; if it dies, the next flush starts another.
 */
export class FilesystemSyncer {
  private child: ChildProcessByStdio<Writable, Readable, null> | undefined;
  private lines: Interface | undefined;
  private readonly waiting: Waiter[] = [];

  /** start spawns the shell ahead of the first flush, so no pull pays for the spawn. */
  start(): void {
    if (this.child !== undefined) return;
    const child = spawn('sh', ['-c', SYNC_LOOP], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.child = child;
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (line) => {
      const waiter = this.waiting.shift();
      if (waiter === undefined) return;
      if (line.trim() === '0') waiter.resolve();
      else waiter.reject(new ArborError('internal', `image: sync -f ${waiter.path} failed (status ${line.trim()})`));
      this.idle();
    });
    const gone = (err?: Error): void => {
      if (this.child !== child) return;
      this.child = undefined;
      this.lines?.close();
      this.lines = undefined;
      for (const waiter of this.waiting.splice(0)) {
        waiter.reject(new ArborError('internal', `image: the sync helper ended before flushing ${waiter.path}`, err ? { cause: err } : undefined));
      }
    };
    child.on('error', gone);
    child.on('exit', () => gone());
    child.stdin.on('error', () => undefined);
    this.idle();
  }

  /**
   * syncfs flushes the filesystem that holds path (like /var/lib/arbor/images/tmp).
   * @throws ArborError('internal') when the flush or the helper fails.
   */
  syncfs(path: string): Promise<void> {
    if (path.includes('\n')) return Promise.reject(new ArborError('invalidArgument', `image: cannot sync a path with a newline: ${JSON.stringify(path)}`));
    this.start();
    const child = this.child;
    if (child === undefined) return Promise.reject(new ArborError('internal', 'image: cannot start the sync helper'));
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ path, resolve, reject });
      // A flush in progress keeps the process alive; an idle helper does not.
      child.ref();
      (child.stdout as unknown as { ref?: () => void }).ref?.();
      child.stdin.write(`${path}\n`);
    });
  }

  /** stop ends the shell; a later syncfs starts another. */
  stop(): void {
    this.child?.stdin.end();
  }

  private idle(): void {
    const child = this.child;
    if (child === undefined || this.waiting.length > 0) return;
    child.unref();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
  }
}

/** sharedSyncer serves every LayerStore of the process: syncfs needs no per-store state. */
export const sharedSyncer = new FilesystemSyncer();
