import { eventually } from '@arbor/testkit';
import { Collector, makeHarness, request, runToEnd, sh, shell, start, type Harness } from '../shell-harness.testkit';

// The fake sh and applets must print what busybox prints for the same command lines.

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.containerizer.destroy(h.handle);
});

describe('the fake sh', () => {
  it.each([
    ['echo one; echo two', 'one\ntwo\n'],
    ['echo -n no-newline', 'no-newline'],
    ['echo -e "a\\tb\\nc"', 'a\tb\nc\n'],
    ['echo "a\\tb"', 'a\\tb\n'],
    ['echo \'single $HOME\' "double $HOME"', 'single $HOME double /root\n'],
    ['X=1; echo $X ${X}y "$X"z', '1 1y 1z\n'],
    ['echo a  "b  c"   d', 'a b  c d\n'],
    ['false; echo $?; true; echo $?', '1\n0\n'],
    ['true && echo and; false && echo not; false || echo or', 'and\nor\n'],
    ['echo ${UNSET:-fallback} ${#HOME} ${HOME:+set}', 'fallback 5 set\n'],
    ['echo $(echo inner) `echo back`', 'inner back\n'],
    ['echo $((2 + 3 * 4)) $((7 / 2)) $((7 % 3))', '14 3 1\n'],
    ['if [ 1 -lt 2 ]; then echo yes; else echo no; fi', 'yes\n'],
    ['for w in a b c; do echo $w; done', 'a\nb\nc\n'],
    ['i=0; while [ $i -lt 3 ]; do echo $i; i=$((i + 1)); done', '0\n1\n2\n'],
    ['i=0; until [ $i -ge 2 ]; do i=$((i + 1)); done; echo $i', '2\n'],
    ['for i in 1 2 3 4; do if [ $i = 3 ]; then break; fi; echo $i; done', '1\n2\n'],
    ['case hello in h*) echo starts-with-h;; *) echo other;; esac', 'starts-with-h\n'],
    ['echo hello | tr a-z A-Z', 'HELLO\n'],
    ['{ echo grouped; echo twice; } | wc -l', '2\n'],
    ['(cd /tmp; pwd); pwd', '/tmp\n/root\n'],
    ['set -- x y z; echo $# $2 "$@"', '3 y x y z\n'],
    ['echo /bin/ech* "/bin/ech*"', '/bin/echo /bin/ech*\n'],
    ['! false; echo $?', '0\n'],
  ])('%s', async (script, stdout) => {
    expect(await shell(h, script)).toEqual({ code: 0, stdout, stderr: '' });
  });

  it('exits with the code exit gives, and stops there', async () => {
    expect(await shell(h, 'echo before; exit 7; echo after')).toEqual({ code: 7, stdout: 'before\n', stderr: '' });
  });

  it('exits with the status of the last command', async () => {
    expect((await shell(h, 'true; false')).code).toBe(1);
  });

  it('sends >&2 and 1>&2 to stderr, and 2>&1 to stdout', async () => {
    expect(await shell(h, 'echo out; echo err >&2; echo err2 1>&2; echo both 2>&1 >&2')).toEqual({
      code: 0,
      stdout: 'out\nboth\n',
      stderr: 'err\nerr2\n',
    });
    expect((await shell(h, 'cat /nope 2>&1')).stdout).toBe("cat: can't open '/nope': No such file or directory\n");
  });

  it('writes, appends and reads files with > >> <', async () => {
    const r = await shell(h, 'echo one > /tmp/f; echo two >> /tmp/f; cat < /tmp/f; echo three > /tmp/f; cat /tmp/f');
    expect(r.stdout).toBe('one\ntwo\nthree\n');
  });

  it('reports an unknown command as busybox does: "sh: foo: not found", 127', async () => {
    expect(await shell(h, 'no-such-command-xyz; echo $?')).toEqual({
      code: 0,
      stdout: '127\n',
      stderr: 'sh: no-such-command-xyz: not found\n',
    });
  });

  it('refuses a file without execute permission with 126', async () => {
    const r = await shell(h, 'echo "echo hi" > /tmp/s; /tmp/s; echo $?');
    expect(r).toEqual({ code: 0, stdout: '126\n', stderr: 'sh: /tmp/s: Permission denied\n' });
  });

  it('runs an executable #!/bin/sh script from the filesystem, with its arguments', async () => {
    h.fs.writeFile('/tmp/greet', '#!/bin/sh\necho "hello $1 from $0"\nexit 4\n', { mode: 0o755 });
    expect(await shell(h, '/tmp/greet world')).toEqual({ code: 4, stdout: 'hello world from /tmp/greet\n', stderr: '' });
    expect(await runToEnd(h, request({ path: '/tmp/greet', args: ['top'] }))).toEqual({
      code: 4,
      stdout: 'hello top from /tmp/greet\n',
      stderr: '',
    });
  });

  it('reports a redirection it cannot make and goes on with status 1', async () => {
    expect(await shell(h, 'echo x > /nonexistent/f; echo $?; cat < /nope; echo $?')).toEqual({
      code: 0,
      stdout: '1\n1\n',
      stderr: "sh: can't create /nonexistent/f: nonexistent directory\nsh: can't open /nope: no such file\n",
    });
  });

  it('runs the lines before a syntax error, then exits 2', async () => {
    const r = await shell(h, 'echo first\nif true; then echo x; fi fi\necho never');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('first\n');
    expect(r.stderr).toBe('sh: syntax error: unexpected "fi"\n');
  });

  it('runs a trap on EXIT', async () => {
    expect((await shell(h, "trap 'echo bye' EXIT; echo hi; exit 3")).stdout).toBe('hi\nbye\n');
  });

  it('reads lines with read', async () => {
    h.fs.writeFile('/tmp/in', 'first line\nsecond\n');
    const r = await shell(h, 'read a b < /tmp/in; echo "$b|$a"; { read x; read y; } < /tmp/in; echo $y');
    expect(r.stdout).toBe('line|first\nsecond\n');
  });

  it('keeps the environment and adds PWD and SHLVL, as ash does', async () => {
    const r = await shell(h, 'env', { env: ['COLOR=blue'] });
    expect(r.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        'COLOR=blue',
        'HOME=/root',
        'USER=root',
        'PWD=/root',
        'SHLVL=1',
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      ]),
    );
  });

  it('prints $0 and the positional parameters of sh -c', async () => {
    const r = await runToEnd(h, request({ path: 'sh', args: ['-c', 'echo $0 $1 $#', 'name', 'arg'] }));
    expect(r.stdout).toBe('name arg 1\n');
    expect((await runToEnd(h, request({ path: '/bin/sh', args: ['-c', 'echo $0'] }))).stdout).toBe('/bin/sh\n');
  });

  it('reads commands from stdin when given no script', async () => {
    const { Readable } = await import('node:stream');
    const r = await runToEnd(h, request({ path: 'sh' }), { stdin: Readable.from(['echo from-stdin\n', 'exit 5\n']) });
    expect(r).toEqual({ code: 5, stdout: 'from-stdin\n', stderr: '' });
  });

  it('fails like fork when the pid limit is reached inside the shell', async () => {
    const limited = await makeHarness({ limits: { pid: { max: 2 } } });
    const r = await shell(limited, 'sleep 1 & sleep 1 & echo never');
    expect(r).toEqual({ code: 2, stdout: '', stderr: "sh: can't fork: Resource temporarily unavailable\n" });
    await limited.containerizer.destroy(limited.handle);
  });
});

