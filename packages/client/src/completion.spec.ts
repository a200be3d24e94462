import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { itIf } from '@arbor/testkit';
import { createArborCli, runArborCli } from './arbor-cli';
import { completionScript } from './completion';

const stdio = () => ({ stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() });
const program = createArborCli(stdio());
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'arbor-completion-'));
  writeFileSync(join(dir, 'arbor.bash'), completionScript(program, 'bash'));
  writeFileSync(join(dir, 'arbor.zsh'), completionScript(program, 'zsh'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** complete runs the bash script on a command line, the last word being completed, and returns COMPREPLY. */
function complete(...line: string[]): string[] {
  const words = line.map((w) => `'${w}'`).join(' ');
  const script = `source ${dir}/arbor.bash; COMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _arbor; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  return result.stdout.split('\n').filter((w) => w !== '');
}

describe('arbor completion bash', () => {
  it('completes command names', () => {
    expect(complete('arbor', 'cre')).toEqual(['create']);
    expect(complete('arbor', 'limit')).toEqual(['limit-bandwidth', 'limit-cpu', 'limit-disk', 'limit-memory', 'limit-pids', 'limits']);
  });

  it("completes a command's flags, and the global flags before a command", () => {
    expect(complete('arbor', 'create', '--me')).toEqual(['--memory']);
    expect(complete('arbor', 'run', 'web-1', '--t')).toEqual(['--tty']);
    expect(complete('arbor', '--js')).toEqual(['--json']);
  });

  it("skips a global flag's value when finding the command", () => {
    expect(complete('arbor', '--address', '/tmp/a.sock', 'li')).toEqual([
      'list',
      'limit-bandwidth',
      'limit-cpu',
      'limit-disk',
      'limit-memory',
      'limit-pids',
      'limits',
    ]);
    expect(complete('arbor', '-a', 'host:7777', 'stop', '--k')).toEqual(['--kill']);
  });

  it('knows every command of the CLI, from its own command list', () => {
    for (const command of program.commands) expect(complete('arbor', command.name())).toContain(command.name());
  });
});

describe('arbor completion zsh', () => {
  it('names every command with its description, and every flag', () => {
    const script = completionScript(program, 'zsh');
    for (const command of program.commands) {
      expect(script).toContain(`'${command.name()}:`);
      for (const option of command.options) expect(script).toContain(option.long ?? '');
    }
  });

  itIf({ commands: ['zsh'] })('parses in zsh', () => {
    expect(spawnSync('zsh', ['-n', join(dir, 'arbor.zsh')], { encoding: 'utf8' })).toMatchObject({ status: 0, stderr: '' });
  });
});

describe('arbor --help', () => {
  it.each(program.commands.map((c) => c.name()))('%s --help ends with examples', async (name) => {
    const io = stdio();
    let out = '';
    io.stdout.on('data', (d: Buffer) => (out += d.toString()));
    expect(await runArborCli([name, '--help'], io)).toBe(0);
    expect(out).toMatch(/\nExamples?:\n {2}(arbor|source|tar|echo) /);
  });

  it('refuses a shell it has no script for', async () => {
    const io = stdio();
    let err = '';
    io.stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await runArborCli(['completion', 'fish'], io)).toBe(2);
    expect(err).toMatch(/Allowed choices are bash, zsh/);
  });
});
