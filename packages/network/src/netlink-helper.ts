import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { ArborError } from '@arbor/core';

/** NetlinkError is a request the kernel refused; errno is like 17 (EEXIST). */
export class NetlinkError extends ArborError {
  constructor(readonly request: string, readonly errno: number, reason: string) {
    super('internal', `arbor-net: '${request}' failed: ${reason} (errno ${errno})`);
  }
}

interface Pending {
  request: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * findHelper (called once, at construction) locates the arbor-net binary: ARBOR_NET_HELPER, else native/arbor-net/arbor-net
 * in the repository this package sits in (like /work/main/native/arbor-net/arbor-net).
 */
export function findHelper(): string {
  const fromEnv = process.env['ARBOR_NET_HELPER'];
  if (fromEnv) return fromEnv;
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'native', 'arbor-net', 'arbor-net');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '../../../native/arbor-net/arbor-net');
}

/**
 * NetlinkHelper talks to arbor-net, a C coprocess doing rtnetlink (see native/arbor-net):
 * one line per request, one 'ok' or 'err <errno> <message>' line per reply, in order. The
 * process starts on first use and again after it dies; requests in flight then fail.
 */
export class NetlinkHelper {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending: Pending[] = [];
  private buffered = '';
  private stderr = '';

  /**
   * onLog gets each line the helper writes to stderr, like
   * '{"event":"unwire-failed","error":"..."}' from its reaper thread.
   */
  constructor(
    private readonly helperPath: string = findHelper(),
    private readonly onLog: (line: string) => void = () => undefined,
  ) {}

  /** request sends one request line, like 'del arbv0afe0002'. @throws NetlinkError */
  request(...tokens: Array<string | number>): Promise<void> {
    const line = tokens.join(' ');
    if (/[\n\r]/.test(line) || tokens.some((t) => String(t) === '' || /\s/.test(String(t)))) {
      return Promise.reject(new ArborError('internal', `arbor-net: malformed request '${line}'`));
    }
    const child = this.start();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ request: line, resolve, reject });
      child.stdin.write(`${line}\n`);
    });
  }

  /** close ends the coprocess; a later request starts it again. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.stdin.end();
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn(this.helperPath, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.buffered = '';
    this.stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onData(chunk));
    child.stderr.setEncoding('utf8');
    let partial = '';
    child.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-2000);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line) this.onLog(line);
    });
    child.stdin.on('error', () => undefined);
    child.on('error', (err: NodeJS.ErrnoException) =>
      this.onExit(
        err.code === 'ENOENT'
          ? `is not at ${this.helperPath}: build it with 'make -C native/arbor-net' or set ARBOR_NET_HELPER`
          : `cannot run: ${err.message}`,
      ),
    );
    child.on('close', (code, signal) => this.onExit(`exited with ${code ?? signal}${this.stderr ? `: ${this.stderr.trim()}` : ''}`));
    return child;
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const reply = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const waiting = this.pending.shift();
      if (!waiting) continue;
      if (reply === 'ok') {
        waiting.resolve();
        continue;
      }
      const m = /^err (\d+) (.*)$/.exec(reply);
      waiting.reject(new NetlinkError(waiting.request, Number(m?.[1] ?? 0), m?.[2] ?? reply));
    }
  }

  private onExit(why: string): void {
    if (!this.child) return;
    this.child = undefined;
    for (const waiting of this.pending.splice(0)) {
      waiting.reject(new ArborError('internal', `arbor-net: '${waiting.request}' got no answer: the helper ${why}`));
    }
  }
}
