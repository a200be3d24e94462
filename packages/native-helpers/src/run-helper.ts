import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import { ArborError } from '@arbor/core';
import { SpawnServer } from './spawn-server';
import type { SpawnResult } from './spawn-server';

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

export interface HelperRunnerOptions {
  /**
   * forkServer: run() starts helpers through arbor-spawn (in dir) when it is built, true by
   * default; false always uses Node's child_process.spawn.
   */
  forkServer?: boolean;
}

/**
 * HelperRunner starts the C helpers of native/ without a shell. run() collects stdout and
 * folds stderr and the exit code into a HelperError; spawnStreaming() hands back the child
 * for helpers that stream (tar).
 *
 * run() goes through the arbor-spawn fork server (native/arbor-spawn) when it is built in
 * dir: Node's own spawn forks all of arbord, 10-14 ms a helper. The server starts on first
 * use; when it dies, the runs in flight fail saying so (a helper may or may not have run, so
 * none is retried) and the next run starts a new one. Without arbor-spawn in dir, or when it
 * cannot start at all, run() uses child_process.spawn, as it did before.
 */
export class HelperRunner {
  private server: SpawnServer | undefined;
  private serverBuilt: Promise<boolean> | undefined;
  private readonly forkServer: boolean;

  constructor(
    readonly dir: string = DEFAULT_HELPERS_DIR,
    options: HelperRunnerOptions = {},
  ) {
    this.forkServer = options.forkServer ?? true;
  }

  path(name: HelperName): string {
    return join(this.dir, name);
  }

  async run(name: HelperName, args: readonly string[]): Promise<string> {
    const server = await this.spawnServer();
    if (!server) return this.runWithNodeSpawn(name, args);
    let result: SpawnResult;
    try {
      result = await server.run([this.path(name), ...args]);
    } catch (err) {
      if (!server.startFailed) throw err;
      // arbor-spawn cannot even start here, so the helper did not run: Node's spawn from now on
      this.serverBuilt = Promise.resolve(false);
      return this.runWithNodeSpawn(name, args);
    }
    if (result.spawnErrno !== 0) {
      const code = Object.entries(osConstants.errno).find(([, n]) => n === result.spawnErrno)?.[0] ?? `errno ${result.spawnErrno}`;
      const hint = code === 'ENOENT' || code === 'EACCES' ? ' (build it with make -C native)' : '';
      throw new ArborError('internal', `${name}: cannot start ${this.path(name)}: ${code}${hint}`);
    }
    if (result.exitCode === 0) return result.stdout.toString('utf8');
    throw new HelperError(name, result.exitCode, result.stderr.toString('utf8'));
  }

  /** close ends the fork server once the helpers it runs have exited; a later run starts a new one. */
  close(): void {
    this.server?.close();
    this.server = undefined;
  }

  /** spawnServer is the running fork server, a new one when the last died, or undefined when it is not built or not wanted. */
  private async spawnServer(): Promise<SpawnServer | undefined> {
    if (!this.forkServer) return undefined;
    const path = join(this.dir, 'arbor-spawn');
    this.serverBuilt ??= access(path, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (!(await this.serverBuilt)) return undefined;
    if (!this.server || this.server.dead) this.server = new SpawnServer(path);
    return this.server;
  }

  private runWithNodeSpawn(name: HelperName, args: readonly string[]): Promise<string> {
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
