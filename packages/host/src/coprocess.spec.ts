// Needs only /bin/sh: scripts stand in for the helpers.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Coprocess, CoprocessExitedError, lineCodec } from './coprocess';
import type { CoprocessCodec } from './coprocess';

// Answers each line with 'ok <line>'; 'die' ends it with a word on stderr, 'slow' answers late.
const LINE_HELPER = `#!/bin/sh
echo $$ >> "$(dirname "$0")/pids"
while read -r cmd rest; do
  case "$cmd" in
    die) echo "dying" >&2; exit 3 ;;
    slow) sleep 0.2; echo "ok slow" ;;
    *) echo "ok $cmd $rest" ;;
  esac
done
`;

/** idCodec frames a request as '<id> <text>' and a reply as '<id> <text>': replies may come in any order. */
const idCodec: CoprocessCodec<string, string> = {
  encode: (text, id) => `${id} ${text}\n`,
  newDecoder() {
    let buffered = '';
    return (chunk) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      return lines.map((line) => {
        const [id, ...rest] = line.split(' ');
        if (!/^\d+$/.test(id ?? '')) throw new Error(`no id in '${line}'`);
        return { id: Number(id), reply: rest.join(' ') };
      });
    };
  },
};

// Reads three requests, then answers them last to first: only ids can match them. With an
// argument it first writes a line no codec reads.
const REVERSING_HELPER = `#!/bin/sh
a=""; while read -r id text; do a="$id $text
$a"; [ "$id" = 3 ] && break; done
[ -n "$1" ] && echo "garbage"
printf '%s' "$a"
exec cat > /dev/null
`;

describe('Coprocess', () => {
  let dir: string;
  const script = async (name: string, text: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text);
    await chmod(path, 0o755);
    return path;
  };
  const pids = async (): Promise<string[]> => (await readFile(join(dir, 'pids'), 'utf8')).trim().split('\n');

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-coprocess-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('frames lines in order and keeps one process for many requests', async () => {
    const coprocess = new Coprocess(await script('helper', LINE_HELPER), lineCodec, { name: 'helper' });
    const replies = await Promise.all([coprocess.request('slow'), coprocess.request('a 1'), coprocess.request('b 2')]);
    expect(replies).toEqual(['ok slow', 'ok a 1', 'ok b 2']);
    expect(await coprocess.request('c')).toBe('ok c ');
    await coprocess.close();
    expect(await pids()).toHaveLength(1);
  });

  it('matches replies to requests by the id the codec reads', async () => {
    const coprocess = new Coprocess(await script('reverse', REVERSING_HELPER), idCodec, { name: 'reverse' });
    const replies = await Promise.all(['one', 'two', 'three'].map((text) => coprocess.request(text)));
    expect(replies).toEqual(['one', 'two', 'three']);
    await coprocess.close();
  });

  it('kills a process that sends a malformed reply and fails what it had in flight', async () => {
    const coprocess = new Coprocess(await script('reverse', REVERSING_HELPER), idCodec, { name: 'reverse', args: ['garbage'] });
    const all = await Promise.allSettled(['one', 'two', 'three'].map((text) => coprocess.request(text)));
    for (const r of all) {
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(CoprocessExitedError);
      expect((r as PromiseRejectedResult).reason.message).toMatch(/malformed reply: no id in 'garbage'/);
    }
  });

  it('fails every pending request with CoprocessExitedError when the process dies, and starts a new one for the next', async () => {
    const coprocess = new Coprocess(await script('helper', LINE_HELPER), lineCodec, { name: 'helper' });
    const pending = [coprocess.request('slow'), coprocess.request('die'), coprocess.request('after')];
    const settled = await Promise.allSettled(pending);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: 'ok slow' });
    for (const r of settled.slice(1)) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason as CoprocessExitedError;
      expect(err).toBeInstanceOf(CoprocessExitedError);
      expect(err).toMatchObject({ kind: 'internal', program: 'helper', startFailed: false, reason: 'exited with 3: dying' });
    }
    expect((settled[2] as PromiseRejectedResult).reason.message).toMatch(/'after' got no answer/);
    expect(await coprocess.request('again')).toBe('ok again ');
    const [firstPid, secondPid] = await pids();
    expect(secondPid).toBeDefined();
    expect(secondPid).not.toBe(firstPid);
    await coprocess.close();
  });

  it('says when the program cannot start at all, with the hint, and nothing was sent', async () => {
    const coprocess = new Coprocess(join(dir, 'missing'), lineCodec, { name: 'helper', missingHint: 'build it with make -C native' });
    const err = await coprocess.request('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoprocessExitedError);
    expect(err).toMatchObject({
      kind: 'failedPrecondition',
      startFailed: true,
      message: expect.stringMatching(/cannot start .*missing.*build it with make -C native.*'x' was not carried out/),
    });
  });

  it('refuses a request the codec cannot encode without starting anything', async () => {
    const coprocess = new Coprocess(await script('helper', LINE_HELPER), lineCodec, { name: 'helper' });
    await expect(coprocess.request('a\nb')).rejects.toThrow(/line break/);
    await expect(readFile(join(dir, 'pids'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('close ends the process after it answered what is in flight; a later request starts another', async () => {
    const coprocess = new Coprocess(await script('helper', LINE_HELPER), lineCodec, { name: 'helper' });
    const slow = coprocess.request('slow');
    await coprocess.close();
    expect(await slow).toBe('ok slow');
    const [pid] = await pids();
    expect(() => process.kill(Number(pid), 0)).toThrow(/ESRCH/);
    expect(await coprocess.request('b')).toBe('ok b ');
    await coprocess.close();
    expect(await pids()).toHaveLength(2);
  });

  it('close kills a process that outlives closeKillAfterMs, failing its requests', async () => {
    const stubborn = await script('stubborn', `#!/bin/sh\nexec sleep 30\n`);
    const coprocess = new Coprocess(stubborn, lineCodec, { name: 'stubborn', closeKillAfterMs: 50 });
    const request = coprocess.request('x').catch((e: unknown) => e);
    await coprocess.close();
    expect(await request).toMatchObject({ reason: 'exited with SIGKILL' });
  });

  it('retires a process after retireAfter requests', async () => {
    const coprocess = new Coprocess(await script('helper', LINE_HELPER), lineCodec, { name: 'helper', retireAfter: 2 });
    for (const word of ['a', 'b', 'c']) expect(await coprocess.request(word)).toBe(`ok ${word} `);
    await coprocess.close();
    expect(await pids()).toHaveLength(2);
  });

  it('lets an exchange say when a silent program is done, with the process to watch', async () => {
    // a program that answers nothing: the exchange decides when its request is done
    const silent = await script('silent', `#!/bin/sh\nexec cat > "$(dirname "$0")/got"\n`);
    const seen: number[] = [];
    const codec: CoprocessCodec<string, number> = {
      encode: (text) => `${text}\n`,
      async exchange(child, bytes) {
        seen.push(child.requestsBefore);
        await child.write(bytes);
        return child.pid;
      },
    };
    const coprocess = new Coprocess(silent, codec, { name: 'silent' });
    const pid = await coprocess.request('one');
    expect(await coprocess.request('two')).toBe(pid);
    expect(seen).toEqual([0, 1]);
    await coprocess.close();
    expect(await readFile(join(dir, 'got'), 'utf8')).toBe('one\ntwo\n');
  });
});
