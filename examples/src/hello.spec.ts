import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { silentLogger } from '@arbor/core';
import { startArbord, type RunningArbord } from '@arbor/server';

// The example is a program users copy: run the built one, as they would, against a real arbord.
describe('examples/hello', () => {
  let dir: string;
  let server: RunningArbord;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-example-'));
    server = await startArbord({ backend: 'fake', listen: `unix://${join(dir, 'arbord.sock')}`, stateDir: dir }, { logger: silentLogger });
  });

  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates, streams in, runs, streams out and destroys', async () => {
    const { stdout } = await promisify(execFile)('node', [join(__dirname, '../dist/hello.js'), server.address]);
    expect(stdout).toMatch(/^created (\S+)\n/);
    expect(stdout).toContain('hello from vcap in /home/vcap\n');
    expect(stdout).toMatch(/process \S+ exited with 0\n/);
    expect(stdout).toContain('streamed out /tmp/greeted: "done\\n"');
    expect(stdout).toMatch(/destroyed \S+\n$/);
    expect(await server.backend.containers()).toEqual([]);
  });
});
