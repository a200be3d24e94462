import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { decodeProbeArgs, decodeProbeScript, probeCommand, probeScriptFile } from './probe';
import { exit, line, print, printArgs, printVar, writeFile, readFile, setMode } from './steps';

describe('probes', () => {
  it('decode back to the steps and args they were made of', () => {
    const steps = [line('it\'s "quoted" $HOME'), exit(3)];
    const command = probeCommand(steps, ['a  b']);
    expect(command.path).toBe('sh');
    expect(decodeProbeArgs(command.args)).toEqual({ steps, args: ['a  b'] });
    expect(decodeProbeScript(probeScriptFile(steps))).toEqual(steps);
  });

  it('are not found in an argv that is not a probe', () => {
    expect(decodeProbeArgs(['-c', 'echo hi'])).toBeUndefined();
    expect(decodeProbeArgs(['script.sh', 'arbor-probe:[]'])).toBeUndefined();
    expect(decodeProbeScript('#!/bin/sh\necho hi\n')).toBeUndefined();
  });

  it('refuse a tag whose JSON is not a list of steps', () => {
    expect(() => decodeProbeArgs(['-c', 'x', 'arbor-probe:{"op":"exit"}'])).toThrow(/not a list/);
  });

  it('refuse a variable name that would be shell code', () => {
    expect(() => probeCommand([printVar('X; rm -rf /')])).toThrow(/not a variable name/);
  });

  it('refuse a mode that is not a file mode', () => {
    expect(() => probeCommand([setMode('/f', 0o10000)])).toThrow(/not a file mode/);
    expect(() => probeCommand([setMode('/f', 1.5)])).toThrow(/not a file mode/);
  });

  it('set a mode given as a number in octal, as chmod reads it', () => {
    const dir = execFileSync('mktemp', ['-d']).toString().trim();
    const command = probeCommand([writeFile(`${dir}/f`, ''), setMode(`${dir}/f`, 0o640)]);
    execFileSync(command.path, command.args);
    expect(statSync(`${dir}/f`).mode & 0o7777).toBe(0o640);
  });

  // the host's own sh stands in for the container's: the rendering must mean what the step says
  it('run in a POSIX shell as the steps say, quoting whatever the text holds', () => {
    const dir = execFileSync('mktemp', ['-d']).toString().trim();
    const tricky = 'a\'b "c" $HOME `x` \\n';
    const command = probeCommand(
      [print(tricky), print('to-err\n', 'stderr'), writeFile(`${dir}/f`, 'body'), readFile(`${dir}/f`), line(''), printArgs('arg='), printVar('COLOR')],
      ['one', 'two words'],
    );
    const out = execFileSync(command.path, command.args, { env: { COLOR: 'blue', PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'ignore'] });
    expect(out.toString()).toBe(`${tricky}body\narg=one\narg=two words\nblue\n`);
    let status = 0;
    try {
      execFileSync(probeCommand([exit(42)]).path, probeCommand([exit(42)]).args);
    } catch (err) {
      status = (err as { status: number }).status;
    }
    expect(status).toBe(42);
  });
});
