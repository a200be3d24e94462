import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useTempDir } from './temp-dir';

describe('useTempDir', () => {
  const dir = useTempDir('arbor-testkit-');
  let first = '';

  it('gives a test a fresh, empty, writable dir', async () => {
    first = dir();
    expect(first).toMatch(/arbor-testkit-/);
    await writeFile(join(first, 'f'), 'x');
  });

  it('removes it after the test and gives the next test another', () => {
    expect(existsSync(first)).toBe(false);
    expect(dir()).not.toBe(first);
  });
});
