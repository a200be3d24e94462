import { BUSYBOX_MAGIC } from '../fs/default-rootfs';
import { FakeFilesystem, contentOf, type Credentials, type Inode } from '../fs/fake-filesystem';
import { FsError } from '../fs/fs-error';
import type { Program } from './proc';
import type { ProgramRunner } from './program-runner';

/** Executable is a file found for a command name, like /bin/cat for 'cat'. */
export interface Executable {
  /** path is the path to exec, as the kernel would get it: '/bin/cat' or './script'. */
  path: string;
  inode: Inode;
}

/** Loaded is what exec of a file runs: the program and the argv it gets. */
export interface Loaded {
  program: Program;
  argv: string[];
  /** name is the applet, like 'sh' for a '#!/bin/sh' script. */
  name: string;
}

/** MAX_INTERPRETER_DEPTH: how many '#!' hops exec follows, like the kernel's limit. */
const MAX_INTERPRETER_DEPTH = 4;

export function basename(path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  return parts[parts.length - 1] ?? '';
}

/**
 * findExecutable finds what command runs: a name with a '/' is a path (relative to cwd),
 * a bare name is looked up in PATH (searchPath, like '/usr/local/bin:/usr/bin:/bin').
 * @throws FsError ENOENT when nothing is found, EACCES when what is found may not be executed
 */
export function findExecutable(fs: FakeFilesystem, name: string, searchPath: string, cwd: string, cred: Credentials): Executable {
  if (name === '') throw new FsError('ENOENT', name);
  if (name.includes('/')) {
    const found = fs.resolve(name, { cwd, cred });
    checkExecutable(fs, found.inode, cred, name);
    return { path: name, inode: found.inode };
  }
  let denied: FsError | undefined;
  for (const dir of searchPath.split(':')) {
    const path = FakeFilesystem.join(dir === '' ? '.' : dir, name);
    try {
      const found = fs.resolve(path, { cwd, cred });
      checkExecutable(fs, found.inode, cred, path);
      return { path, inode: found.inode };
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      if (err.code === 'EACCES') denied = err;
    }
  }
  throw denied ?? new FsError('ENOENT', name);
}

function checkExecutable(fs: FakeFilesystem, inode: Inode, cred: Credentials, path: string): void {
  if (inode.kind !== 'file' || !fs.canAccess(inode, cred, 'x')) throw new FsError('EACCES', path);
}

/**
 * loadProgram decides what exec of file runs, as the kernel and busybox would: a '#!'
 * script runs its interpreter with the script's path; a busybox binary runs the applet
 * its argv[0] names, from programs. Anything else cannot be run by the fake.
 * @throws FsError ENOEXEC for a file that is neither, ENOENT/EACCES for a bad interpreter
 */
export function loadProgram(fs: FakeFilesystem, programs: ProgramRunner, exe: Executable, argv: string[], cwd: string, cred: Credentials, depth = 0): Loaded {
  if (exe.inode.kind !== 'file') throw new FsError('EACCES', exe.path);
  const head = contentOf(exe.inode).subarray(0, 256).toString('latin1');
  if (head.startsWith('#!')) {
    if (depth >= MAX_INTERPRETER_DEPTH) throw new FsError('ELOOP', exe.path);
    const line = (head.slice(2).split('\n')[0] ?? '').trim();
    const space = line.search(/[ \t]/);
    const interpreter = space < 0 ? line : line.slice(0, space);
    const arg = space < 0 ? '' : line.slice(space).trim();
    if (interpreter === '') throw new FsError('ENOEXEC', exe.path);
    const found = fs.resolve(interpreter, { cwd, cred });
    checkExecutable(fs, found.inode, cred, interpreter);
    const interpArgv = [interpreter, ...(arg ? [arg] : []), exe.path, ...argv.slice(1)];
    return loadProgram(fs, programs, { path: interpreter, inode: found.inode }, interpArgv, cwd, cred, depth + 1);
  }
  if (head.startsWith(BUSYBOX_MAGIC)) {
    const name = basename(argv[0] ?? exe.path);
    const program = programs.program(name);
    if (program) return { program, argv, name };
  }
  throw new FsError('ENOEXEC', exe.path);
}
