import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { ArborError } from '@arbor/core';

/** HELPER_EXIT are the helpers' exit codes (native/common/arbor.h) that mean something. */
export const HELPER_EXIT = {
  failed: 1,
  notFound: 3,
  permission: 4,
  badUsage: 64,
} as const;

/** DEFAULT_HELPERS_DIR is native/build of this repo, where `make -C native` puts the helpers. */
export const DEFAULT_HELPERS_DIR = resolve(__dirname, '..', '..', '..', 'native', 'build');

export type HelperName = 'arbor-create' | 'arbor-exec' | 'arbor-init' | 'arbor-tar';

/** HelperError is a helper that failed: its exit code and what it printed on stderr. */
export class HelperError extends ArborError {
  constructor(
    readonly helper: HelperName,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super('internal', `${helper} failed (exit ${exitCode ?? 'by signal'}): ${stderr.trim() || 'no message'}`);
  }
}

/**
 * HelperRunner starts the C helpers of native/ without a shell. run() collects stdout and
 * folds stderr and the exit code into a HelperError; spawnStreaming() hands back the child
 * for helpers that stream (tar).
 */
export class HelperRunner {
  constructor(readonly dir: string = DEFAULT_HELPERS_DIR) {}

  path(name: HelperName): string {
    return join(this.dir, name);
  }

  run(name: HelperName, args: readonly string[]): Promise<string> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(this.path(name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) =>
        reject(new ArborError('internal', `${name}: cannot start ${this.path(name)}: ${e.message} (build it with make -C native)`, { cause: e })),
      );
      child.on('close', (code) => {
        if (code === 0) resolvePromise(Buffer.concat(out).toString('utf8'));
        else reject(new HelperError(name, code, Buffer.concat(err).toString('utf8')));
      });
    });
  }

  spawnStreaming(name: HelperName, args: readonly string[]): ChildProcess & { stdin: NodeJS.WritableStream; stdout: NodeJS.ReadableStream; stderr: NodeJS.ReadableStream } {
    return spawn(this.path(name), args, { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcess & {
      stdin: NodeJS.WritableStream;
      stdout: NodeJS.ReadableStream;
      stderr: NodeJS.ReadableStream;
    };
  }
}
