import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { HostPreconditionError } from '@arbor/core';

const run = promisify(execFile);

/**
 * SpecialFiles makes what Node's fs cannot: device nodes, FIFOs and the overlayfs marks.
 * Paths are absolute and already checked to lie inside a layer directory.
 */
export interface SpecialFiles {
  /** whiteout marks path as deleted for overlayfs: a character device 0/0. */
  whiteout(path: string): Promise<void>;
  /** opaque marks dir so overlayfs hides what lower layers have in it (trusted.overlay.opaque=y). */
  opaque(dir: string): Promise<void>;
  device(path: string, type: 'c' | 'b', major: number, minor: number, mode: number): Promise<void>;
  fifo(path: string, mode: number): Promise<void>;
}

/**
 * CommandSpecialFiles runs coreutils' mknod/mkfifo and setfattr (Debian package `attr`).
 * Layers have few such entries, so a process each is cheap enough.
 */
export class CommandSpecialFiles implements SpecialFiles {
  async whiteout(path: string): Promise<void> {
    await run('mknod', ['-m', '000', '--', path, 'c', '0', '0']);
  }

  async opaque(dir: string): Promise<void> {
    try {
      await run('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', '--', dir]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new HostPreconditionError('setfattr not found: install the Debian package attr', { cause: err });
      }
      throw err;
    }
  }

  async device(path: string, type: 'c' | 'b', major: number, minor: number, mode: number): Promise<void> {
    await run('mknod', ['-m', (mode & 0o7777).toString(8), '--', path, type, String(major), String(minor)]);
  }

  async fifo(path: string, mode: number): Promise<void> {
    await run('mkfifo', ['-m', (mode & 0o7777).toString(8), '--', path]);
  }
}
