// Test helpers for this package's specs: backend-fake's harness with the shell's programs, and
// ways to run a script in it.
import { makeHarness as makeFakeHarness, request, runToEnd, type Harness, type HarnessOptions, type RunResult } from '@arbor/backend-fake/testing';
import type { RunRequest } from '@arbor/core';
import { SHELL_PROGRAMS } from './shell-programs';

export { Collector, request, runToEnd, start } from '@arbor/backend-fake/testing';
export type { Harness, RunResult } from '@arbor/backend-fake/testing';

/** makeHarness is a fake container whose exec runs SHELL_PROGRAMS. */
export function makeHarness(options: Omit<HarnessOptions, 'programs'> = {}): Promise<Harness> {
  return makeFakeHarness({ ...options, programs: SHELL_PROGRAMS });
}

export function sh(script: string, extra: Partial<RunRequest> = {}): RunRequest {
  return request({ path: 'sh', args: ['-c', script], ...extra });
}

/** shell runs a script with sh -c and returns what it did. */
export function shell(h: Harness, script: string, extra: Partial<RunRequest> = {}): Promise<RunResult> {
  return runToEnd(h, sh(script, extra));
}
