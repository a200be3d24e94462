import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** ARBORD_MAIN is the built arbord, like /work/arbor/packages/server/dist/main.js. */
export const ARBORD_MAIN = resolve(__dirname, '..', '..', 'server', 'dist', 'main.js');

/** ArbordProcess is the real arbord binary running as a child process of the test. */
export interface ArbordProcess {
  /** pid is arbord's host pid. */
  pid: number;
  /** alive says the process has not exited. */
  alive(): boolean;
  /** terminate ends arbord with TERM, as systemd stops it (KILL after 10 s), and resolves once it has exited. */
  terminate(): Promise<void>;
  /** kill ends arbord with KILL, as a crash would, and resolves once it has exited. */
  kill(): Promise<void>;
}

export interface StartArbordOptions<T> {
  /** args are arbord's flags, like ['--backend', 'linux', '--listen', 'unix:///tmp/x/arbord.sock', ...]. */
  args: readonly string[];
  /**
   * ready probes whether arbord serves, like a Ping over the socket in args: it throws (or
   * rejects) until arbord answers, and its value is handed back with the process.
   */
  ready: () => Promise<T>;
  /** readyTimeoutMs bounds the wait for ready; 20 s by default. */
  readyTimeoutMs?: number;
  /** stdio is arbord's, by default ['ignore', 'ignore', 'inherit']: stdout dropped, stderr shown; longer to hand arbord more fds. */
  stdio?: StdioOptions;
}

/**
 * startArbordProcess runs ARBORD_MAIN with args (by default stderr shown, stdout dropped) and retries
 * ready every 100 ms until it resolves; if arbord exits first or the time runs out, arbord
 * is killed and ready's last failure is thrown.
 */
export async function startArbordProcess<T>(options: StartArbordOptions<T>): Promise<{ arbord: ArbordProcess; ready: T }> {
  if (!existsSync(ARBORD_MAIN)) throw new Error(`${ARBORD_MAIN} is missing: build @arbor/server first`);
  const child: ChildProcess = spawn(process.execPath, [ARBORD_MAIN, ...options.args], { stdio: options.stdio ?? ['ignore', 'ignore', 'inherit'] });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  let ready: T;
  for (;;) {
    try {
      ready = await options.ready();
      break;
    } catch (err) {
      if (Date.now() > deadline || exited) {
        child.kill('SIGKILL');
        throw err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  const arbord: ArbordProcess = {
    pid: child.pid ?? 0,
    alive: () => !exited,
    terminate: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
    kill: async () => {
      if (exited) return;
      child.kill('SIGKILL');
      await gone;
    },
  };
  return { arbord, ready };
}

/** expectAlive checks that arbord still runs and still answers ping (a call over one of its fronts): what every hostile test ends with. */
export async function expectAlive(arbord: { alive(): boolean; ping(): Promise<unknown> }): Promise<void> {
  expect(arbord.alive()).toBe(true);
  await expect(arbord.ping()).resolves.not.toThrow();
}