describe('the fake applets', () => {
  it.each([
    ['pwd', '/root\n'],
    ['id', 'uid=0(root) gid=0(root)\n'],
    ['id nobody', 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n'],
    ['id -u; id -g; id -un; id -gn', '0\n0\nroot\nroot\n'],
    ['whoami', 'root\n'],
    ['hostname', 'HOST\n'],
    ['mkdir -p /tmp/a/b/c && ls /tmp/a/b', 'c\n'],
    ['touch /tmp/b /tmp/a /tmp/C; ls /tmp', 'C\na\nb\n'],
    ['touch /tmp/.hidden; ls -a /tmp', '.\n..\n.hidden\n'],
    ['head -c 5 /dev/zero | wc -c', '5\n'],
    ['head -c 1k /dev/urandom | wc -c', '1024\n'],
    ['printf "line %d\\n" 1 2', 'line 1\nline 2\n'],
    ['printf "%s-%5s|\\n" a b', 'a-    b|\n'],
    ['echo abc > /tmp/f; wc -c /tmp/f; wc /tmp/f', '4 /tmp/f\n        1         1         4 /tmp/f\n'],
    ['x=1; cat <<EOF\na $x \\$x\nEOF\ncat <<"EOF"\nb $x\nEOF', 'a 1 $x\nb $x\n'],
    ['f() { echo fn $1; return 3; }; f x; echo $?', 'fn x\n3\n'],
    ['echo hello | grep -c l; printf "b\\na\\n" | sort; seq 2; echo a:b | cut -d: -f2', '1\na\nb\n1\n2\nb\n'],
    ['yes | head -n 3', 'y\ny\ny\n'],
    ['sleep 0.05; echo slept', 'slept\n'],
    ['ls -l /tmp', 'total 0\n'],
    ['dd if=/dev/zero of=/tmp/z bs=1k count=3 2>/dev/null; wc -c < /tmp/z', '3072\n'],
    ['env -i A=1 env', 'A=1\n'],
    ['busybox echo via-busybox', 'via-busybox\n'],
    ['test -d /tmp && [ -f /etc/passwd ] && [ ! -e /nope ] && echo tests', 'tests\n'],
  ])('%s', async (script, stdout) => {
    expect(await shell(h, script)).toEqual({ code: 0, stdout: stdout.replace('HOST', h.handle), stderr: '' });
  });

  it('shows a symlink in ls -l with its target', async () => {
    const r = await shell(h, 'ln -s /etc/passwd /tmp/l; ls -l /tmp/l');
    expect(r.stdout).toMatch(/^lrwxrwxrwx +1 root +root +11 \w{3} [ \d]\d \d\d:\d\d \/tmp\/l -> \/etc\/passwd\n$/);
  });

  it.each([
    ['cat /nope', "cat: can't open '/nope': No such file or directory\n"],
    ['cat /tmp', 'cat: read error: Is a directory\n'],
    ['ls /nope', 'ls: /nope: No such file or directory\n'],
    ['mkdir /tmp', "mkdir: can't create directory '/tmp': File exists\n"],
    ['mkdir /nope/x', "mkdir: can't create directory '/nope/x': No such file or directory\n"],
    ['sleep abc', "sleep: invalid number 'abc'\n"],
    ['rm /nope', "rm: can't remove '/nope': No such file or directory\n"],
    ['rm /tmp', "rm: '/tmp' is a directory\n"],
    ['stty size', 'stty: standard input: Inappropriate ioctl for device\n'],
    ['head -c 1 /nope', 'head: /nope: No such file or directory\n'],
  ])('fails as busybox does: %s', async (script, stderr) => {
    expect(await shell(h, script)).toEqual({ code: 1, stdout: '', stderr });
  });

  it('shows ls -l with modes, owners, sizes and names', async () => {
    h.fs.writeFile('/tmp/file', 'hello', { mode: 0o640 });
    const r = await shell(h, 'ls -l /tmp');
    expect(r.stdout).toMatch(/^total 4\n-rw-r----- {4}1 root {5}root {13}5 \w{3} [ \d]\d \d\d:\d\d file\n$/);
  });

  it('runs as the user asked for, with their home as the working directory', async () => {
    const r = await shell(h, 'id; pwd; echo $HOME $USER $PATH', { user: 'vcap' });
    expect(r.stdout).toBe('uid=1000(vcap) gid=1000(vcap)\n/home/vcap\n/home/vcap vcap /usr/local/bin:/usr/bin:/bin\n');
    expect((await shell(h, 'id -u; whoami', { user: '65534:65534' })).stdout).toBe('65534\nnobody\n');
  });

  it('makes a missing working directory, owned by the user', async () => {
    const r = await shell(h, 'pwd; ls -ld /srv/app', { user: 'vcap', dir: '/srv/app' });
    expect(r.stdout).toMatch(/^\/srv\/app\ndrwxr-xr-x +2 vcap +vcap /);
  });

  it('denies what Linux denies a non-root user', async () => {
    expect(await shell(h, 'ls /root', { user: 'vcap' })).toEqual({ code: 1, stdout: '', stderr: "ls: can't open '/root': Permission denied\n" });
    expect(await shell(h, 'echo x > /etc/passwd', { user: 'vcap' })).toEqual({
      code: 1,
      stdout: '',
      stderr: "sh: can't create /etc/passwd: Permission denied\n",
    });
    // /tmp is sticky: vcap may not remove root's file there
    h.fs.writeFile('/tmp/roots', 'x', { mode: 0o666 });
    expect((await shell(h, 'rm /tmp/roots', { user: 'vcap' })).stderr).toBe("rm: can't remove '/tmp/roots': Operation not permitted\n");
  });

  it('fails writes beyond the disk byteHard limit with "write error: No space left on device"', async () => {
    const limited = await makeHarness({ limits: { disk: { byteSoft: 0, byteHard: 1000, inodeSoft: 0, inodeHard: 0, scope: 'exclusive' } } });
    const r = await shell(limited, 'head -c 600 /dev/zero > /tmp/a; echo $?; head -c 600 /dev/zero > /tmp/b; echo $?; echo more >> /tmp/b');
    expect(r).toEqual({
      code: 1,
      stdout: '0\n1\n',
      stderr: 'head: write error: No space left on device\nsh: write error: No space left on device\n',
    });
    expect(limited.fs.stat().exclusiveBytesUsed).toBe(1000);
    await limited.containerizer.destroy(limited.handle);
  });
});

describe('the fake sh with signals', () => {
  it('runs a trap after the command in progress, as ash does', async () => {
    const stdout = new Collector();
    const p = await start(h, sh("trap 'echo caught; exit 3' TERM; echo ready; while true; do sleep 0.02; done"), { stdout });
    await eventually(() => expect(stdout.text).toBe('ready\n'));
    await p.signal('SIGTERM');
    expect(await p.wait()).toBe(3);
    expect(stdout.text).toBe('ready\ncaught\n');
  });
});
