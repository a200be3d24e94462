import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { ArborError } from '@arbor/core';
import { CoprocessExitedError } from './coprocess';
import { DEFAULT_HELPERS_DIR, helperPath } from './helper-path';
import { SPAWN_SLOTS, SpawnServer, checkArgv } from './spawn-server';

// DEFAULT_HELPERS_DIR stays importable from here, where the host runtime's files import it
export { DEFAULT_HELPERS_DIR };
import type { SpawnResult } from './spawn-server';

/** HELPER_EXIT are the helpers' exit codes (native/common/arbor.h) that mean something. */
export const HELPER_EXIT = {
  failed: 1,
  notFound: 3,
  permission: 4,
  unsupported: 5,
  badUser: 6,
  limit: 7,
  badUsage: 64,
} as const;

export type HelperName = 'arbor-create' | 'arbor-devices' | 'arbor-exec' | 'arbor-init' | 'arbor-mount' | 'arbor-tar';

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

/** HelperTimeoutError is a helper that run() killed because it took longer than timeoutMs. */
export class HelperTimeoutError extends ArborError {
  constructor(
    readonly helper: HelperName,
    readonly timeoutMs: number,
    readonly stderr: string,
  ) {
    super('internal', `${helper} timed out after ${timeoutMs} ms and was killed${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
  }
}

/**
 * DEFAULT_HELPER_TIMEOUT_MS is how long run() lets a helper take by default. A helper runs for
 * milliseconds; one that hangs (reading a container's /etc/passwd that is a FIFO) would keep
 * a slot of arbor-spawn forever, and with all 256 taken no create or run on the host works.
 */
export const DEFAULT_HELPER_TIMEOUT_MS = 30_000;

/** MAX_TIMEOUT_MS is the longest timeout setTimeout keeps (2^31-1 ms, about 24 days). */
const MAX_TIMEOUT_MS = 0x7fffffff;

export interface HelperRunnerOptions {
  /**
   * forkServer: run() starts helpers through arbor-spawn (in dir) when it is built, true by
   * default; false always uses Node's child_process.spawn.
   */
  forkServer?: boolean;
  /** timeoutMs is how long run() lets any helper take, DEFAULT_HELPER_TIMEOUT_MS (30 s) when not set. */
  timeoutMs?: number;
  /** helperTimeoutsMs overrides timeoutMs for some helpers, like { 'arbor-create': 60000 }. */
  helperTimeoutsMs?: Partial<Record<HelperName, number>>;
}

/** HelperRunOptions: timeoutMs overrides the runner's timeout for one call. */
export interface HelperRunOptions {
  timeoutMs?: number;
}

/** checkTimeout refuses a timeout setTimeout cannot keep: 1 ms to 2^31-1 ms, whole. */
function checkTimeout(ms: number, what: string): number {
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_TIMEOUT_MS) {
    throw new ArborError('invalidArgument', `${what}: timeout ${ms} ms must be a whole number of ms from 1 to ${MAX_TIMEOUT_MS}`);
  }
  return ms;
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
 *
 * Every run() has a timeout (30 s unless the options say otherwise). arbor-spawn then kills
 * the helper's process group: the helper and what it forked, not what it detached with
 * setsid. The Node spawn fallback kills the helper alone (Node cannot start a child in a
 * group of its own without making it a session leader) and stops waiting for its pipes.
 * No argument may hold a NUL: run() and spawnStreaming() refuse one before starting anything.
 */
export class HelperRunner {
  private server: SpawnServer | undefined;
  private serverBuilt: Promise<boolean> | undefined;
  private readonly forkServer: boolean;
  private readonly timeoutMs: number;
  private readonly helperTimeoutsMs: Partial<Record<HelperName, number>>;

  /** @throws ArborError 'invalidArgument' for a timeout that is not 1 ms to 2^31-1 ms */
  constructor(
    readonly dir: string = DEFAULT_HELPERS_DIR,
    options: HelperRunnerOptions = {},
  ) {
    this.forkServer = options.forkServer ?? true;
    this.timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS, 'HelperRunner');
    this.helperTimeoutsMs = {};
    for (const [name, ms] of Object.entries(options.helperTimeoutsMs ?? {})) {
      if (ms !== undefined) this.helperTimeoutsMs[name as HelperName] = checkTimeout(ms, `HelperRunner ${name}`);
    }
  }

  /** path is where helper name is, like /opt/arbor/native/build/arbor-exec (see helperPath). */
  path(name: HelperName): string {
    return helperPath(name, this.dir);
  }

  /**
   * run starts helper name with args, waits for it to end and returns its stdout.
   * @throws HelperError when it exits non-zero or by a signal (with its exit code and stderr)
   * @throws HelperTimeoutError when it takes longer than its timeout; it was killed
   * @throws ArborError 'resourceExhausted' when arbor-spawn runs SPAWN_SLOTS helpers already (nothing started)
   * @throws ArborError 'internal' when an argument holds a NUL (nothing started), or the helper cannot start
   */
  async run(name: HelperName, args: readonly string[], options: HelperRunOptions = {}): Promise<string> {
    checkArgv(name, [this.path(name), ...args]);
    const timeoutMs = options.timeoutMs === undefined ? (this.helperTimeoutsMs[name] ?? this.timeoutMs) : checkTimeout(options.timeoutMs, name);
    const server = await this.spawnServer();
    if (!server) return this.runWithNodeSpawn(name, args, timeoutMs);
    let result: SpawnResult;
    try {
      result = await server.run([this.path(name), ...args], { timeoutMs });
    } catch (err) {
      if (!(err instanceof CoprocessExitedError && err.startFailed)) throw err;
      // arbor-spawn cannot even start here, so the helper did not run: Node's spawn from now on
      this.serverBuilt = Promise.resolve(false);
      return this.runWithNodeSpawn(name, args, timeoutMs);
    }
    switch (result.outcome) {
      case 'exited':
        if (result.exitCode === 0) return result.stdout.toString('utf8');
        throw new HelperError(name, result.exitCode, result.stderr.toString('utf8'));
      case 'timedOut':
        throw new HelperTimeoutError(name, timeoutMs, result.stderr.toString('utf8'));
      case 'busy':
        throw new ArborError('resourceExhausted', `${name}: not started: arbor-spawn runs ${SPAWN_SLOTS} helpers already, its limit; try again once some end`);
      case 'refused':
        throw new ArborError('internal', `${name}: arbor-spawn refused the request (${errnoName(result.spawnErrno)}: over 4096 arguments or 4 MiB in all?)`);
      case 'notStarted': {
        const code = errnoName(result.spawnErrno);
        const hint = code === 'ENOENT' || code === 'EACCES' ? ' (build it with make -C native)' : '';
        throw new ArborError('internal', `${name}: cannot start ${this.path(name)}: ${code}${hint}`);
      }
    }
  }

  /** close ends the fork server once the helpers it runs have exited; a later run starts a new one. */
  close(): void {
    void this.server?.close();
  }

  /** spawnServer is the fork server (it starts a new arbor-spawn when the last died), or undefined when it is not built or not wanted. */
  private async spawnServer(): Promise<SpawnServer | undefined> {
    if (!this.forkServer) return undefined;
    const path = helperPath('arbor-spawn', this.dir);
    this.serverBuilt ??= access(path, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (!(await this.serverBuilt)) return undefined;
    this.server ??= new SpawnServer(path);
    return this.server;
  }

  private runWithNodeSpawn(name: HelperName, args: readonly string[], timeoutMs: number): Promise<string> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(this.path(name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        // what it forked may hold the pipes open: stop waiting for them
        child.stdout.destroy();
        child.stderr.destroy();
        reject(new HelperTimeoutError(name, timeoutMs, Buffer.concat(err).toString('utf8')));
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new ArborError('internal', `${name}: cannot start ${this.path(name)}: ${e.message} (build it with make -C native)`, { cause: e }));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolvePromise(Buffer.concat(out).toString('utf8'));
        else reject(new HelperError(name, code, Buffer.concat(err).toString('utf8')));
      });
    });
  }

  /**
   * spawnStreaming starts helper name with args and hands back the child, for helpers whose
   * stdin or stdout is a stream (arbor-tar). It has no timeout: a stream may rightly take long.
   * @throws ArborError 'internal' when an argument holds a NUL; nothing is started
   */
  spawnStreaming(
    name: HelperName,
    args: readonly string[],
  ): ChildProcess & { stdin: NodeJS.WritableStream; stdout: NodeJS.ReadableStream; stderr: NodeJS.ReadableStream } {
    checkArgv(name, [this.path(name), ...args]);
    return spawn(this.path(name), args, { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcess & {
      stdin: NodeJS.WritableStream;
      stdout: NodeJS.ReadableStream;
      stderr: NodeJS.ReadableStream;
    };
  }
}

/** errnoName is like 'ENOENT' for 2. */
function errnoName(errno: number): string {
  return Object.entries(osConstants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
}
