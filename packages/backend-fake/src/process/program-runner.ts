import type { Program } from './proc';

/**
 * ProgramRunner is the table of programs a fake container's exec runs: every command in the
 * rootfs's /bin is a link to the fake busybox, and exec of one (or of a `#!/bin/sh` script)
 * runs the program its name says. The fake's own table, PROBE_PROGRAMS, runs the contract
 * suite's probes (@arbor/probes) and nothing else; @arbor/fake-shell's runs a busybox-like
 * `sh` and applets for demos. Give one to the module through FAKE_PROGRAM_RUNNER.
 */
export interface ProgramRunner {
  /** program returns what exec of the busybox link `name` (like 'sh') runs; undefined makes exec fail as ENOEXEC. */
  program(name: string): Program | undefined;
}
