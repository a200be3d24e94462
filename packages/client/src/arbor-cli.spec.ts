// createArborCli builds only the command its argv names (start-up, issue #15); these check
// which word it takes for the command and that everything else still gets every command.
import { PassThrough } from 'node:stream';
import { createArborCli, runArborCli } from './arbor-cli';

const stdio = () => ({ stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() });
const built = (argv?: string[]): string[] => createArborCli(stdio(), argv).commands.map((c) => c.name());
const ALL = built();

test('without argv, and for argv that names no single command, every command is built', () => {
  expect(ALL.length).toBeGreaterThan(25);
  expect(ALL).toEqual(expect.arrayContaining(['ping', 'create', 'run', 'destroy', 'completion']));
  for (const argv of [[], ['--help'], ['-h', 'ping'], ['help', 'ping'], ['pign'], ['completion', 'bash'], ['--json'], ['--', 'ping']]) {
    expect(built(argv)).toEqual(ALL);
  }
});

test.each([
  [['ping'], 'ping'],
  [['--json', 'ping'], 'ping'],
  [['-a', 'unix:///tmp/a.sock', 'list'], 'list'],
  [['--address', 'ping', 'list'], 'list'],
  [['--address=host:7777', 'info', 'web-1'], 'info'],
  [['--tls-ca', 'ca.pem', '--tls-cert', 'c.pem', '--tls-key', 'k.pem', 'run', 'web-1', '--', 'ping'], 'run'],
  [['ping', '--help'], 'ping'],
])('argv %j builds only %s', (argv, name) => {
  expect(built(argv)).toEqual([name]);
});

test("a command's help is the same built alone as among all", async () => {
  const helpOf = async (argv: string[], alone: boolean): Promise<string> => {
    const io = stdio();
    let out = '';
    io.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // runArborCli builds for its argv; createArborCli without argv builds all, the way it did before
    const program = alone ? undefined : createArborCli(io);
    if (program) {
      program.exitOverride();
      program.configureOutput({ writeOut: (s) => void io.stdout.write(s) });
      for (const cmd of program.commands) cmd.exitOverride().configureOutput({ writeOut: (s) => void io.stdout.write(s) });
      await program.parseAsync(argv, { from: 'user' }).catch(() => undefined);
    } else {
      expect(await runArborCli(argv, io)).toBe(0);
    }
    return out;
  };
  for (const command of ['run', 'create', 'stream-out']) {
    const alone = await helpOf([command, '--help'], true);
    expect(alone).toContain(`Usage: arbor ${command}`);
    expect(alone).toBe(await helpOf([command, '--help'], false));
  }
});
