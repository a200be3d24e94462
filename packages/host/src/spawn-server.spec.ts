// Needs only /bin/sh: a script stands in for arbor-spawn (the real one is in run-helper.int.spec.ts).
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArborError } from '@arbor/core';
import { CoprocessExitedError } from './coprocess';
import { SpawnServer, encodeRequest } from './spawn-server';

describe('encodeRequest', () => {
  it('gives every argument its own length, so no byte inside one can split it', () => {
    const frame = encodeRequest(7, 30000, ['/bin/echo', 'hé']);
    const u32 = (n: number) => frame.readUInt32LE(4 * n);
    // len id timeout argc, then (len bytes) per argument; 'hé' is 3 bytes of UTF-8
    expect([u32(0), u32(1), u32(2), u32(3), u32(4)]).toEqual([frame.length - 4, 7, 30000, 2, 9]);
    expect(frame.subarray(20, 29).toString()).toBe('/bin/echo');
    expect(frame.readUInt32LE(29)).toBe(3);
    expect(frame.subarray(33).toString()).toBe('hé');
    expect(frame.length).toBe(36);
  });
});

describe('SpawnServer', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-spawn-fake-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses an argument holding a NUL before sending anything, naming the program', async () => {
    // the stand-in records every byte it is sent
    const fake = join(dir, 'recording-spawn');
    await writeFile(fake, `#!/bin/sh\nexec cat > ${dir}/frames\n`);
    await chmod(fake, 0o755);
    const server = new SpawnServer(fake);
    const err = await server.run(['/usr/lib/arbor/arbor-exec', '--env', `X=1\u0000--privileged${'x'.repeat(5000)}`]).catch((e: unknown) => e);
    expect(ArborError.is(err)).toBe(true);
    expect(err).toMatchObject({ kind: 'internal', message: expect.stringMatching(/arbor-exec.*argument 2 .*NUL/) });
    expect((err as Error).message.length).toBeLessThan(300);
    // a good run after it is sent; the stand-in never answers, so closing fails it
    const next = server.run(['/bin/true']).catch((e: unknown) => e);
    await server.close();
    expect(await next).toBeInstanceOf(CoprocessExitedError);
    expect(await readFile(join(dir, 'frames'))).toEqual(encodeRequest(1, 0, ['/bin/true']));
  });
});
