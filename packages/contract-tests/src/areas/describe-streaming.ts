import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { InvalidArgumentError, InvalidTarError, PermissionDeniedError } from '@arbor/core';
import type { Container } from '@arbor/core';
import { probeScriptFile, steps } from '@arbor/probes';
import type { ContractContext } from '../contract-context';
import { expectRejection } from '../helpers/expect-rejection';
import { probe, probeWith, runToEnd } from '../helpers/run-process';
import { normalName, packTar, readTar, tarStream } from '../helpers/tar';
import type { TarEntry } from '../helpers/tar';

const { appendFile, exit, makeDir, printArgs, readFile, setMode, writeFile } = steps;

/** fileExists says whether root can read a file at path in the container. */
async function fileExists(container: Container, path: string): Promise<boolean> {
  return (await runToEnd(container, probe(readFile(path)))).exitCode === 0;
}

async function cat(container: Container, path: string, user?: string): Promise<string> {
  const result = await runToEnd(container, probeWith(user !== undefined ? { user } : {}, readFile(path)));
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

const sample: TarEntry[] = [
  { name: 'app', type: 'directory' },
  { name: 'app/hello.txt', content: 'hello\n' },
  { name: 'app/sub', type: 'directory' },
  { name: 'app/sub/deep.txt', content: 'deep\n' },
];

export function describeStreaming(ctx: ContractContext): void {
  describe('streamIn and streamOut', () => {
    it('extracts a tar at the path, creating it when missing', async () => {
      const container = await ctx.create();
      await container.streamIn({ path: '/opt/new/place', tar: await tarStream(sample) });
      expect(await cat(container, '/opt/new/place/app/hello.txt')).toBe('hello\n');
      expect(await cat(container, '/opt/new/place/app/sub/deep.txt')).toBe('deep\n');
    });

    it("streams 'a/b' out as entries under 'b/'", async () => {
      const container = await ctx.create();
      await container.streamIn({ path: '/srv', tar: await tarStream(sample) });
      const entries = await readTar(await container.streamOut({ path: '/srv/app' }));
      const files = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.name, e.content.toString()]));
      expect(entries.map((e) => normalName(e.name)).sort()).toEqual(['app', 'app/hello.txt', 'app/sub', 'app/sub/deep.txt']);
      expect(files.get('app/hello.txt')).toBe('hello\n');
      expect(files.get('app/sub/deep.txt')).toBe('deep\n');
    });

    it("streams 'a/b/' out as the directory's contents under './'", async () => {
      const container = await ctx.create();
      await container.streamIn({ path: '/srv', tar: await tarStream(sample) });
      const entries = await readTar(await container.streamOut({ path: '/srv/app/' }));
      const names = entries.map((e) => normalName(e.name)).filter((n) => n !== '.');
      expect(names.sort()).toEqual(['./hello.txt', './sub', './sub/deep.txt']);
    });

    it('streams a single file out as one entry named after it', async () => {
      const container = await ctx.create();
      await container.streamIn({ path: '/srv', tar: await tarStream(sample) });
      const entries = await readTar(await container.streamOut({ path: '/srv/app/hello.txt' }));
      expect(entries.map((e) => [e.name, e.type, e.content.toString()])).toEqual([['hello.txt', 'file', 'hello\n']]);
    });

    it('round-trips binary content byte for byte', async () => {
      const container = await ctx.create();
      const blob = randomBytes(1024 * 1024 + 17);
      const empty = Buffer.alloc(0);
      await container.streamIn({
        path: '/data',
        tar: await tarStream([
          { name: 'blob.bin', content: blob },
          { name: 'empty', content: empty },
        ]),
      });
      const entries = await readTar(await container.streamOut({ path: '/data/' }));
      const byName = new Map(entries.map((e) => [normalName(e.name), e.content]));
      expect(byName.get('./blob.bin')?.equals(blob)).toBe(true);
      expect(byName.get('./empty')?.length).toBe(0);
    });

    it('preserves file modes', async () => {
      const container = await ctx.create();
      await container.streamIn({
        path: '/modes',
        tar: await tarStream([
          { name: 'exec.sh', content: '#!/bin/sh\n', mode: 0o755 },
          { name: 'secret', content: 's', mode: 0o600 },
          { name: 'shared', type: 'directory', mode: 0o775 },
        ]),
      });
      const entries = await readTar(await container.streamOut({ path: '/modes/' }));
      const modes = Object.fromEntries(entries.map((e) => [normalName(e.name), e.mode]));
      expect(modes).toMatchObject({ './exec.sh': 0o755, './secret': 0o600, './shared': 0o775 });
    });

    it('preserves symlinks, which then resolve inside the container', async () => {
      const container = await ctx.create();
      await container.streamIn({
        path: '/links',
        tar: await tarStream([
          { name: 'target.txt', content: 'through the link\n' },
          { name: 'link', type: 'symlink', linkname: 'target.txt' },
        ]),
      });
      expect(await cat(container, '/links/link')).toBe('through the link\n');
      const entries = await readTar(await container.streamOut({ path: '/links/' }));
      const link = entries.find((e) => normalName(e.name) === './link');
      expect(link).toMatchObject({ type: 'symlink', linkname: 'target.txt' });
    });

    it("extracts a relative path in root's home by default", async () => {
      const container = await ctx.create();
      await container.streamIn({ path: 'rel', tar: await tarStream([{ name: 'f.txt', content: 'in root home\n' }]) });
      expect(await cat(container, '/root/rel/f.txt')).toBe('in root home\n');
      const entries = await readTar(await container.streamOut({ path: 'rel/f.txt' }));
      expect(entries.map((e) => e.content.toString())).toEqual(['in root home\n']);
    });

    it("extracts as the given user: a relative path lands in the user's home, owned by the user", async () => {
      const container = await ctx.create();
      await container.streamIn({ path: 'mine', user: 'vcap', tar: await tarStream([{ name: 'f.txt', content: 'vcap file\n' }]) });
      expect(await cat(container, '/home/vcap/mine/f.txt', 'vcap')).toBe('vcap file\n');
      const entries = await readTar(await container.streamOut({ path: '/home/vcap/mine/f.txt' }));
      expect(entries.map((e) => [e.uid, e.gid])).toEqual([[1000, 1000]]);
      // the user can change what it was given
      const append = await runToEnd(container, probeWith({ user: 'vcap' }, appendFile('mine/f.txt', 'more\n')));
      expect(append.exitCode).toBe(0);
    });

    it('refuses a user who cannot write there with PermissionDeniedError, writing nothing', async () => {
      const container = await ctx.create();
      await expectRejection(
        container.streamIn({ path: '/etc/not-for-vcap', user: 'vcap', tar: await tarStream([{ name: 'x.txt', content: 'x' }]) }),
        PermissionDeniedError,
        { kind: 'permissionDenied' },
      );
      expect(await fileExists(container, '/etc/not-for-vcap/x.txt')).toBe(false);
    });

    it('fails a stream-in halfway either writing nothing or saying where it stopped', async () => {
      const container = await ctx.create();
      const setup = probe(makeDir('/srv/in/locked'), setMode('/srv/in', 0o777));
      expect((await runToEnd(container, setup)).exitCode).toBe(0);
      const tar = await tarStream([
        { name: 'first.txt', content: 'first' },
        { name: 'locked/x.txt', content: 'x' },
      ]);
      const err = await expectRejection(container.streamIn({ path: '/srv/in', user: 'vcap', tar }), PermissionDeniedError);
      expect(err.message).toContain('locked/x.txt');
      // written atomically (nothing stays) or not (the message says the entries before it stay)
      if (await fileExists(container, '/srv/in/first.txt')) expect(err.message).toMatch(/entries before it were written/);
      expect(await fileExists(container, '/srv/in/locked/x.txt')).toBe(false);
    });

    it('refuses a truncated tar with InvalidTarError', async () => {
      const container = await ctx.create();
      const whole = await packTar([{ name: 'big.bin', content: randomBytes(8192) }]);
      await expectRejection(container.streamIn({ path: '/trunc', tar: Readable.from([whole.subarray(0, 700)]) }), InvalidTarError, { kind: 'invalidArgument' });
    });

    it("refuses a '../' entry with InvalidTarError, writing nothing", async () => {
      const container = await ctx.create();
      const tar = await tarStream([
        { name: '../../../../../../../../escaped.txt', content: 'out' },
        { name: 'after.txt', content: 'after' },
      ]);
      await expectRejection(container.streamIn({ path: '/root/in', tar }), InvalidTarError);
      expect(await fileExists(container, '/escaped.txt')).toBe(false);
      expect(await fileExists(container, '/root/in/after.txt')).toBe(false);
    });

    it("refuses a '..' entry even when it stays inside the target, as every backend's tar policy does", async () => {
      const container = await ctx.create();
      const tar = await tarStream([
        { name: 'a', type: 'directory' },
        { name: 'a/../inside.txt', content: 'in' },
      ]);
      await expectRejection(container.streamIn({ path: '/root/in', tar }), InvalidTarError);
      expect(await fileExists(container, '/root/in/inside.txt')).toBe(false);
    });

    it('refuses an absolute entry with InvalidTarError, writing nothing', async () => {
      const container = await ctx.create();
      const tar = await tarStream([{ name: '/absolute.txt', content: 'abs' }]);
      await expectRejection(container.streamIn({ path: '/root/in', tar }), InvalidTarError);
      expect(await fileExists(container, '/absolute.txt')).toBe(false);
      expect(await fileExists(container, '/root/in/absolute.txt')).toBe(false);
    });

    it('refuses a write through a symlink that points outside with InvalidTarError, writing nothing', async () => {
      const container = await ctx.create();
      const tar = await tarStream([
        { name: 'escape', type: 'symlink', linkname: '/' },
        { name: 'escape/through-link.txt', content: 'out' },
      ]);
      await expectRejection(container.streamIn({ path: '/root/in', tar }), InvalidTarError);
      expect(await fileExists(container, '/through-link.txt')).toBe(false);
    });

    it('runs a script that was streamed in', async () => {
      const container = await ctx.create();
      const script = probeScriptFile([printArgs('script says '), exit(6)]);
      await container.streamIn({ path: '/usr/local/bin', tar: await tarStream([{ name: 'greet', content: script, mode: 0o755 }]) });
      expect(await runToEnd(container, { path: '/usr/local/bin/greet', args: ['hi'] })).toMatchObject({
        exitCode: 6,
        stdout: 'script says hi\n',
      });
      expect((await runToEnd(container, { path: 'greet', args: ['via PATH'] })).stdout).toBe('script says via PATH\n');
    });

    it('adds to a directory without removing what was there', async () => {
      const container = await ctx.create();
      await container.streamIn({ path: '/merge', tar: await tarStream([{ name: 'one.txt', content: '1' }]) });
      await container.streamIn({ path: '/merge', tar: await tarStream([{ name: 'two.txt', content: '2' }]) });
      expect(await cat(container, '/merge/one.txt')).toBe('1');
      expect(await cat(container, '/merge/two.txt')).toBe('2');
    });

    it('streams out what a process wrote', async () => {
      const container = await ctx.create();
      await runToEnd(container, probe(makeDir('/out'), writeFile('/out/result.txt', 'produced\n')));
      const entries = await readTar(await container.streamOut({ path: '/out/result.txt' }));
      expect(entries.map((e) => e.content.toString())).toEqual(['produced\n']);
    });

    it('refuses to stream out a directory the user cannot wholly read with PermissionDeniedError: a partial tar is never a success', async () => {
      const container = await ctx.create();
      const setup = probe(
        makeDir('/srv/out/secret'),
        writeFile('/srv/out/open.txt', 'open\n'),
        writeFile('/srv/out/secret/s.txt', 'no\n'),
        setMode('/srv/out/secret', 0o700),
      );
      expect((await runToEnd(container, setup)).exitCode).toBe(0);
      await expectRejection(
        container.streamOut({ path: '/srv/out', user: 'vcap' }).then((out) => readTar(out)),
        PermissionDeniedError,
        { kind: 'permissionDenied' },
      );
    });

    it('refuses to stream out a directory holding a file the user cannot read with PermissionDeniedError', async () => {
      const container = await ctx.create();
      const setup = probe(
        makeDir('/srv/out'),
        writeFile('/srv/out/open.txt', 'open\n'),
        writeFile('/srv/out/secret.txt', 'no\n'),
        setMode('/srv/out/secret.txt', 0o600),
      );
      expect((await runToEnd(container, setup)).exitCode).toBe(0);
      await expectRejection(
        container.streamOut({ path: '/srv/out', user: 'vcap' }).then((out) => readTar(out)),
        PermissionDeniedError,
        { kind: 'permissionDenied' },
      );
    });

    it('refuses to stream out a path that does not exist with InvalidArgumentError', async () => {
      const container = await ctx.create();
      await expectRejection(container.streamOut({ path: '/no/such/path' }), InvalidArgumentError);
    });
  });
}
