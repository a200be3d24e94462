/**
 * A probe is what a contract test asks a process in a container to do, said as typed steps
 * instead of a shell script: print, exit with N, write and read files, sleep, report who and
 * where it is. Real backends get it as `sh -c '<script>'` (busybox's ash runs the script);
 * the fake backend reads the same steps back from `$0` and runs them from its own table, so
 * it needs no shell. One ProcessSpec serves every backend, in process and over gRPC.
 *
 * Steps run in order, as lines of a script do: a step that fails (a file that cannot be read)
 * says so on stderr and the next one runs; the exit status is the last step's, or `exit`'s.
 */

/** ProbeStep is one thing a probe does. Paths are the container's; relative ones are from the process's dir. */
export type ProbeStep =
  /** print writes text exactly (no newline added) to stdout, or stderr. */
  | { op: 'print'; text: string; stream?: 'stdout' | 'stderr' }
  /** zeros writes `bytes` zero bytes to stdout. */
  | { op: 'zeros'; bytes: number }
  /** copyStdin copies stdin to stdout until stdin ends. */
  | { op: 'copyStdin' }
  /** sleep waits `seconds` (fractions allowed). */
  | { op: 'sleep'; seconds: number }
  /** env prints the environment, a NAME=value line each. */
  | { op: 'env' }
  /** printVar prints the variable `name` and a newline (an empty line when unset). */
  | { op: 'printVar'; name: string }
  /** printArgs prints each of the process's arguments (after the probe) on a line of its own. */
  | { op: 'printArgs'; prefix?: string }
  /** uid, user and pwd print `id -u`, `whoami` and `pwd`, each with a newline. */
  | { op: 'uid' }
  | { op: 'user' }
  | { op: 'pwd' }
  /** ttySize prints the terminal's "rows columns" and a newline; fails without a terminal. */
  | { op: 'ttySize' }
  /** writeFile writes text to path, replacing it or adding to its end. */
  | { op: 'writeFile'; path: string; text: string; append?: boolean }
  /** readFile copies the file at path to stdout. */
  | { op: 'readFile'; path: string }
  /** makeDir makes path and any missing parents. */
  | { op: 'makeDir'; path: string }
  /** fillFile writes `mib` MiB of zeros to path, replacing it, as dd does: a disk-limit test's writer. */
  | { op: 'fillFile'; path: string; mib: number }
  /** remove removes the file at path; a missing one is no failure. */
  | { op: 'remove'; path: string }
  /** setMode sets the permission bits of path, like chmod: mode is a number such as 0o700. */
  | { op: 'setMode'; path: string; mode: number }
  /** list prints the names in the directory at path, sorted, a line each; fails when there is none. */
  | { op: 'list'; path: string }
  /** ignoreTerm makes SIGTERM do nothing to the process from here on. */
  | { op: 'ignoreTerm' }
  /** spin counts to `count` in a loop, to use some CPU. */
  | { op: 'spin'; count: number }
  /** exit ends the process with `code` (0-255). */
  | { op: 'exit'; code: number };

/** PROBE_TAG starts `$0` of a probe's shell: the steps follow it as JSON. */
export const PROBE_TAG = 'arbor-probe:';

/** SCRIPT_TAG starts the comment line that carries the steps in a probe written as a script file. */
const SCRIPT_TAG = `# ${PROBE_TAG}`;

/** ProbeCommand is a probe as the path and args of a ProcessSpec. */
export interface ProbeCommand {
  path: string;
  args: string[];
}

