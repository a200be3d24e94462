import { contentOf, FsError, type Program } from '@arbor/backend-fake';
import { SHELL_BUILTINS } from './builtins';
import { Shell, registerBuiltins } from './shell';

registerBuiltins(SHELL_BUILTINS);

/**
 * sh [-ex] -c SCRIPT [ARG0 [ARG]...] | sh [-ex] FILE [ARG]... | sh [-s]: the fake busybox
 * shell. With no script it reads commands from stdin, with a prompt on a terminal.
 */
export const sh: Program = async (proc) => {
  const name = proc.argv[0] ?? 'sh';
  const fail = async (message: string): Promise<number> => {
    await proc.err(`${name}: ${message}\n`);
    return 2;
  };
  const args = proc.args;
  let command = false;
  let errexit = false;
  let xtrace = false;
  let fromStdin = false;
  while (args.length > 0 && /^[-+][a-zA-Z]+$/.test(args[0] as string)) {
    const flag = args.shift() as string;
    for (const c of flag.slice(1)) {
      if (c === 'c') command = true;
      else if (c === 'e') errexit = flag.startsWith('-');
      else if (c === 'x') xtrace = flag.startsWith('-');
      else if (c === 's') fromStdin = true;
      else if (!'il'.includes(c)) {
        return fail(`-${c}: invalid option`);
      }
    }
  }
  if (args[0] === '--' || args[0] === '-') args.shift();
  if (command) {
    const script = args.shift();
    if (script === undefined) {
      return fail('-c requires an argument');
    }
    const arg0 = args.shift() ?? name;
    const shell = new Shell(proc, { arg0, positional: args, errexit, xtrace });
    shell.commandMode = true;
    return shell.runScript(script);
  }
  if (args.length > 0 && !fromStdin) {
    const file = args.shift() as string;
    let script: string;
    try {
      const found = proc.fs.resolve(file, { cwd: proc.cwd, cred: proc.cred });
      if (found.inode.kind !== 'file') throw new FsError(found.inode.kind === 'dir' ? 'EISDIR' : 'EACCES', file);
      if (!proc.fs.canAccess(found.inode, proc.cred, 'r')) throw new FsError('EACCES', file);
      script = contentOf(found.inode).toString('utf8');
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      return fail(`can't open '${file}': ${err.strerror}`);
    }
    return new Shell(proc, { arg0: file, positional: args, errexit, xtrace }).runScript(script);
  }
  return new Shell(proc, { arg0: name, positional: args, errexit, xtrace }).runInteractive();
};
