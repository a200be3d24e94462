import { Proc, type ProcInit } from '@arbor/backend-fake';

/** procWith returns a Proc that differs from proc in the given fields (a builtin, an exec, a child). */
export function procWith(proc: Proc, change: Partial<ProcInit>): Proc {
  const { kernel, task, name, argv, env, cwd, user, fds, tty, rlimits } = proc;
  return new Proc({ kernel, task, name, argv, env, cwd, user, fds, tty, rlimits, ...change });
}