/** quote makes text one shell word, whatever it holds. */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** shellOf renders one step as a line of busybox ash. */
function shellOf(step: ProbeStep): string {
  switch (step.op) {
    case 'print':
      return `printf '%s' ${quote(step.text)}${step.stream === 'stderr' ? ' >&2' : ''}`;
    case 'zeros':
      return `head -c ${Math.trunc(step.bytes)} /dev/zero`;
    case 'copyStdin':
      return 'cat';
    case 'sleep':
      return `sleep ${Number(step.seconds)}`;
    case 'env':
      return 'env';
    case 'printVar':
      if (!VARIABLE_NAME.test(step.name)) throw new Error(`probe: ${JSON.stringify(step.name)} is not a variable name`);
      return `printf '%s\\n' "$${step.name}"`;
    case 'printArgs':
      return `for a in "$@"; do printf '%s%s\\n' ${quote(step.prefix ?? '')} "$a"; done`;
    case 'uid':
      return 'id -u';
    case 'user':
      return 'whoami';
    case 'pwd':
      return 'pwd';
    case 'ttySize':
      return 'stty size';
    case 'writeFile':
      return `printf '%s' ${quote(step.text)} ${step.append ? '>>' : '>'} ${quote(step.path)}`;
    case 'readFile':
      return `cat ${quote(step.path)}`;
    case 'makeDir':
      return `mkdir -p ${quote(step.path)}`;
    case 'fillFile':
      return `dd if=/dev/zero of=${quote(step.path)} bs=1048576 count=${Math.trunc(step.mib)}`;
    case 'remove':
      return `rm -f ${quote(step.path)}`;
    case 'setMode':
      if (!Number.isInteger(step.mode) || step.mode < 0 || step.mode > 0o7777) throw new Error(`probe: ${JSON.stringify(step.mode)} is not a file mode`);
      return `chmod ${step.mode.toString(8)} ${quote(step.path)}`;
    case 'list':
      return `ls -1 ${quote(step.path)}`;
    case 'ignoreTerm':
      return "trap '' TERM";
    case 'spin':
      return `i=0; while [ $i -lt ${Math.trunc(step.count)} ]; do i=$((i+1)); done`;
    case 'exit':
      return `exit ${Math.trunc(step.code)}`;
  }
}

/** probeScript renders steps as a shell script body, a line each. */
export function probeScript(steps: readonly ProbeStep[]): string {
  return steps.map(shellOf).join('\n');
}

/**
 * probeCommand renders steps as `sh -c '<script>' 'arbor-probe:<steps as JSON>' ...args`: the
 * shell ignores `$0` and the process's own args are `$1`... as in a script file.
 */
export function probeCommand(steps: readonly ProbeStep[], args: readonly string[] = []): ProbeCommand {
  return { path: 'sh', args: ['-c', probeScript(steps), PROBE_TAG + JSON.stringify(steps), ...args] };
}

/**
 * probeScriptFile renders steps as an executable `#!/bin/sh` script's content, for a test that
 * streams a program in and runs it. The steps ride along in a comment line for the fake.
 */
export function probeScriptFile(steps: readonly ProbeStep[]): string {
  return `#!/bin/sh\n${SCRIPT_TAG}${JSON.stringify(steps)}\n${probeScript(steps)}\n`;
}

/** DecodedProbe is a probe found in a process's argv: its steps and the args after it. */
export interface DecodedProbe {
  steps: ProbeStep[];
  args: string[];
}

/**
 * decodeProbeArgs finds a probe in the argv after `sh` (`-c`, script, `arbor-probe:...`,
 * args...), as probeCommand made it; undefined when the argv is not a probe's.
 * @throws Error when the tag is there but its JSON is not a list of steps
 */
export function decodeProbeArgs(shArgs: readonly string[]): DecodedProbe | undefined {
  const [flag, , tagged, ...args] = shArgs;
  if (flag !== '-c' || tagged === undefined || !tagged.startsWith(PROBE_TAG)) return undefined;
  return { steps: parseSteps(tagged.slice(PROBE_TAG.length)), args };
}

/** decodeProbeScript finds the steps in a script file's content, as probeScriptFile wrote it. */
export function decodeProbeScript(content: string): ProbeStep[] | undefined {
  const line = content.split('\n').find((l) => l.startsWith(SCRIPT_TAG));
  return line === undefined ? undefined : parseSteps(line.slice(SCRIPT_TAG.length));
}

function parseSteps(json: string): ProbeStep[] {
  const steps: unknown = JSON.parse(json);
  if (!Array.isArray(steps) || !steps.every((s) => typeof s === 'object' && s !== null && typeof (s as { op?: unknown }).op === 'string')) {
    throw new Error('probe: the steps are not a list of {op: ...}');
  }
  return steps as ProbeStep[];
}
