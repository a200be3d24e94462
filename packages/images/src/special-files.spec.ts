import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

describe('CommandSpecialFiles on a host without setfattr', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-special-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says what to install, as a failed precondition rather than an internal error', async () => {
    // a node of its own with an empty PATH (jest's process.env does not reach child_process);
    // the built module, as arbord loads it
    const script = `
      const { CommandSpecialFiles } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'special-files.js'))});
      new CommandSpecialFiles().opaque(${JSON.stringify(dir)}).then(
        () => console.log('{}'),
        (err) => console.log(JSON.stringify({ kind: err.kind, message: err.message })),
      );`;
    const { stdout } = await run(process.execPath, ['-e', script], { env: { PATH: join(dir, 'empty') } });
    expect(JSON.parse(stdout)).toEqual({ kind: 'failedPrecondition', message: expect.stringContaining('install the Debian package attr') });
  });
});
