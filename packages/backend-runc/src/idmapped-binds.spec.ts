import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BindMount } from '@arbor/core';
import { HelperError } from '@arbor/host';
import type { HelperRunner } from '@arbor/host';
import { attachIdmappedBinds, detachIdmappedBinds } from './idmapped-binds';

/** recordingHelpers records each helper call; fail makes the calls it matches exit with that code and stderr. */
function recordingHelpers(calls: string[][], fail?: { when: string; exitCode: number; stderr: string }): HelperRunner {
  return {
    run: async (name: string, args: readonly string[]) => {
      calls.push([name, ...args]);
      if (fail && args.includes(fail.when)) throw new HelperError('arbor-mount', fail.exitCode, fail.stderr);
      return '';
    },
  } as unknown as HelperRunner;
}

const RANGE = { hostId: 1_700_000_000, size: 65536 };

describe('attachIdmappedBinds and detachIdmappedBinds', () => {
  let bundle: string;
  beforeEach(async () => {
    bundle = await mkdtemp(join(tmpdir(), 'arbor-idmap-binds-'));
  });
  afterEach(async () => {
    await rm(bundle, { recursive: true, force: true });
  });

  const plain: BindMount = { srcPath: '/srv/conf', dstPath: '/conf', mode: 'ro', origin: 'host' };
  const idmapped: BindMount = { srcPath: '/srv/data', dstPath: '/data', mode: 'rw', origin: 'host', idmap: true };

  it('hands runc an idmapped copy under the bundle for each idmap bind, in order, and the others as they are', async () => {
    const calls: string[][] = [];
    const mounts = await attachIdmappedBinds(recordingHelpers(calls), bundle, [plain, idmapped], RANGE);
    const copy = join(bundle, 'idmap-binds', '1');
    expect(mounts).toEqual([plain, { srcPath: copy, dstPath: '/data', mode: 'rw', origin: 'host' }]);
    expect(calls).toEqual([['arbor-mount', 'idmap-bind', '/srv/data', copy, '1700000000:65536']]);
  });

  it('leaves the mounts alone and calls nothing without a range (a privileged container) or without an idmap bind', async () => {
    const calls: string[][] = [];
    expect(await attachIdmappedBinds(recordingHelpers(calls), bundle, [plain, idmapped], undefined)).toEqual([plain, idmapped]);
    expect(await attachIdmappedBinds(recordingHelpers(calls), bundle, [plain], RANGE)).toEqual([plain]);
    expect(calls).toEqual([]);
    expect(await readdir(bundle)).toEqual([]);
  });

  it("answers a source whose filesystem refuses idmapping (EXIT_UNSUPPORTED) with FAILED_PRECONDITION carrying the helper's words", async () => {
    const helpers = recordingHelpers([], { when: 'idmap-bind', exitCode: 5, stderr: 'arbor-mount: idmap /sys/kernel: Invalid argument\n' });
    await expect(attachIdmappedBinds(helpers, bundle, [{ ...idmapped, srcPath: '/sys/kernel' }], RANGE)).rejects.toMatchObject({
      kind: 'failedPrecondition',
      message: expect.stringContaining('idmap /sys/kernel'),
    });
  });

  it('detaches each copy before it removes it, without recursion, and is a no-op once they are gone', async () => {
    await mkdir(join(bundle, 'idmap-binds', '0'), { recursive: true });
    await writeFile(join(bundle, 'idmap-binds', '1'), '');
    const calls: string[][] = [];
    await detachIdmappedBinds(recordingHelpers(calls), bundle);
    expect(calls).toEqual([
      ['arbor-mount', 'detach', join(bundle, 'idmap-binds', '0')],
      ['arbor-mount', 'detach', join(bundle, 'idmap-binds', '1')],
    ]);
    expect(await readdir(bundle)).toEqual([]);
    await detachIdmappedBinds(recordingHelpers(calls), bundle);
    expect(calls).toHaveLength(2);
  });

  it('keeps a copy it could not detach, and what it holds: a later destroy retries', async () => {
    const copy = join(bundle, 'idmap-binds', '0');
    await mkdir(copy, { recursive: true });
    await writeFile(join(copy, 'host-file'), 'not to be removed');
    await expect(
      detachIdmappedBinds(recordingHelpers([], { when: 'detach', exitCode: 1, stderr: 'arbor-mount: detach: Device or resource busy\n' }), bundle),
    ).rejects.toBeInstanceOf(HelperError);
    // a copy still there that is not a mount (here: a dir with a file) is refused by rmdir, never emptied
    await expect(detachIdmappedBinds(recordingHelpers([]), bundle)).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    expect(await readdir(copy)).toEqual(['host-file']);
  });
});
