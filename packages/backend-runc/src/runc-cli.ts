import { execFile, execFileSync, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArborError, HostPreconditionError } from '@arbor/core';

/** MIN_RUNC_VERSION: seccomp errnoRet and --log-format json need runc 1.0 or later. */
export const MIN_RUNC_VERSION = [1, 0, 0] as const;

/** RuncError is a runc command that failed, with what runc said. */
export class RuncError extends ArborError {
  constructor(
    readonly command: string,
    readonly stderr: string,
  ) {
    super('internal', `runc ${command}: ${stderr.trim() || 'failed without a message'}`);
  }
}

/**
 * RuncCli runs the runc binary with one state root (like /var/lib/arbor/runc), so the
 * containers of one arbord are runc's containers under that root and nothing else.
 */
export class RuncCli {
  constructor(
    readonly binary: string,
    readonly root: string,
  ) {}

  /**
   * run starts the bundle's init detached and writes its host pid to pidFile. The init keeps
   * runc's stdio, so runc gets /dev/null and tells its errors through a log in the bundle.
   */
  async run(id: string, bundle: string, pidFile: string): Promise<void> {
    const log = join(bundle, 'runc.log');
    const args = ['--root', this.root, '--log', log, '--log-format', 'json', 'run', '--detach', '--bundle', bundle, '--pid-file', pidFile, id];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(this.binary, args, { stdio: 'ignore' });
      child.on('error', (err: NodeJS.ErrnoException) => reject(this.startError(err) ?? err));
      child.on('close', resolve);
    });
    if (code !== 0) throw new RuncError('run', lastLoggedError(await readFile(log, 'utf8').catch(() => '')));
  }

  /** delete kills every process of the container and removes it; a container runc does not know is fine. */
  async delete(id: string): Promise<void> {
    try {
      await this.exec('delete', ['delete', '--force', id]);
    } catch (err) {
      if (err instanceof RuncError && /does not exist|not exist/.test(err.stderr)) return;
      throw err;
    }
  }

  async update(id: string, flags: string[]): Promise<void> {
    if (flags.length > 0) await this.exec('update', ['update', ...flags, id]);
  }

  /** list names the containers under this root. */
  async list(): Promise<string[]> {
    const out = await this.exec('list', ['list', '--format', 'json']);
    const parsed = JSON.parse(out.trim() || 'null') as { id: string }[] | null;
    return (parsed ?? []).map((c) => c.id);
  }

  /** startError is a runc that cannot be started (gone, or not executable since arbord started) as the host's fault; undefined for anything else. */
  private startError(err: { code?: string | number | null | undefined }): HostPreconditionError | undefined {
    if (err.code !== 'ENOENT' && err.code !== 'EACCES') return undefined;
    return new HostPreconditionError(`runc backend: cannot run ${this.binary} (${err.code}): install runc 1.0 or later, or set runc.binary`, { cause: err });
  }

  private exec(command: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.binary, ['--root', this.root, ...args], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(this.startError(err) ?? new RuncError(command, stderr || err.message));
        else resolve(stdout);
      });
    });
  }
}

/**
 * checkRuncVersion runs `runc --version` once, at start.
 * @throws ArborError (failedPrecondition) saying that runc is missing or too old, and how to fix it
 */
export function checkRuncVersion(binary: string): string {
  let out: string;
  try {
    out = execFileSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new ArborError(
      'failedPrecondition',
      `runc backend: cannot run '${binary}' (${(err as Error).message.split('\n')[0]}): install runc (apt-get install runc) or set runcBinary`,
    );
  }
  const match = /runc version (\d+)\.(\d+)\.(\d+)/.exec(out);
  if (!match) throw new ArborError('failedPrecondition', `runc backend: '${binary} --version' did not print a runc version: ${out.trim()}`);
  const version = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (compareVersions(version, MIN_RUNC_VERSION) < 0) {
    throw new ArborError('failedPrecondition', `runc backend: runc ${version.join('.')} is too old; ${MIN_RUNC_VERSION.join('.')} or later is needed`);
  }
  return version.join('.');
}

export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** lastLoggedError is the message of the last error line in a runc JSON log. */
export function lastLoggedError(log: string): string {
  let message = '';
  for (const line of log.split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) message = entry.msg;
    } catch {
      // a partial line
    }
  }
  return message;
}
