import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** makeTempDir makes a fresh dir like /tmp/arbor-depot-XXXXXX (prefix 'arbor-depot-'), under parent (os.tmpdir() by default). */
export function makeTempDir(prefix: string, parent: string = tmpdir()): Promise<string> {
  return mkdtemp(join(parent, prefix));
}

/** removeDir removes dir and everything in it; a dir already gone is fine. */
export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/**
 * useTempDir gives each test of the enclosing block a fresh temp dir (beforeEach) and removes
 * it after (afterEach); call the returned function inside a test for the dir's path:
 *   const dir = useTempDir('arbor-depot-');
 *   it('saves', async () => { await save(dir()); });
 */
export function useTempDir(prefix: string, parent?: string): () => string {
  let dir: string | undefined;
  beforeEach(async () => {
    dir = await makeTempDir(prefix, parent);
  });
  afterEach(async () => {
    if (dir !== undefined) await removeDir(dir);
    dir = undefined;
  });
  return () => {
    if (dir === undefined) throw new Error(`useTempDir('${prefix}'): the dir exists only inside a test`);
    return dir;
  };
}
