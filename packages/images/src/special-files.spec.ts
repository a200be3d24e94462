import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandSpecialFiles } from './special-files';

describe('CommandSpecialFiles on a host without setfattr', () => {
  const path = process.env.PATH;
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arbor-special-'));
    // an empty PATH: setfattr (and everything else) is missing
    process.env.PATH = join(dir, 'empty');
  });
  afterEach(async () => {
    process.env.PATH = path;
    await rm(dir, { recursive: true, force: true });
  });

  it('says what to install, as a failed precondition rather than an internal error', async () => {
    await expect(new CommandSpecialFiles().opaque(dir)).rejects.toMatchObject({
      kind: 'failedPrecondition',
      message: expect.stringContaining('install the Debian package attr'),
    });
  });
});
