import { decodeProbeArgs, decodeProbeScript, type ProbeStep } from '@arbor/probes';
import { contentOf } from '../fs/fake-filesystem';
import { FsError } from '../fs/fs-error';
import { userName } from '../fs/users';
import type { Proc, Program } from './proc';
import type { ProgramRunner } from './program-runner';
import { deviceSource, fileSource, type ByteSource } from './streams';

type Op = ProbeStep['op'];
/** StepProgram runs one step as proc and gives its status; args are the probe's own ($1...). */
type StepProgram<O extends Op> = (proc: Proc, step: Extract<ProbeStep, { op: O }>, args: readonly string[]) => Promise<number>;

/** SPIN_SLICE: how many counts spin does between yields, so that a signal can end it. */
const SPIN_SLICE = 100_000;

/**
 * STEPS run each probe step as the line of busybox ash that @arbor/probes renders for it
 * would: the same output, the same stderr line and status when it fails.
 */
const STEPS: { [O in Op]: StepProgram<O> } = {
  print: (proc, step) => write(proc, step.text, step.stream === 'stderr' ? 2 : 1),
  zeros: (proc, step) => write(proc, Buffer.alloc(Math.max(0, Math.trunc(step.bytes)))),
  copyStdin: async (proc) => copy(proc, { read: () => proc.read(0) }),
  sleep: async (proc, step) => {
    await proc.sleep(step.seconds * 1000);
    return 0;
  },
  env: (proc) => write(proc, [...proc.env].map(([name, value]) => `${name}=${value}\n`).join('')),
  printVar: (proc, step) => write(proc, `${proc.env.get(step.name) ?? ''}\n`),
  printArgs: (proc, step, args) => write(proc, args.map((a) => `${step.prefix ?? ''}${a}\n`).join('')),
  uid: (proc) => write(proc, `${proc.user.uid}\n`),
  user: async (proc) => {
    const name = userName(proc.fs, proc.user.uid);
    return name === undefined ? fail(proc, `whoami: unknown uid ${proc.user.uid}`) : write(proc, `${name}\n`);
  },
  pwd: (proc) => write(proc, `${proc.cwd}\n`),
  ttySize: async (proc) => {
    // without a terminal tcgetattr fails with ENOTTY, which stty reports with perror
    if (!proc.isTty(0) || !proc.tty) return fail(proc, 'stty: standard input: Inappropriate ioctl for device');
    return write(proc, `${proc.tty.rows} ${proc.tty.columns}\n`);
  },
  writeFile: (proc, step) =>
    attempt(
      proc,
      // ash's words for a redirection into a missing directory
      (e) => `sh: can't create ${step.path}: ${e.code === 'ENOENT' || e.code === 'ENOTDIR' ? 'nonexistent directory' : e.strerror}`,
      () => {
        const file = proc.fs.openForWrite(step.path, { cwd: proc.cwd, cred: proc.cred, mode: 0o644, append: step.append === true });
        if (file.kind === 'file') proc.fs.append(file, Buffer.from(step.text), step.path);
      },
    ),
  fillFile: (proc, step) =>
    attempt(
      proc,
      // dd's words when the file cannot be opened or take the bytes (quota, disk limit)
      (e) => `dd: ${e.code === 'ENOSPC' ? 'error writing' : "can't open"} '${step.path}': ${e.strerror}`,
      () => {
        const file = proc.fs.openForWrite(step.path, { cwd: proc.cwd, cred: proc.cred, mode: 0o644, append: false });
        if (file.kind === 'file') proc.fs.append(file, Buffer.alloc(Math.max(0, Math.trunc(step.mib)) * 1024 * 1024), step.path);
      },
    ),
  remove: (proc, step) =>
    attempt(
      proc,
      (e) => `rm: can't remove '${step.path}': ${e.strerror}`,
      () => {
        try {
          proc.fs.unlink(step.path, { cwd: proc.cwd, cred: proc.cred });
        } catch (err) {
          if (!(err instanceof FsError && err.code === 'ENOENT')) throw err;
        }
      },
    ),
  readFile: async (proc, step) => {
    let source: ByteSource;
    try {
      const { inode } = proc.fs.resolve(step.path, { cwd: proc.cwd, cred: proc.cred });
      if (!proc.fs.canAccess(inode, proc.cred, 'r')) throw new FsError('EACCES', step.path);
      if (inode.kind === 'dir') return fail(proc, `cat: read error: Is a directory`);
      if (inode.kind === 'symlink') throw new FsError('ELOOP', step.path);
      source = inode.kind === 'file' ? fileSource(inode) : deviceSource(inode);
    } catch (err) {
      return fail(proc, `cat: can't open '${step.path}': ${fsError(err).strerror}`);
    }
    return copy(proc, source);
  },
  makeDir: (proc, step) =>
    attempt(
      proc,
      (e) => `mkdir: can't create directory '${step.path}': ${e.strerror}`,
      () => proc.fs.mkdirp(step.path, 0o755, { cwd: proc.cwd, cred: proc.cred }),
    ),
  setMode: (proc, step) =>
    attempt(
      proc,
      (e) => `chmod: ${step.path}: ${e.strerror}`,
      () => {
        proc.fs.chmod(proc.fs.resolve(step.path, { cwd: proc.cwd, cred: proc.cred }).inode, step.mode, proc.cred, step.path);
      },
    ),
  list: async (proc, step) => {
    let names: string[];
    try {
      const { inode } = proc.fs.resolve(step.path, { cwd: proc.cwd, cred: proc.cred });
      if (inode.kind !== 'dir') names = [step.path];
      else if (!proc.fs.canAccess(inode, proc.cred, 'r')) return fail(proc, `ls: can't open '${step.path}': Permission denied`);
      else names = [...inode.entries.keys()].filter((n) => !n.startsWith('.'));
    } catch (err) {
      return fail(proc, `ls: ${step.path}: ${fsError(err).strerror}`);
    }
    // busybox sorts by byte value in the C locale
    return write(
      proc,
      names
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        .map((n) => `${n}\n`)
        .join(''),
    );
  },
  ignoreTerm: async (proc) => {
    proc.task.setDisposition('SIGTERM', 'ignore');
    return 0;
  },
  spin: async (proc, step) => {
    for (let i = 0; i < step.count; i += SPIN_SLICE) {
      await proc.task.block(new Promise((resolve) => setImmediate(resolve)));
    }
    return 0;
  },
  exit: async (_proc, step) => step.code & 255,
};

