import { PassThrough, Readable } from 'node:stream';
import { probeScriptFile, steps } from '@arbor/probes';
import type { ProbeStep } from '@arbor/probes';
import { Collector, makeHarness, probe, request, runToEnd, start, type Harness } from '../testing';

// The fake's probe steps print what busybox 1.35's ash prints for the line each stands for
// (the expected texts were taken from busybox sh on a Debian host).
const {
  copyStdin,
  env,
  exit,
  ignoreTerm,
  line,
  list,
  makeDir,
  printArgs,
  printVar,
  pwd,
  readFile,
  setMode,
  sleep,
  spin,
  ttySize,
  uid,
  user,
  writeFile,
  zeros,
} = steps;

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.containerizer.destroy(h.handle);
});

const run = (s: ProbeStep[], extra = {}) => runToEnd(h, probe(s, extra));

describe('probe steps', () => {
  it('report id -u, whoami and pwd of the process', async () => {
    expect(await run([uid(), user(), pwd()])).toEqual({ code: 0, stdout: '0\nroot\n/root\n', stderr: '' });
    expect(await run([uid(), user(), pwd()], { user: 'vcap', dir: '/tmp' })).toEqual({ code: 0, stdout: '1000\nvcap\n/tmp\n', stderr: '' });
    expect(await run([user()], { user: '4242:4242' })).toEqual({ code: 1, stdout: '', stderr: 'whoami: unknown uid 4242\n' });
  });

  it('print the environment as NAME=value lines, and one variable', async () => {
    const r = await run([env(), printVar('COLOR'), printVar('UNSET')], { env: ['COLOR=blue'] });
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['COLOR=blue', 'USER=root', 'HOME=/root']));
    expect(r.stdout.endsWith('\nblue\n\n')).toBe(true);
  });

  it('print stty size as "rows cols", and fail as stty does without a terminal', async () => {
    expect(await run([ttySize()], { tty: { windowSize: { columns: 132, rows: 50 } } })).toEqual({ code: 0, stdout: '50 132\r\n', stderr: '' });
    expect(await run([ttySize()])).toEqual({ code: 1, stdout: '', stderr: 'stty: standard input: Inappropriate ioctl for device\n' });
  });

  it('write, append, read and list files, ls -1 sorted by byte and without dot files', async () => {
    const r = await run([
      makeDir('/tmp/d/e'),
      writeFile('/tmp/d/b', 'one'),
      steps.appendFile('/tmp/d/b', '+two'),
      writeFile('/tmp/d/A', ''),
      writeFile('/tmp/d/.h', ''),
      readFile('/tmp/d/b'),
      line(''),
      list('/tmp/d'),
      list('/tmp/d/b'),
    ]);
    expect(r).toEqual({ code: 0, stdout: 'one+two\nA\nb\ne\n/tmp/d/b\n', stderr: '' });
  });

  it('fail as cat, ls, mkdir, chmod and a redirection do: a stderr line and status 1, and go on', async () => {
    const r = await run([readFile('/nope'), readFile('/tmp'), list('/nope'), writeFile('/nope/f', 'x'), setMode('/nope', 0o700), line('went on')]);
    expect(r).toEqual({
      code: 0,
      stdout: 'went on\n',
      stderr: [
        "cat: can't open '/nope': No such file or directory",
        'cat: read error: Is a directory',
        'ls: /nope: No such file or directory',
        "sh: can't create /nope/f: nonexistent directory",
        'chmod: /nope: No such file or directory',
        '',
      ].join('\n'),
    });
    expect((await run([readFile('/nope')])).code).toBe(1);
  });

  it("deny what Linux denies another user: cat and ls of root's home", async () => {
    const r = await run([readFile('/root/x'), list('/root'), makeDir('/x'), setMode('/etc/passwd', 0o777)], { user: 'vcap', dir: '/tmp' });
    expect(r.stderr).toBe(
      "cat: can't open '/root/x': Permission denied\nls: can't open '/root': Permission denied\nmkdir: can't create directory '/x': Permission denied\nchmod: /etc/passwd: Operation not permitted\n",
    );
    expect(r.code).toBe(1);
  });

  it('copy stdin, print zeros, spin and print the args after the probe', async () => {
    const r = await runToEnd(h, probe([copyStdin(), zeros(3), spin(250_000), printArgs('arg=')], { probeArgs: ['a', 'b c'] }), {
      stdin: Readable.from([Buffer.from('in ')]),
    });
    expect(r).toEqual({ code: 0, stdout: 'in \0\0\0arg=a\narg=b c\n', stderr: '' });
  });

  it('exit with the code of exit, and stop there', async () => {
    expect(await run([exit(300 - 256), line('never')])).toEqual({ code: 44, stdout: '', stderr: '' });
  });

  it('ignore TERM from ignoreTerm on, but not KILL', async () => {
    const stdout = new Collector();
    const p = await start(h, probe([ignoreTerm(), line('ready'), sleep(5)]), { stdout, stdin: new PassThrough() });
    while (stdout.text === '') await new Promise((resolve) => setTimeout(resolve, 5));
    await p.signal('SIGTERM');
    await p.signal('SIGKILL');
    expect(await p.wait()).toBe(137);
  });

  it('run from a script file that carries them, with the script args', async () => {
    h.fs.writeFile('/tmp/probe.sh', probeScriptFile([printArgs(), exit(2)]), { mode: 0o644 });
    expect(await runToEnd(h, request({ path: 'sh', args: ['/tmp/probe.sh', 'x'] }))).toEqual({ code: 2, stdout: 'x\n', stderr: '' });
    expect((await runToEnd(h, request({ path: 'sh', args: ['/tmp/none'] }))).stderr).toBe("sh: can't open '/tmp/none': No such file or directory\n");
  });

  it('refuse a probe whose steps are not JSON steps with status 2', async () => {
    const r = await runToEnd(h, request({ path: 'sh', args: ['-c', 'x', 'arbor-probe:{"op":1}'] }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sh: probe: /);
  });
});
