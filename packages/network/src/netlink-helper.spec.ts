import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { NetlinkError, NetlinkHelper } from './netlink-helper';

// A stand-in for arbor-net speaking its line protocol: 'fail' gets an error, 'die' ends it.
const fakeHelper = `#!/bin/sh
while read -r cmd rest; do
  case "$cmd" in
    fail) echo "err 17 File exists" ;;
    die) echo "dying" >&2; exit 3 ;;
    *) echo ok ;;
  esac
done
`;

describe('NetlinkHelper', () => {
  let dir: string;
  let helper: NetlinkHelper;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'arbt-helper-'));
    const bin = path.join(dir, 'fake-arbor-net');
    await writeFile(bin, fakeHelper);
    await chmod(bin, 0o755);
    helper = new NetlinkHelper(bin);
  });

  afterEach(async () => {
    await helper.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers requests in order, with the errno of a refused one', async () => {
    const results = await Promise.allSettled([helper.request('del', 'a'), helper.request('fail', 'b'), helper.request('del', 'c')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refused = (results[1] as PromiseRejectedResult).reason as NetlinkError;
    expect(refused).toBeInstanceOf(NetlinkError);
    expect(refused.errno).toBe(17);
    expect(refused.message).toContain("'fail b'");
  });

  it('fails the request in flight when the helper dies, with its stderr, and starts again for the next', async () => {
    await expect(helper.request('die')).rejects.toThrow(/exited with 3: dying/);
    await expect(helper.request('del', 'x')).resolves.toBeUndefined();
  });

  it('refuses a request that would break the line protocol', async () => {
    await expect(helper.request('del', 'a b')).rejects.toThrow(/malformed/);
    await expect(helper.request('del', '')).rejects.toThrow(/malformed/);
  });

  it('says how to build the helper when it is missing', async () => {
    const missing = new NetlinkHelper(path.join(dir, 'nope'));
    await expect(missing.request('del', 'x')).rejects.toThrow(/make -C native\/arbor-net/);
  });
});