/** copy writes source to stdout until it ends; a failed read is cat's 'read error', status 1. */
async function copy(proc: Proc, source: ByteSource): Promise<number> {
  for (;;) {
    let chunk: Buffer | null;
    try {
      chunk = await proc.task.block(source.read());
    } catch (err) {
      return fail(proc, `cat: read error: ${fsError(err).strerror}`);
    }
    if (chunk === null) return 0;
    await proc.out(chunk);
  }
}

/** write writes text to fd (stdout) and gives status 0. */
async function write(proc: Proc, text: string | Buffer, fd = 1): Promise<number> {
  await proc.write(fd, text);
  return 0;
}

/** attempt makes a change to the filesystem: status 0, or 1 and the message for its FsError. */
async function attempt(proc: Proc, message: (e: FsError) => string, change: () => unknown): Promise<number> {
  try {
    change();
    return 0;
  } catch (err) {
    return fail(proc, message(fsError(err)));
  }
}

async function fail(proc: Proc, message: string): Promise<number> {
  await proc.err(`${message}\n`);
  return 1;
}

/** fsError returns err when it is an FsError and rethrows anything else (a kill unwinding). */
function fsError(err: unknown): FsError {
  if (err instanceof FsError) return err;
  throw err;
}

/** runSteps runs steps in order, as a script's lines: the status is the last step's, or exit's. */
export async function runSteps(proc: Proc, steps: readonly ProbeStep[], args: readonly string[]): Promise<number> {
  let status = 0;
  for (const step of steps) {
    const run = STEPS[step.op] as StepProgram<Op> | undefined;
    if (!run) return fail(proc, `sh: the fake backend has no probe step '${String(step.op)}'`);
    try {
      status = await run(proc, step, args);
    } catch (err) {
      // a write to a closed or full stdout/stderr: the step fails, as printf's does
      fsError(err);
      status = 1;
    }
    if (step.op === 'exit') return status;
  }
  return status;
}

const PROBES_ONLY =
  'the fake backend runs probes (@arbor/probes) only: for a shell, serve it with the demo shell (arbord --fake-shell) or bind @arbor/fake-shell';

/** notAProbe is what anything but a probe gets: 127, as for a command that is not there. */
async function notAProbe(proc: Proc): Promise<number> {
  await proc.err(`${proc.name}: ${PROBES_ONLY}\n`);
  return 127;
}

/**
 * probeShell is the fake's `sh`: `sh -c <script> arbor-probe:<steps> args...` runs the steps
 * from $0, `sh <script file> args...` the steps a probeScriptFile carries, with its args.
 */
const probeShell: Program = async (proc) => {
  const [first, ...rest] = proc.args;
  try {
    if (first === '-c') {
      const probe = decodeProbeArgs(proc.args);
      return probe ? await runSteps(proc, probe.steps, probe.args) : await notAProbe(proc);
    }
    if (first === undefined || first.startsWith('-')) return await notAProbe(proc);
    let content: string;
    try {
      const { inode } = proc.fs.resolve(first, { cwd: proc.cwd, cred: proc.cred });
      if (inode.kind !== 'file' || !proc.fs.canAccess(inode, proc.cred, 'r')) throw new FsError(inode.kind === 'dir' ? 'EISDIR' : 'EACCES', first);
      content = contentOf(inode).toString('utf8');
    } catch (err) {
      return await fail(proc, `sh: can't open '${first}': ${fsError(err).strerror}`);
    }
    const steps = decodeProbeScript(content);
    return steps ? await runSteps(proc, steps, rest) : await notAProbe(proc);
  } catch (err) {
    if (err instanceof SyntaxError || (err instanceof Error && err.message.startsWith('probe:'))) {
      await proc.err(`sh: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
};

/** PROBE_PROGRAMS is the fake's default ProgramRunner: `sh` runs probes; every other command says the fake runs probes only and exits 127. */
export const PROBE_PROGRAMS: ProgramRunner = {
  program: (name) => (name === 'sh' ? probeShell : notAProbe),
};
