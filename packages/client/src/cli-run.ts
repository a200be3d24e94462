// cli-run runs the arbor CLI on this process's arguments and stdio and exits with its code.
// cli.ts starts it from the bundle (bundle-cli.mjs makes dist/cli-bundle.js of this file).
import { runArborCli } from './arbor-cli';

// getters: process.stdin sets up a stream (a tty, pipe or file reader) the first time it is read
const stdio = {
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
};

// a reader that stops early (`arbor --help | head`, `arbor stream-out ... | tar t` that quits)
// ends the command quietly, as with other Unix tools, instead of an unhandled EPIPE
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(141);
  throw err;
});

runArborCli(process.argv.slice(2), stdio).then(
  (code) => {
    // let buffered output reach a pipe before exiting
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`arbor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
