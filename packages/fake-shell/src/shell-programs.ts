import type { ProgramRunner } from '@arbor/backend-fake';
import { APPLETS } from './applets/applets';

/**
 * SHELL_PROGRAMS is a ProgramRunner for demos of the fake backend: a busybox-like `sh` (with
 * pipes, redirections, traps, here-documents) and applets (cat, ls, grep, sleep, ...) that
 * print what busybox 1.35 prints for common command lines. Probes are not special here: they
 * are shell scripts, and this sh runs them as such.
 */
export const SHELL_PROGRAMS: ProgramRunner = {
  program: (name) => APPLETS.get(name),
};
